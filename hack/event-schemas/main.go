/*
Copyright 2026 The treue authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command event-schemas writes, for every event type treue sends, the JSON
// Schema of its data (from accrualapi.EventData) and an example event in
// CloudEvents' structured JSON form, to docs/events; `make manifests` runs it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/invopop/jsonschema"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
)

func main() {
	dir := flag.String("dir", "docs/events", "where the schemas and examples go")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "event-schemas:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, typ := range accrualapi.EventTypes {
		r := &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true}
		s := r.Reflect(accrualapi.EventData[typ])
		s.ID = jsonschema.ID("https://treue.dev/events/" + typ + ".schema.json")
		s.Title = "The data of " + typ
		if err := write(filepath.Join(dir, typ+".schema.json"), s); err != nil {
			return err
		}
		data, err := json.Marshal(examples[typ])
		if err != nil {
			return err
		}
		subject := exampleSubject
		if s, ok := examples[typ].(accrualapi.SettlementEvent); ok {
			subject = s.Settlement
		}
		e := events.Event{ID: exampleIDs[typ], Source: "/apis/loyalty.treue.dev/v1alpha1/namespaces/stadtbonus/loyaltyprograms/stadtbonus",
			Type: typ, Subject: subject, Time: exampleTime, Data: data}
		body, err := e.Structured()
		if err != nil {
			return err
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, body, "", "  "); err != nil {
			return err
		}
		indented.WriteByte('\n')
		if err := os.WriteFile(filepath.Join(dir, typ+".example.json"), indented.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func write(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// The examples: Anna's life in the StadtBonus network.
const (
	exampleSubject = "anna"
	baecker        = "baeckerei-korn/baeckerei-korn"
	drucker        = "druckerei-blau/druckerei-blau"
	grafik         = "grafikagentur-linie/grafikagentur-linie"
	referral       = "stadtbonus/grafik-empfiehlt-druck"
	code           = "GRAFIK-7KQ2M9XA"
)

var (
	exampleTime = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	pending     = time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	expires     = time.Date(2029, 11, 20, 9, 30, 0, 0, time.UTC)
	paidUntil   = time.Date(2027, 11, 20, 9, 30, 0, 0, time.UTC)
)

func entry(id int64, kind, partner string, points, amount int64) accrualapi.Entry {
	return accrualapi.Entry{ID: id, Kind: kind, Member: exampleSubject, Partner: partner, CreatedAt: exampleTime, Points: points, Amount: amount}
}

var exampleIDs = map[string]string{
	accrualapi.EventMemberEnrolled: "entry-1", accrualapi.EventPointsEarned: "entry-4217", accrualapi.EventPointsRedeemed: "entry-4230",
	accrualapi.EventPointsReturned: "entry-4301", accrualapi.EventPointsAdjusted: "entry-4410", accrualapi.EventPointsExpired: "entry-9120",
	accrualapi.EventPointsExpiring:       "lot-3920-expiring-P7D-1890293400",
	accrualapi.EventBirthdayBonusGranted: "entry-5012", accrualapi.EventMembershipPaid: "entry-4500", accrualapi.EventMembershipLapsed: "entry-8800",
	accrualapi.EventReferralCodeIssued: "entry-4100", accrualapi.EventReferralCodeUsed: "entry-4620-code",
	accrualapi.EventCommissionAccrued: "entry-4620-commission", accrualapi.EventCommissionCancelled: "entry-4700-commission",
	accrualapi.EventCommissionClawedBack: "entry-4800-commission",
	accrualapi.EventTierChanged:          "member-anna-tier-3", accrualapi.EventMembershipExpired: "member-anna-membership-expired-1826703000000000",
	accrualapi.EventCommissionConfirmed: "commission-310-confirmed",
	accrualapi.EventSettlementCompleted: "settlement-stadtbonus/stadtbonus-weekly-2026-w47-completed-baeckerei-korn/baeckerei-korn",
	accrualapi.EventSettlementFailed:    "settlement-stadtbonus/stadtbonus-weekly-2026-w47-failed-7KQ2M9XAB3",
}

var settled = accrualapi.SettlementEvent{Settlement: "stadtbonus/stadtbonus-weekly-2026-w47", Cooperation: "stadtbonus/stadtbonus-weekly",
	Period: "2026-W47", Start: time.Date(2026, 11, 15, 23, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC), Currency: "EUR"}

const zero = "0.00"

func completed() accrualapi.SettlementEvent {
	e := settled
	e.Checksum = "sha256:4f1c2a0e9b7d3c5a8e6f1b2d4c6a8e0f2b4d6f8a0c2e4a6c8e0a2c4e6a8c0e2a"
	e.Statement = &accrualapi.SettlementLine{Partner: baecker, PointsIssued: 4210, PointsRedeemed: 1500, PointsReturned: 30,
		IssuanceAmount: "42.10", RedemptionAmount: "12.00", CommissionsEarned: zero, CommissionsOwed: zero,
		CarriedIn: zero, CarriedOut: zero, Net: "-30.10"}
	return e
}

func failedRun() accrualapi.SettlementEvent {
	e := settled
	e.Reason, e.Message = "MarkFailed", "marking the settled entries: connection reset by peer"
	return e
}

var examples = map[string]any{
	accrualapi.EventSettlementCompleted: completed(),
	accrualapi.EventSettlementFailed:    failedRun(),
	accrualapi.EventMemberEnrolled: accrualapi.EntryEventOf[accrualapi.EnrollResult]{
		Entry: entry(1, accrualapi.KindSignupBonus, "", 50, 0), Result: accrualapi.EnrollResult{EntryID: 1, Created: true, SignupBonus: 50}},
	accrualapi.EventPointsEarned: accrualapi.EntryEventOf[accrualapi.EarnResult]{
		Entry:  entry(4217, accrualapi.KindEarn, baecker, 12, 2480),
		Result: accrualapi.EarnResult{EntryID: 4217, Points: 12, AmountDue: 2480, PendingUntil: pending, ExpiresAt: &expires}},
	accrualapi.EventPointsRedeemed: accrualapi.EntryEventOf[accrualapi.RedeemResult]{
		Entry: entry(4230, accrualapi.KindRedeem, baecker, -500, 500), Result: accrualapi.RedeemResult{EntryID: 4230, Points: 500, Value: 500}},
	accrualapi.EventPointsReturned: accrualapi.EntryEventOf[accrualapi.ReverseResult]{
		Entry: accrualapi.Entry{ID: 4301, Kind: accrualapi.KindReverse, Member: exampleSubject, Partner: baecker, CreatedAt: exampleTime,
			Points: -6, Amount: 1240, RelatedID: 4217},
		Result: accrualapi.ReverseResult{EntryID: 4301, Points: 6, ClawedBack: 6}},
	accrualapi.EventPointsAdjusted: accrualapi.EntryEventOf[accrualapi.AdjustResult]{
		Entry: accrualapi.Entry{ID: 4410, Kind: accrualapi.KindAdjust, Member: exampleSubject, CreatedAt: exampleTime,
			Points: 100, Reason: "Goodwill: card reader fault"},
		Result: accrualapi.AdjustResult{EntryID: 4410, Points: 100}},
	accrualapi.EventPointsExpired: accrualapi.EntryEventOf[accrualapi.ExpiryResult]{
		Entry: entry(9120, accrualapi.KindExpire, "", -12, 0), Result: accrualapi.ExpiryResult{EntryID: 9120, Points: 12}},
	accrualapi.EventPointsExpiring: accrualapi.PointsExpiring{Member: exampleSubject, Partner: baecker, LotID: 3920, Points: 12,
		EarnedAt: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC), ExpiresAt: time.Date(2029, 11, 27, 9, 30, 0, 0, time.UTC), Before: "P7D"},
	accrualapi.EventBirthdayBonusGranted: accrualapi.EntryEventOf[accrualapi.BonusResult]{
		Entry: entry(5012, accrualapi.KindBirthdayBonus, "", 100, 0), Result: accrualapi.BonusResult{EntryID: 5012}},
	accrualapi.EventMembershipPaid: accrualapi.EntryEventOf[accrualapi.MembershipResult]{
		Entry: entry(4500, accrualapi.KindMembershipFee, baecker, 0, 8990), Result: accrualapi.MembershipResult{EntryID: 4500, PaidUntil: paidUntil}},
	accrualapi.EventMembershipLapsed: accrualapi.EntryEventOf[accrualapi.MembershipResult]{
		Entry: entry(8800, accrualapi.KindMembershipEnd, "", 0, 0), Result: accrualapi.MembershipResult{EntryID: 8800, PaidUntil: exampleTime}},
	accrualapi.EventReferralCodeIssued: accrualapi.EntryEventOf[accrualapi.ReferralCode]{
		Entry:  accrualapi.Entry{ID: 4100, Kind: "referral_code", Member: exampleSubject, Partner: grafik, CreatedAt: exampleTime, Reason: code},
		Result: accrualapi.ReferralCode{Code: code, Referral: referral, Owner: exampleSubject, IssuedAt: exampleTime}},
	accrualapi.EventReferralCodeUsed: accrualapi.ReferralCodeUse{Code: code, Referral: referral, Member: exampleSubject,
		Partner: drucker, EarnID: 4620, Discount: 500, At: exampleTime},
	accrualapi.EventCommissionAccrued: accrualapi.CommissionEvent{Commission: accrualapi.Commission{ID: 310, Kind: "accrual", Referral: referral,
		Referrer: grafik, Referee: drucker, Micros: 285_000_000, DueAt: pending, EarnID: 4620}},
	accrualapi.EventCommissionCancelled: accrualapi.CommissionEvent{Commission: accrualapi.Commission{ID: 322, Kind: "cancel", Referral: referral,
		Referrer: grafik, Referee: drucker, Micros: -57_000_000, DueAt: pending, EarnID: 4620}},
	accrualapi.EventCommissionClawedBack: accrualapi.CommissionEvent{Commission: accrualapi.Commission{ID: 350, Kind: "clawback", Referral: referral,
		Referrer: grafik, Referee: drucker, Micros: -57_000_000, DueAt: exampleTime, EarnID: 4620}},
	accrualapi.EventCommissionConfirmed: accrualapi.CommissionEvent{Commission: accrualapi.Commission{ID: 310, Kind: "accrual", Referral: referral,
		Referrer: grafik, Referee: drucker, Micros: 228_000_000, DueAt: pending, EarnID: 4620}},
	accrualapi.EventTierChanged: accrualapi.TierChanged{Member: exampleSubject, From: "Bronze", To: "Silber", Direction: accrualapi.TierUp,
		Reason: accrualapi.TierQualified, Qualifying: 1012, At: exampleTime},
	accrualapi.EventMembershipExpired: accrualapi.MembershipExpired{Member: exampleSubject, PaidUntil: paidUntil},
}

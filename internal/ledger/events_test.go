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

package ledger

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/rules"
	"github.com/treue-dev/treue/internal/testbin"
)

// The outbox's contract (issue 18), on every backend: every write that changes
// the ledger writes its events in its own transaction, a refused or replayed
// write none; deliveries follow the sinks' audiences and each subject's order.

type outboxRow struct {
	id, typ, subject, audience string
	data                       string
}

func (r outboxRow) String() string { return r.typ + "@" + r.subject + "[" + r.audience + "]" }

func outboxRows(t testing.TB, e *env) []outboxRow {
	t.Helper()
	rows, err := e.db.QueryContext(e.ctx, `SELECT event_id, type, subject, audience, data FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		if err := rows.Scan(&r.id, &r.typ, &r.subject, &r.audience, &r.data); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// since returns the rows written after the first n, as type@subject[audience].
func since(rows []outboxRow, n int) []string {
	out := make([]string, 0, len(rows)-n)
	for _, r := range rows[n:] {
		out = append(out, r.String())
	}
	return out
}

func expectEvents(t *testing.T, e *env, before *int, what string, want ...string) []outboxRow {
	t.Helper()
	rows := outboxRows(t, e)
	if got := since(rows, *before); !slices.Equal(got, want) {
		t.Fatalf("%s wrote the events %q, want %q", what, got, want)
	}
	out := rows[*before:]
	*before = len(rows)
	return out
}

// entryData decodes an entry event's data and checks it names the entry.
func entryData[R any](t *testing.T, r outboxRow, entryID int64) (accrualapi.Entry, R) {
	t.Helper()
	var d accrualapi.EntryEvent
	if err := json.Unmarshal([]byte(r.data), &d); err != nil {
		t.Fatalf("the data of %s: %v", r.id, err)
	}
	var res R
	if err := json.Unmarshal(d.Result, &res); err != nil {
		t.Fatalf("the result in %s: %v", r.id, err)
	}
	if d.Entry.ID != entryID || r.id != fmt.Sprintf("entry-%d", entryID) {
		t.Fatalf("event %s is about entry %d, want %d", r.id, d.Entry.ID, entryID)
	}
	return d.Entry, res
}

// Every write that changes the ledger writes its events, in its transaction;
// one that changes nothing, is refused or replays writes none.
func TestEveryWriteWritesItsEventsAndOnlyThose(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Membership = rules.MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
		ref := grafikReferral(t, rules.DiscountConfig{Type: "Percent", Percent: "5", Cap: "50.00"}, rules.GuardsConfig{})
		e := open(t, mustProgram(t, c), map[string]*rules.Referral{ref.ID: ref})
		n := 0
		eventsOfEnrolments(t, e, &n)
		earned := eventsOfAReferredPurchase(t, e, &n, ref.ID)
		eventsOfTillWrites(t, e, &n, earned)
		eventsOfSweeps(t, e, &n, earned)
	})
}

const (
	everyone = accrualapi.AudienceEveryone
	both     = grafik + " " + drucker
)

func eventsOfEnrolments(t *testing.T, e *env, n *int) {
	enroll := EnrollRequest{Meta: Meta{Actor: "admin", Key: "e-anna"}, Member: "anna", Birthday: &rules.Birthday{Month: time.March, Day: 10}}
	enrolled, err := e.Enroll(e.ctx, enroll)
	if err != nil {
		t.Fatal(err)
	}
	rows := expectEvents(t, e, n, "enrolling", "dev.treue.member.enrolled@anna["+everyone+"]")
	_, er := entryData[accrualapi.EnrollResult](t, rows[0], enrolled.EntryID)
	if !er.Created || er.SignupBonus != 50 {
		t.Fatalf("the enrolment's result in its event: %+v", er)
	}
	// The same enrolment again, under a new key: the member exists, nothing
	// happened, no event. The first key again: a replay, no event.
	if _, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "e-anna-2"}, Member: "anna", Birthday: enroll.Birthday}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.Enroll(e.ctx, enroll); err != nil || !r.Replayed {
		t.Fatalf("replaying the enrolment: %+v, %v", r, err)
	}
	expectEvents(t, e, n, "enrolling an enrolled member")
	e.enroll(t, "ben")
	(*n)++
}

func eventsOfAReferredPurchase(t *testing.T, e *env, n *int, referral string) EarnResult {
	code, err := e.IssueCode(e.ctx, IssueCodeRequest{Meta: Meta{Actor: grafik, Key: "c1"}, Referral: referral, Member: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	rows := expectEvents(t, e, n, "issuing a code", "dev.treue.referral.code.issued@anna["+grafik+"]")
	if _, rc := entryData[accrualapi.ReferralCode](t, rows[0], entryIDOf(t, e, grafik, "c1")); rc.Code != code.Code {
		t.Fatalf("the code in its event: %+v", rc)
	}

	// A referred purchase: the till's partner hears of the purchase; the
	// referrer and the referee both of the code's use and the commission.
	buy := EarnRequest{Meta: Meta{Actor: drucker, Key: "p1"}, Member: "ben", Partner: drucker, Amount: 10000, Currency: "EUR", ReferralCode: code.Code}
	earned, err := e.Earn(e.ctx, buy)
	if err != nil {
		t.Fatal(err)
	}
	rows = expectEvents(t, e, n, "a referred purchase", "dev.treue.points.earned@ben["+drucker+"]",
		"dev.treue.referral.code.used@ben["+both+"]", "dev.treue.commission.accrued@ben["+both+"]")
	en, res := entryData[accrualapi.EarnResult](t, rows[0], earned.EntryID)
	if en.Kind != KindEarn || en.Member != "ben" || en.Partner != drucker || en.Amount != 9500 || en.Points != 47 || res.Points != 47 || res.AmountDue != 9500 {
		t.Fatalf("the purchase's event: %+v %+v", en, res)
	}
	var used accrualapi.ReferralCodeUse
	var accrued accrualapi.CommissionEvent
	if json.Unmarshal([]byte(rows[1].data), &used) != nil || used.Code != code.Code || used.Discount != 500 || used.EarnID != earned.EntryID {
		t.Fatalf("the code's use: %s", rows[1].data)
	}
	if json.Unmarshal([]byte(rows[2].data), &accrued) != nil || accrued.Commission.Micros != 285_000_000 || accrued.Commission.ID == 0 ||
		accrued.Commission.Kind != CommissionAccrual || rows[2].id != fmt.Sprintf("entry-%d-commission", earned.EntryID) {
		t.Fatalf("the commission's accrual: %s %s", rows[2].id, rows[2].data)
	}
	if r, err := e.Earn(e.ctx, buy); err != nil || !r.Replayed {
		t.Fatalf("replaying the purchase: %+v, %v", r, err)
	}
	expectEvents(t, e, n, "a replayed purchase")
	return earned
}

func eventsOfTillWrites(t *testing.T, e *env, n *int, earned EarnResult) {
	e.earn(t, "p2", baecker, 10000)
	expectEvents(t, e, n, "a purchase", "dev.treue.points.earned@anna["+baecker+"]")
	if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: baecker, Key: "r0"}, Member: "anna", Partner: baecker, Points: 10_000}); !errors.Is(err, ErrInsufficientPoints) {
		t.Fatalf("redeeming more than anna has: %v", err)
	}
	expectEvents(t, e, n, "a refused redemption")
	if _, err := e.Adjust(e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: "a1"}, Member: "anna", Points: 500, Reason: "goodwill"}); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, e, n, "an adjustment", "dev.treue.points.adjusted@anna[]")
	redeemed, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: baecker, Key: "r1"}, Member: "anna", Partner: baecker, Points: 100})
	if err != nil {
		t.Fatal(err)
	}
	rows := expectEvents(t, e, n, "a redemption", "dev.treue.points.redeemed@anna["+baecker+"]")
	if _, rr := entryData[accrualapi.RedeemResult](t, rows[0], redeemed.EntryID); rr.Points != 100 || rr.Value != 100 {
		t.Fatalf("the redemption's event: %+v", rr)
	}
	if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "ret1"}, Partner: drucker, EarnID: earned.EntryID, Amount: 1900}); err != nil {
		t.Fatal(err)
	}
	rows = expectEvents(t, e, n, "a return in the holding period", "dev.treue.points.returned@ben["+drucker+"]",
		"dev.treue.commission.cancelled@ben["+both+"]")
	var cancelled accrualapi.CommissionEvent
	if json.Unmarshal([]byte(rows[1].data), &cancelled) != nil || cancelled.Commission.Micros != -57_000_000 {
		t.Fatalf("the cancellation: %s", rows[1].data)
	}
	if _, err := e.PayMembershipFee(e.ctx, MembershipFeeRequest{Meta: Meta{Actor: baecker, Key: "f1"}, Member: "anna", Partner: baecker, Amount: 8990}); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, e, n, "a membership fee", "dev.treue.membership.paid@anna["+baecker+"]")
	if _, err := e.LapseMembership(e.ctx, LapseRequest{Meta: Meta{Actor: "admin", Key: "l1"}, Member: "anna"}); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, e, n, "a lapse", "dev.treue.membership.lapsed@anna["+everyone+"]")
}

func eventsOfSweeps(t *testing.T, e *env, n *int, earned EarnResult) {
	// Time-driven writes: a sweep run twice writes each event once.
	e.clock.AdvanceDays(8)
	for range 2 {
		if _, err := e.GrantBirthdayBonuses(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	expectEvents(t, e, n, "the birthday sweep", "dev.treue.birthday.bonus.granted@anna["+everyone+"]")
	// After the holding period a return claws the commission back.
	e.clock.AdvanceDays(7)
	if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "ret2"}, Partner: drucker, EarnID: earned.EntryID, Amount: 1900}); err != nil {
		t.Fatal(err)
	}
	expectEvents(t, e, n, "a return after the holding period", "dev.treue.points.returned@ben["+drucker+"]",
		"dev.treue.commission.clawedback@ben["+both+"]")
	e.clock.AdvanceDays(37 * 31)
	for range 2 {
		if _, err := e.Expire(e.ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// The lots that held points: anna's purchase at the bakery (its partner
	// hears of it), her adjustment and birthday bonus (the program's only; her
	// signup bonus was spent), ben's signup bonus and his purchase less the
	// return.
	got := since(outboxRows(t, e), *n)
	want := []string{"dev.treue.points.expired@anna[" + baecker + "]", "dev.treue.points.expired@anna[]",
		"dev.treue.points.expired@anna[]", "dev.treue.points.expired@ben[]", "dev.treue.points.expired@ben[" + drucker + "]"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the expiry sweep wrote %q, want %q", got, want)
	}
	// Every event id is unique and names its cause; every event's data is what
	// the schema docs/events publishes for its type says, and every type came.
	seen, types := map[string]bool{}, map[string]bool{}
	check := testbin.EventSchemas(t, accrualapi.EventTypes)
	for _, r := range outboxRows(t, e) {
		if seen[r.id] || !strings.HasPrefix(r.id, "entry-") {
			t.Fatalf("event id %q twice or not derived from its entry", r.id)
		}
		seen[r.id], types[r.typ] = true, true
		if err := check(r.typ, []byte(r.data)); err != nil {
			t.Fatalf("event %s: %v\n%s", r.id, err, r.data)
		}
	}
	// Every type a write makes (the sweep's reminders, the reviews' and sweeps'
	// time-driven events and the settlement job's reports have tests of their
	// own).
	for _, typ := range accrualapi.EventTypes {
		if !types[typ] && !slices.Contains([]string{accrualapi.EventPointsExpiring, accrualapi.EventSettlementCompleted,
			accrualapi.EventSettlementFailed, accrualapi.EventTierChanged, accrualapi.EventMembershipExpired,
			accrualapi.EventCommissionConfirmed}, typ) {
			t.Errorf("no %s event was written", typ)
		}
	}
}

func entryIDOf(t testing.TB, e *env, actor, key string) int64 {
	t.Helper()
	var id int64
	if err := e.db.QueryRowContext(e.ctx, e.d.rebind(`SELECT id FROM entries WHERE actor = $1 AND idem_key = $2`), actor, key).Scan(&id); err != nil {
		t.Fatalf("the entry of %s's key %s: %v", actor, key, err)
	}
	return id
}

// A batched run rolled back to its savepoint takes its events with it: every
// write of the run is then made alone, and each has its events once; the
// refused write has none.
func TestARolledBackRunTakesItsEventsWithIt(t *testing.T) {
	for _, backend := range []Backend{SQLite, PostgreSQL} {
		t.Run(string(backend), func(t *testing.T) {
			h := openHeld(t, backend, mustProgram(t, stadtBonusConfig()), true, true)
			enroll := func(m string) func() string {
				return func() string {
					_, err := h.Enroll(h.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "e-" + m}, Member: m})
					return fmt.Sprint(err)
				}
			}
			h.lineUp(t, []func() string{enroll("anna"), enroll("ben")})
			n := len(outboxRows(t, h.env))
			earn := func(key, member string, amount int64) func() string {
				return func() string {
					_, err := h.Earn(h.ctx, EarnRequest{Meta: Meta{Actor: baecker, Key: key}, Member: member, Partner: baecker, Amount: amount, Currency: "EUR"})
					return fmt.Sprint(err)
				}
			}
			redeem := func(key, member string, points int64) func() string {
				return func() string {
					_, err := h.Redeem(h.ctx, RedeemRequest{Meta: Meta{Actor: baecker, Key: key}, Member: member, Partner: baecker, Points: points})
					return fmt.Sprint(err)
				}
			}
			got := h.lineUp(t, []func() string{earn("k1", "anna", 1000), earn("k2", "ben", 2000), redeem("k3", "anna", 10_000),
				earn("k4", "anna", 3000), redeem("k5", "ben", 10)})
			if got[0] != "<nil>" || got[1] != "<nil>" || !strings.Contains(got[2], ErrInsufficientPoints.Error()) || got[3] != "<nil>" || got[4] != "<nil>" {
				t.Fatalf("answers: %q", got)
			}
			if h.batch.fallbacks.Load() == 0 {
				t.Fatal("the batched run was not rolled back: the test proves nothing")
			}
			want := []string{"dev.treue.points.earned@anna[" + baecker + "]", "dev.treue.points.earned@anna[" + baecker + "]",
				"dev.treue.points.earned@ben[" + baecker + "]", "dev.treue.points.redeemed@ben[" + baecker + "]"}
			expectEvents(t, h.env, &n, "the batch", want...)
		})
	}
}

// deliveryRun drives the dispatch side of a ledger by hand.
type deliveryRun struct {
	t     *testing.T
	e     *env
	label map[string]string // event id → type@subject
}

func (d deliveryRun) due(sink string, at time.Time) []Delivery {
	d.t.Helper()
	ds, err := d.e.DueDeliveries(d.e.ctx, sink, at, 100)
	if err != nil {
		d.t.Fatal(err)
	}
	return ds
}

func (d deliveryRun) expect(what string, ds []Delivery, want ...string) {
	d.t.Helper()
	got := make([]string, 0, len(ds))
	for _, dl := range ds {
		got = append(got, d.label[dl.ID])
	}
	if !slices.Equal(got, want) {
		d.t.Fatalf("%s: %q, want %q", what, got, want)
	}
}

func (d deliveryRun) record(sink string, at time.Time, outcomes ...DeliveryOutcome) {
	d.t.Helper()
	if err := d.e.RecordDeliveries(d.e.ctx, sink, at, outcomes); err != nil {
		d.t.Fatal(err)
	}
}

func TestDeliveriesFollowAudiencesAndEachSubjectsOrder(t *testing.T) {
	sinks := []SinkFilter{{Name: "platform"}, {Name: "bakery", Partner: baecker},
		{Name: "printer", Partner: drucker, Types: []string{accrualapi.EventPointsEarned}}}
	for _, backend := range []Backend{SQLite, PostgreSQL} {
		t.Run(string(backend), func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "ledger.db")
			if backend == PostgreSQL {
				dsn = pgtest.ForTest(t, "t")
			}
			e := newEnvWith(t, backend, dsn, mustProgram(t, stadtBonusConfig()), nil, false, sinks)
			e.enroll(t, "anna")
			e.enroll(t, "ben")
			e.earn(t, "k1", baecker, 1000)
			if _, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "k2"}, Member: "ben", Partner: drucker, Amount: 2000, Currency: "EUR"}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Adjust(e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: "a1"}, Member: "anna", Points: 5, Reason: "goodwill"}); err != nil {
				t.Fatal(err)
			}
			e.earn(t, "k3", baecker, 3000)
			d := deliveryRun{t: t, e: e, label: map[string]string{}}
			for _, r := range outboxRows(t, e) {
				d.label[r.id] = strings.TrimPrefix(r.typ, "dev.treue.") + "@" + r.subject
			}
			later := failAndReplay(d)
			deliverAllButOneAndPrune(d, later)
		})
	}
}

// An event no sink takes is not written: a bakery sink for purchases only
// leaves the printer's purchase and every enrolment out of the outbox.
func TestAnEventNoSinkTakesIsNotWritten(t *testing.T) {
	e := newEnvWith(t, SQLite, filepath.Join(t.TempDir(), "ledger.db"), mustProgram(t, stadtBonusConfig()), nil, true,
		[]SinkFilter{{Name: "bakery", Partner: baecker, Types: []string{accrualapi.EventPointsEarned}}})
	e.enroll(t, "anna")
	e.earn(t, "k1", baecker, 1000)
	if _, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "k2"}, Member: "anna", Partner: drucker, Amount: 2000, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	expectEvents(t, e, &n, "a bakery-only sink", "dev.treue.points.earned@anna["+baecker+"]")
}

// failAndReplay fails a delivery, parks it dead and replays it; it returns
// the time it ends at.
func failAndReplay(d deliveryRun) time.Time {
	t, e := d.t, d.e
	now := e.clock.Now()
	// A partner's sink gets what concerns it; the printer only purchases.
	d.expect("the bakery's first deliveries", d.due("bakery", now), "member.enrolled@anna", "member.enrolled@ben")
	d.expect("the printer's", d.due("printer", now), "points.earned@ben")
	first := d.due("platform", now)
	d.expect("the platform's first", first, "member.enrolled@anna", "member.enrolled@ben")
	// Anna's event fails: her later events wait for it; Ben's go on.
	d.record("platform", now, DeliveryOutcome{Row: first[0].Row, Err: "503 from the receiver", NextAt: now.Add(time.Minute)},
		DeliveryOutcome{Row: first[1].Row})
	d.expect("while anna's first event backs off", d.due("platform", now), "points.earned@ben")
	later := now.Add(time.Minute)
	retry := d.due("platform", later)
	d.expect("after the back-off", retry, "member.enrolled@anna", "points.earned@ben")
	if retry[0].Attempts != 1 || !retry[0].FirstFailed.Equal(now) || retry[0].LastError != "503 from the receiver" {
		t.Fatalf("the failed delivery: %+v", retry[0])
	}
	// Parked dead, it no longer holds anna's events back.
	d.record("platform", later, DeliveryOutcome{Row: retry[0].Row, Err: "503 again", Dead: true, NextAt: later})
	d.expect("with anna's first event dead", d.due("platform", later), "points.earned@anna", "points.earned@ben")
	dead, err := e.DeadDeliveries(e.ctx, "platform", 10)
	if err != nil || len(dead) != 1 || dead[0].ID != first[0].ID || dead[0].Attempts != 2 || dead[0].LastError != "503 again" {
		t.Fatalf("dead deliveries: %+v, %v", dead, err)
	}
	stats, err := e.DeliveryStats(e.ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if s := stats["platform"]; s.Delivered != 1 || s.Dead != 1 || s.Pending != 4 || s.LastError != "503 again" || s.OldestPending.IsZero() {
		t.Fatalf("the platform sink's figures: %+v", s)
	}
	if s := stats["printer"]; s.Pending != 1 || s.Delivered != 0 || s.Dead != 0 {
		t.Fatalf("the printer sink's figures: %+v", s)
	}
	// Replayed, the dead event is due again, and first in anna's order.
	if n, err := e.ReplayDead(e.ctx, "platform", []string{first[0].ID}, later); err != nil || n != 1 {
		t.Fatalf("replaying: %d, %v", n, err)
	}
	d.expect("after the replay", d.due("platform", later), "member.enrolled@anna", "points.earned@ben")
	if n, err := e.ReplayDead(e.ctx, "platform", nil, later); err != nil || n != 0 {
		t.Fatalf("replaying again: %d, %v", n, err)
	}
	return later
}

// deliverAllButOneAndPrune delivers every event but the bakery's last, then
// prunes: only that event stays.
func deliverAllButOneAndPrune(d deliveryRun, later time.Time) {
	t, e := d.t, d.e
	all := outboxRows(t, e)
	last, skipped := all[len(all)-1].id, false
	for _, sink := range []string{"platform", "bakery", "printer"} {
		for {
			ds := d.due(sink, later)
			var outs []DeliveryOutcome
			for _, dl := range ds {
				if sink == "bakery" && dl.ID == last {
					skipped = true
					continue
				}
				outs = append(outs, DeliveryOutcome{Row: dl.Row})
			}
			if len(outs) == 0 {
				break
			}
			d.record(sink, later, outs...)
		}
	}
	if !skipped {
		t.Fatal("the bakery's last event was never due")
	}
	e.clock.AdvanceDays(1)
	if n, err := e.PruneEvents(e.ctx, e.clock.Now()); err != nil || n != 5 {
		t.Fatalf("pruning: %d events, %v; want 5", n, err)
	}
	rows := outboxRows(t, e)
	if len(rows) != 1 || rows[0].id != last {
		t.Fatalf("after pruning the outbox holds %v, want only %s", rows, last)
	}
}

// On PostgreSQL one replica dispatches: a second is refused the lock until the
// first lets go, or its connection dies.
func TestOneReplicaDispatches(t *testing.T) {
	e := openPostgres(t, mustProgram(t, stadtBonusConfig()), nil, false)
	other, err := Open(e.ctx, Options{Backend: PostgreSQL, DSN: e.dsn, Program: mustProgram(t, stadtBonusConfig())})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Close() }()
	first, err := e.TryLockDispatch(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.TryLockDispatch(e.ctx); !errors.Is(err, ErrDispatchTaken) {
		t.Fatalf("a second replica took the lock: %v", err)
	}
	first.Release()
	second, err := other.TryLockDispatch(e.ctx)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// The holder's connection dies (a killed pod): the lock goes with it. The
	// termination is waited for (up to 10 s), so the lock is free after it.
	var killed int
	if err := e.db.QueryRowContext(e.ctx, `SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND objid = hashtext(current_schema())::oid AND granted`, dispatchLockKey).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminating the holder: %d, %v", killed, err)
	}
	if second.Held(e.ctx) {
		t.Fatal("the lock is still held on a terminated connection")
	}
	third, err := e.TryLockDispatch(e.ctx)
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	third.Release()
}

// A settlement's report: each partner's completion reaches only that
// partner's audience, with its own line; a repeat writes nothing; a failure is
// one event per run that every partner of the run hears of.
func TestASettlementReportWritesEachPartnersLine(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		o := accrualapi.SettlementOutcome{Settlement: "stadtbonus/weekly-2026-w47", Cooperation: "stadtbonus/weekly", Run: "r1",
			Period: "2026-W47", Currency: "EUR", Partners: []string{baecker, drucker}, Completed: true, Checksum: "sha256:00",
			Statements: []accrualapi.SettlementLine{{Partner: baecker, Net: "-1.00"}, {Partner: drucker, Net: "1.00"}}}
		for i, want := range []int{2, 0} {
			if n, err := e.RecordSettlementOutcome(e.ctx, o); err != nil || n != want {
				t.Fatalf("report %d: %d events, %v; want %d", i, n, err, want)
			}
		}
		failed := o
		failed.Completed, failed.Statements, failed.Reason, failed.Run = false, nil, "MarkFailed", "r2"
		if n, err := e.RecordSettlementOutcome(e.ctx, failed); err != nil || n != 1 {
			t.Fatalf("the failure: %d events, %v", n, err)
		}
		n := 0
		rows := expectEvents(t, e, &n, "the reports", "dev.treue.settlement.completed@stadtbonus/weekly-2026-w47["+baecker+"]",
			"dev.treue.settlement.completed@stadtbonus/weekly-2026-w47["+drucker+"]",
			"dev.treue.settlement.failed@stadtbonus/weekly-2026-w47["+baecker+" "+drucker+"]")
		check := testbin.EventSchemas(t, accrualapi.EventTypes)
		for i, r := range rows {
			var d accrualapi.SettlementEvent
			if err := json.Unmarshal([]byte(r.data), &d); err != nil {
				t.Fatal(err)
			}
			if err := check(r.typ, []byte(r.data)); err != nil {
				t.Fatal(err)
			}
			if i < 2 && (d.Statement == nil || d.Statement.Partner != []string{baecker, drucker}[i]) {
				t.Fatalf("completion %d carries %+v", i, d.Statement)
			}
		}
	})
}

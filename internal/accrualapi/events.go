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

package accrualapi

import (
	"encoding/json"
	"strings"
	"time"
)

// The events the service sends out (issue 18), as CloudEvents 1.0. Their types
// are reverse-DNS names under dev.treue.; their data are the wire types below,
// built from the API's own (Entry, Commission, ReferralCode). The README lists
// every type with an example, and testdata/events/ holds a JSON Schema per data.
const (
	EventMemberEnrolled       = "dev.treue.member.enrolled"
	EventPointsEarned         = "dev.treue.points.earned"
	EventPointsRedeemed       = "dev.treue.points.redeemed"
	EventPointsReturned       = "dev.treue.points.returned"
	EventPointsAdjusted       = "dev.treue.points.adjusted"
	EventPointsExpired        = "dev.treue.points.expired"
	EventPointsExpiring       = "dev.treue.points.expiring"
	EventTierChanged          = "dev.treue.tier.changed"
	EventBirthdayBonusGranted = "dev.treue.birthday.bonus.granted"
	EventMembershipPaid       = "dev.treue.membership.paid"
	EventMembershipLapsed     = "dev.treue.membership.lapsed"
	EventMembershipExpired    = "dev.treue.membership.expired"
	EventReferralCodeIssued   = "dev.treue.referral.code.issued"
	EventReferralCodeUsed     = "dev.treue.referral.code.used"
	EventCommissionAccrued    = "dev.treue.commission.accrued"
	EventCommissionConfirmed  = "dev.treue.commission.confirmed"
	EventCommissionCancelled  = "dev.treue.commission.cancelled"
	EventCommissionClawedBack = "dev.treue.commission.clawedback"
	EventSettlementCompleted  = "dev.treue.settlement.completed"
	EventSettlementFailed     = "dev.treue.settlement.failed"
)

// EventTypes are the types the service emits, in the order the README lists them.
var EventTypes = []string{
	EventMemberEnrolled, EventPointsEarned, EventPointsRedeemed, EventPointsReturned, EventPointsAdjusted,
	EventPointsExpired, EventPointsExpiring, EventTierChanged, EventBirthdayBonusGranted,
	EventMembershipPaid, EventMembershipLapsed, EventMembershipExpired,
	EventReferralCodeIssued, EventReferralCodeUsed,
	EventCommissionAccrued, EventCommissionConfirmed, EventCommissionCancelled, EventCommissionClawedBack,
	EventSettlementCompleted, EventSettlementFailed,
}

// EntryEvent is the data of an event about one journal entry: the entry as a
// member's history shows it, and the answer the write that made it got (an
// EarnResult for points earned, a RedeemResult for points redeemed, ...), so
// that a receiver learns what the till learnt.
type EntryEvent struct {
	Entry  Entry           `json:"entry"`
	Result json.RawMessage `json:"result"`
}

// EntryEventOf is EntryEvent with the result's type: what the JSON Schema of
// each type's data describes (EventData).
type EntryEventOf[R any] struct {
	Entry  Entry `json:"entry"`
	Result R     `json:"result"`
}

// ExpiryResult is what a lot's expiry wrote: the points that expired.
type ExpiryResult struct {
	EntryID int64 `json:"entryId"`
	Points  int64 `json:"points"`
}

// BonusResult is what a birthday bonus wrote; its points are the entry's.
type BonusResult struct {
	EntryID int64 `json:"entryId"`
}

// EventData is, for every type, a value of its data's Go type: the JSON
// Schemas in docs/events are generated from them (make manifests).
var EventData = map[string]any{
	EventMemberEnrolled:       EntryEventOf[EnrollResult]{},
	EventPointsEarned:         EntryEventOf[EarnResult]{},
	EventPointsRedeemed:       EntryEventOf[RedeemResult]{},
	EventPointsReturned:       EntryEventOf[ReverseResult]{},
	EventPointsAdjusted:       EntryEventOf[AdjustResult]{},
	EventPointsExpired:        EntryEventOf[ExpiryResult]{},
	EventPointsExpiring:       PointsExpiring{},
	EventTierChanged:          TierChanged{},
	EventBirthdayBonusGranted: EntryEventOf[BonusResult]{},
	EventMembershipPaid:       EntryEventOf[MembershipResult]{},
	EventMembershipLapsed:     EntryEventOf[MembershipResult]{},
	EventMembershipExpired:    MembershipExpired{},
	EventReferralCodeIssued:   EntryEventOf[ReferralCode]{},
	EventReferralCodeUsed:     ReferralCodeUse{},
	EventCommissionAccrued:    CommissionEvent{},
	EventCommissionConfirmed:  CommissionEvent{},
	EventCommissionCancelled:  CommissionEvent{},
	EventCommissionClawedBack: CommissionEvent{},
	EventSettlementCompleted:  SettlementEvent{},
	EventSettlementFailed:     SettlementEvent{},
}

// SettlementOutcome is what the settlement job reports after a run that
// completed or failed (POST /v1/settlement/events): the service writes its
// events, each partner's with its own statement line only.
type SettlementOutcome struct {
	// Settlement is the Settlement's "namespace/name"; Cooperation the
	// PartnerCooperation's.
	Settlement  string `json:"settlement"`
	Cooperation string `json:"cooperation"`
	// Run identifies the job's run: a failure is an event per run.
	Run    string    `json:"run"`
	Period string    `json:"period"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// Completed, or failed with Reason and Message.
	Completed bool   `json:"completed"`
	Reason    string `json:"reason,omitempty"`
	Message   string `json:"message,omitempty"`
	Checksum  string `json:"checksum,omitempty"`
	Currency  string `json:"currency"`
	// Partners are the partners of the run: each hears of a failure.
	Partners []string `json:"partners"`
	// Statements are the completed run's lines, one per partner.
	Statements []SettlementLine `json:"statements,omitempty"`
}

// SettlementLine is one partner's statement, amounts as exact decimals in the
// currency's major unit (positive: owed to the partner).
type SettlementLine struct {
	Partner           string `json:"partner"`
	PointsIssued      int64  `json:"pointsIssued"`
	PointsRedeemed    int64  `json:"pointsRedeemed"`
	PointsReturned    int64  `json:"pointsReturned"`
	IssuanceAmount    string `json:"issuanceAmount"`
	RedemptionAmount  string `json:"redemptionAmount"`
	CommissionsEarned string `json:"commissionsEarned"`
	CommissionsOwed   string `json:"commissionsOwed"`
	CarriedIn         string `json:"carriedIn"`
	CarriedOut        string `json:"carriedOut"`
	Net               string `json:"net"`
}

// SettlementEvent is the data of a settlement's event: the run, and for a
// completed one the receiving partner's own line (a program's sinks get one
// event per partner).
type SettlementEvent struct {
	Settlement  string          `json:"settlement"`
	Cooperation string          `json:"cooperation"`
	Period      string          `json:"period"`
	Start       time.Time       `json:"start"`
	End         time.Time       `json:"end"`
	Reason      string          `json:"reason,omitempty"`
	Message     string          `json:"message,omitempty"`
	Checksum    string          `json:"checksum,omitempty"`
	Currency    string          `json:"currency"`
	Statement   *SettlementLine `json:"statement,omitempty"`
}

// SettlementEventsResult counts the events a report wrote (0 for a repeat).
type SettlementEventsResult struct {
	Events int `json:"events"`
}

// PointsExpiring is the data of an expiry reminder: a lot of a member's that
// still holds points expires within Before (an ISO 8601 duration the program
// declares, such as "P7D").
type PointsExpiring struct {
	Member string `json:"member"`
	// Partner issued the lot; empty for a bonus.
	Partner   string    `json:"partner,omitempty"`
	LotID     int64     `json:"lotId"`
	Points    int64     `json:"points"`
	EarnedAt  time.Time `json:"earnedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Before    string    `json:"before"`
}

// ReferralCodeUse is the data of a referral code used on a purchase.
type ReferralCodeUse struct {
	Code     string `json:"code"`
	Referral string `json:"referral"`
	// Member is the referred customer who used the code; Partner the till.
	Member  string `json:"member"`
	Partner string `json:"partner"`
	EarnID  int64  `json:"earnId"`
	// Discount is what the code took off the purchase, in minor units.
	Discount int64     `json:"discount"`
	At       time.Time `json:"at"`
}

// CommissionEvent is the data of a commission's accrual, cancellation or
// clawback: the commission as the commissions route lists it.
type CommissionEvent struct {
	Commission Commission `json:"commission"`
}

// Audience says which partners' sinks an event reaches; a program's sinks reach
// every event. Everyone marks an event about a member, not a purchase (her
// enrolment, birthday bonus, membership), which any partner could read from
// her balance and tier anyway.
const AudienceEveryone = "*"

// Audience is the partners an event concerns, as stored with it: "" for the
// program's sinks only, "*" for every partner, else partner ids separated by
// spaces.
func Audience(partners ...string) string { return strings.Join(partners, " ") }

// Reaches says whether an event of audience reaches a sink of partner (a
// partner id), or a program sink (partner "").
func Reaches(audience, partner string) bool {
	if partner == "" || audience == AudienceEveryone {
		return true
	}
	for p := range strings.FieldsSeq(audience) {
		if p == partner {
			return true
		}
	}
	return false
}

// SinksStatus is where every sink's deliveries stand (GET /v1/events/sinks),
// which the operator copies to the program's and the partners' status.
type SinksStatus struct {
	Sinks []SinkStatus `json:"sinks"`
	At    time.Time    `json:"at"`
}

// SinkStatus is one sink's figures.
type SinkStatus struct {
	Name    string `json:"name"`
	Partner string `json:"partner,omitempty"`
	// Delivered counts every delivery made.
	Delivered int64 `json:"delivered"`
	Pending   int64 `json:"pending"`
	Dead      int64 `json:"dead"`
	// OldestPending is when the oldest pending event was written.
	OldestPending *time.Time `json:"oldestPending,omitempty"`
	// FailingSince is when the oldest pending event's first attempt failed.
	FailingSince *time.Time `json:"failingSince,omitempty"`
	LastError    string     `json:"lastError,omitempty"`
	// DeadAfter is the sink's bound, a Go duration.
	DeadAfter string `json:"deadAfter"`
}

// DeadEvent is an event a sink did not take for longer than its bound.
type DeadEvent struct {
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Subject     string    `json:"subject"`
	Time        time.Time `json:"time"`
	Attempts    int       `json:"attempts"`
	FirstFailed time.Time `json:"firstFailed"`
	LastError   string    `json:"lastError"`
}

// DeadEventsPage lists a sink's dead events, oldest first.
type DeadEventsPage struct {
	Events []DeadEvent `json:"events"`
}

// ReplayRequest sends a sink's dead events again: those named, or all.
type ReplayRequest struct {
	EventIDs []string `json:"eventIds,omitempty"`
}

// ReplayResult counts the events put back.
type ReplayResult struct {
	Replayed int64 `json:"replayed"`
}

// MaxReplay is the most event ids one replay names.
const MaxReplay = 1000

// TierChanged is the data of a member's change of tier, up or down. Tiers are
// computed from activity, so a change is noticed by the service's review of the
// member: within seconds of the write that caused it (a purchase, a return, a
// fee), at the instant a window, grace period or fee ran out otherwise.
type TierChanged struct {
	Member string `json:"member"`
	// From and To are the levels' names; absent for no tier.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Direction is Up or Down.
	Direction string `json:"direction"`
	// Reason is Qualified (activity reached the level) or MembershipPaid (a
	// fee pins it) for Up; Returned (a return took the activity back),
	// MembershipLapsed (the fee that pinned it ran out or was ended) or
	// WindowEnded (the activity that held it left the qualification window, its
	// grace period ended, or a review lowered it) for Down.
	Reason string `json:"reason"`
	// Qualifying is the activity in the current window (points or minor units,
	// as the program's tier basis); Pinned says a paid membership holds To.
	Qualifying int64     `json:"qualifying"`
	Pinned     bool      `json:"pinned,omitempty"`
	At         time.Time `json:"at"`
}

// Tier change directions and reasons (TierChanged).
const (
	TierUp               = "Up"
	TierDown             = "Down"
	TierQualified        = "Qualified"
	TierMembershipPaid   = "MembershipPaid"
	TierReturned         = "Returned"
	TierMembershipLapsed = "MembershipLapsed"
	TierWindowEnded      = "WindowEnded"
)

// MembershipExpired is the data of a paid membership that ran out: its paid
// period ended without a renewal (an admin's lapse is membership.lapsed).
type MembershipExpired struct {
	Member    string    `json:"member"`
	PaidUntil time.Time `json:"paidUntil"`
}

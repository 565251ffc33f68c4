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

import "time"

// The bodies of the /v1 routes. Amounts are integers in minor units of the
// program's currency (cents), points are integers; every write carries an
// Idempotency-Key header. The JSON names are the API: renaming one is a breaking
// change of the API and, for write results, of every stored replay (see
// idempotency.go).

// EnrollRequest is the body of POST /v1/members.
type EnrollRequest struct {
	Member string `json:"member"`
	// Birthday is "MM-DD".
	Birthday string `json:"birthday,omitempty"`
}

// EnrollResult answers POST /v1/members.
type EnrollResult struct {
	EntryID     int64 `json:"entryId"`
	Created     bool  `json:"created"`
	SignupBonus int64 `json:"signupBonus"`
}

// Line is one line of a purchase.
type Line struct {
	Amount   int64  `json:"amount"`
	Category string `json:"category,omitempty"`
}

// EarnRequest is the body of POST /v1/earn: a purchase at the calling partner.
type EarnRequest struct {
	Member       string `json:"member"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	Lines        []Line `json:"lines,omitempty"`
	ReferralCode string `json:"referralCode,omitempty"`
}

// EarnResult answers POST /v1/earn.
type EarnResult struct {
	EntryID int64 `json:"entryId"`
	Points  int64 `json:"points"`
	// Discount is what the member does not pay, in minor units: her tier's
	// discount and then a referral code's. AmountDue = amount - Discount is what
	// she pays, and what points and a commission are earned on.
	Discount  int64 `json:"discount"`
	AmountDue int64 `json:"amountDue"`
	// TierDiscount is the part of Discount her tier gave (a percentage of the
	// amount, rounded half up); the rest is the referral code's. Absent when 0.
	TierDiscount int64      `json:"tierDiscount,omitempty"`
	Capped       string     `json:"capped,omitempty"`
	PendingUntil time.Time  `json:"pendingUntil"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	// CommissionMicros is the referral commission this purchase accrued.
	CommissionMicros int64 `json:"commissionMicros,omitempty"`
}

// RedeemRequest is the body of POST /v1/redeem: points spent at the calling
// partner.
type RedeemRequest struct {
	Member string `json:"member"`
	Points int64  `json:"points"`
}

// RedeemResult answers POST /v1/redeem.
type RedeemResult struct {
	EntryID int64 `json:"entryId"`
	Points  int64 `json:"points"`
	// Value of the points in minor units, rounded down.
	Value int64 `json:"value"`
}

// ReverseRequest is the body of POST /v1/reverse: a return of all or part of a
// purchase the calling partner reported.
type ReverseRequest struct {
	EarnID int64 `json:"earnId"`
	Amount int64 `json:"amount"`
}

// ReverseResult answers POST /v1/reverse.
type ReverseResult struct {
	EntryID int64 `json:"entryId"`
	// Points is what the return takes back: ClawedBack from the member's lots,
	// and the Shortfall the member did not have any more (she spent them). The
	// program's negativeBalance says what becomes of a shortfall, and the answer
	// says which: Owed (Allow: her balance goes below zero and later earnings
	// repay it) or WrittenOff (Forbid: the program bears it; her balance stays
	// at zero). Shortfall = Owed + WrittenOff; one of them is 0.
	Points     int64 `json:"points"`
	ClawedBack int64 `json:"clawedBack"`
	Shortfall  int64 `json:"shortfall"`
	Owed       int64 `json:"owed,omitempty"`
	WrittenOff int64 `json:"writtenOff,omitempty"`
	// CommissionMicros is the commission cancelled or clawed back (negative).
	CommissionMicros int64 `json:"commissionMicros,omitempty"`
}

// AdjustRequest is the body of POST /v1/adjust (admin).
type AdjustRequest struct {
	Member string `json:"member"`
	Points int64  `json:"points"`
	Reason string `json:"reason"`
}

// AdjustResult answers POST /v1/adjust.
type AdjustResult struct {
	EntryID int64 `json:"entryId"`
	Points  int64 `json:"points"`
}

// IssueCodeRequest is the body of POST /v1/referral-codes: a code of a referral
// agreement whose referrer is the calling partner, for one of its customers.
type IssueCodeRequest struct {
	Referral string `json:"referral"`
	Member   string `json:"member"`
}

// ReferralCode answers POST /v1/referral-codes and GET /v1/referral-codes/{code}.
type ReferralCode struct {
	Code     string    `json:"code"`
	Referral string    `json:"referral"`
	Owner    string    `json:"owner"`
	IssuedAt time.Time `json:"issuedAt"`
	Uses     int64     `json:"uses"`
}

// Member answers GET /v1/members/{member}: a member's balance and tier.
type Member struct {
	Member  string  `json:"member"`
	Balance Balance `json:"balance"`
	Tier    Tier    `json:"tier"`
	// Membership is present in a program whose membership is Paid.
	Membership *Membership `json:"membership,omitempty"`
}

// Balance is a member's points at a time.
type Balance struct {
	// Available points can be spent now; Pending ones after their return window.
	Available int64 `json:"available"`
	Pending   int64 `json:"pending"`
	// Expiring is the part of Available and Pending that expires before ExpiringBy.
	Expiring   int64     `json:"expiring"`
	ExpiringBy time.Time `json:"expiringBy"`
}

// Tier is a member's tier and the way to the next one.
type Tier struct {
	Name string `json:"name,omitempty"`
	// Discount is the percentage the level takes off a purchase at every partner
	// (an exact decimal, "5" for 5 %), which the till shows before the member
	// pays; the earn answer carries it in minor units. Absent for none.
	Discount   string `json:"discount,omitempty"`
	Qualifying int64  `json:"qualifying"`
	Next       string `json:"next,omitempty"`
	ToNext     int64  `json:"toNext"`
	Pinned     bool   `json:"pinned"`
}

// MembershipFeeRequest is the body of POST /v1/memberships: a member pays the
// program's membership fee at the calling partner's till.
type MembershipFeeRequest struct {
	Member   string `json:"member"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// LapseRequest is the body of POST /v1/memberships/lapse (admin): the paid
// membership ends now; with refund, the fee of the current period is refunded
// against the partner that sold it.
type LapseRequest struct {
	Member string `json:"member"`
	Refund bool   `json:"refund,omitempty"`
}

// MembershipResult answers both membership routes.
type MembershipResult struct {
	EntryID   int64     `json:"entryId"`
	PaidUntil time.Time `json:"paidUntil"`
	// Refunded is the fee refunded, in minor units (lapse with refund only).
	Refunded int64 `json:"refunded,omitempty"`
}

// Membership is a member's paid membership, in the member response of a
// program whose membership is Paid.
type Membership struct {
	// Active says the fee is paid for now; PaidUntil is when the paid period
	// ends (or ended; absent if she never paid).
	Active    bool       `json:"active"`
	PaidUntil *time.Time `json:"paidUntil,omitempty"`
}

// Entry kinds, as entries pages name them.
const (
	KindSignupBonus   = "signup_bonus"
	KindBirthdayBonus = "birthday_bonus"
	KindEarn          = "earn"
	KindRedeem        = "redeem"
	KindReverse       = "reverse"
	KindAdjust        = "adjust"
	KindExpire        = "expire"
	KindMembershipFee = "membership_fee"
	KindMembershipEnd = "membership_lapse"
)

// Entry is one journal entry: a line of a member's history, or of a partner's
// settlement export.
type Entry struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Member    string    `json:"member"`
	Partner   string    `json:"partner,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Points is the change to the member's points (negative for debits).
	Points int64 `json:"points"`
	// Amount in minor units: purchase paid, redemption value, amount returned, fee.
	Amount     int64  `json:"amount"`
	RelatedID  int64  `json:"relatedId,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Settlement string `json:"settlement,omitempty"`
	// TierDiscount is, on a purchase, what the member's tier took off the amount
	// (the partner granted it); Amount is what she paid after it.
	TierDiscount int64 `json:"tierDiscount,omitempty"`
}

// HistoryPage answers GET /v1/members/{member}/history, newest first; Next is
// the "before" of the next page, 0 on the last.
type HistoryPage struct {
	Entries []Entry `json:"entries"`
	Next    int64   `json:"next"`
}

// EntriesPage answers GET /v1/settlement/entries, in id order; Next is the
// "after" of the next page, 0 on the last.
type EntriesPage struct {
	Entries []Entry `json:"entries"`
	Next    int64   `json:"next"`
}

// Commission is one line of a referral commission as settlement sees it: an
// accrual, the cancel of one inside the holding period (due with it, so that the
// two net out), or a clawback after it (due when written).
type Commission struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	Referral   string    `json:"referral"`
	Referrer   string    `json:"referrer"`
	Referee    string    `json:"referee"`
	Micros     int64     `json:"micros"`
	DueAt      time.Time `json:"dueAt"`
	EarnID     int64     `json:"earnId"`
	Settlement string    `json:"settlement,omitempty"`
}

// CommissionsPage answers GET /v1/settlement/commissions, in id order.
type CommissionsPage struct {
	Commissions []Commission `json:"commissions"`
	Next        int64        `json:"next"`
}

// MarkRequest is the body of POST /v1/settlement/mark: 1 to MaxMark entries
// that a settlement settled.
type MarkRequest struct {
	Settlement string  `json:"settlement"`
	EntryIDs   []int64 `json:"entryIds"`
}

// MarkCommissionsRequest is the body of POST /v1/settlement/commissions/mark.
type MarkCommissionsRequest struct {
	Settlement    string  `json:"settlement"`
	CommissionIDs []int64 `json:"commissionIds"`
}

// The bounds of one write. Points and money are int64 (points, minor units); these
// bounds keep every sum the ledger, the settlement and the operator compute far
// from int64's limits: a balance, a partner's period or the program's totals would
// need more than nine billion writes at the bound to reach them (and each of those
// sums is checked: it fails, it never wraps). A write beyond a bound is refused
// with 422 out-of-range before anything is written.
const (
	// MaxPoints is the most points one write moves: an adjustment (either way), a
	// redemption, and the points one purchase earns (a purchase that would earn
	// more is refused, not capped).
	MaxPoints = 1_000_000_000
	// MaxAmount is the largest amount in minor units: a purchase (and each of its
	// lines), a return, a membership fee. 100,000,000,000 is a billion euros.
	MaxAmount = 100_000_000_000
)

// MaxMark is the most ids one mark request takes.
const MaxMark = 10000

// MarkResult answers both mark routes: how many were newly marked.
type MarkResult struct {
	Marked int `json:"marked"`
}

// Stats answers GET /v1/stats.
type Stats struct {
	Members           int64                    `json:"members"`
	PointsOutstanding int64                    `json:"pointsOutstanding"`
	Referrals         map[string]ReferralStats `json:"referrals"`
	At                time.Time                `json:"at"`
}

// ReferralStats are one referral agreement's counts.
type ReferralStats struct {
	CodesIssued          int64 `json:"codesIssued"`
	DiscountsGiven       int64 `json:"discountsGiven"`
	CommissionsPending   int64 `json:"commissionsPending"`
	CommissionsConfirmed int64 `json:"commissionsConfirmed"`
}

// Problem is an RFC 9457 problem detail, the body of every error response.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// RequestID lets a partner's support quote the failed request.
	RequestID string `json:"requestId,omitempty"`
}

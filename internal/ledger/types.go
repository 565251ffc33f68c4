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
	"errors"
	"time"

	"github.com/treue-dev/treue/internal/rules"
)

// Errors a caller can act on. Each is wrapped with what was wrong.
var (
	ErrUnknownMember       = errors.New("unknown member")
	ErrMemberExists        = errors.New("member exists with other details")
	ErrUnknownEntry        = errors.New("unknown entry")
	ErrUnknownCommission   = errors.New("unknown commission")
	ErrWrongPartner        = errors.New("the entry belongs to another partner")
	ErrWrongCurrency       = errors.New("wrong currency")
	ErrInsufficientPoints  = errors.New("not enough available points")
	ErrBelowMinimum        = errors.New("below the minimum redemption")
	ErrReturnExceedsEarn   = errors.New("the return is more than was paid")
	ErrIdempotencyConflict = errors.New("the idempotency key was used for a different request")
	ErrInvalid             = errors.New("invalid request")
	ErrAlreadySettled      = errors.New("entry already settled by another settlement")
	ErrUnknownCode         = errors.New("unknown referral code")
)

// Clock tells the ledger the time; tests move it.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Meta identifies a write for idempotency: a replay with the same Actor and Key and
// the same request returns the original result and writes nothing.
type Meta struct {
	// Actor is who writes: a partner ("namespace/name"), "admin" or "system".
	Actor string `json:"-"`
	// Key is the client's idempotency key, unique per actor.
	Key string `json:"-"`
}

// EnrollRequest enrolls a member.
type EnrollRequest struct {
	Meta
	Member   string          `json:"member"`
	Birthday *rules.Birthday `json:"birthday,omitempty"`
}

// EnrollResult is the outcome of Enroll.
type EnrollResult struct {
	EntryID     int64 `json:"entryId"`
	Created     bool  `json:"created"`
	SignupBonus int64 `json:"signupBonus"`
	Replayed    bool  `json:"-"`
}

// EarnRequest reports a purchase at a partner.
type EarnRequest struct {
	Meta
	Member   string `json:"member"`
	Partner  string `json:"partner"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Lines break the amount down by category; optional.
	Lines []rules.Line `json:"lines,omitempty"`
	// DefaultCategory is the partner's, from the service's configuration. It is
	// not part of the request's fingerprint: a retry across a restart that
	// changed it is still the same request.
	DefaultCategory string `json:"-"`
	ReferralCode    string `json:"referralCode,omitempty"`
}

// EarnResult is the outcome of Earn.
type EarnResult struct {
	EntryID      int64      `json:"entryId"`
	Points       int64      `json:"points"`
	Discount     int64      `json:"discount"`
	AmountDue    int64      `json:"amountDue"`
	Capped       string     `json:"capped,omitempty"`
	PendingUntil time.Time  `json:"pendingUntil"`
	ExpiresAt    *time.Time `json:"expiresAt,omitempty"`
	// CommissionMicros is the referral commission this purchase accrued.
	CommissionMicros int64 `json:"commissionMicros,omitempty"`
	Replayed         bool  `json:"-"`
}

// RedeemRequest spends points at a partner.
type RedeemRequest struct {
	Meta
	Member  string `json:"member"`
	Partner string `json:"partner"`
	Points  int64  `json:"points"`
}

// RedeemResult is the outcome of Redeem.
type RedeemResult struct {
	EntryID int64 `json:"entryId"`
	Points  int64 `json:"points"`
	// Value of the points in minor units, rounded down.
	Value    int64 `json:"value"`
	Replayed bool  `json:"-"`
}

// ReverseRequest returns all or part of a purchase.
type ReverseRequest struct {
	Meta
	Partner string `json:"partner"`
	EarnID  int64  `json:"earnId"`
	// Amount returned, in minor units of what was paid.
	Amount int64 `json:"amount"`
}

// ReverseResult is the outcome of Reverse.
type ReverseResult struct {
	EntryID int64 `json:"entryId"`
	// Points is what the return takes back: ClawedBack from the member's lots,
	// and the Shortfall the member did not have (owed, or written off).
	Points     int64 `json:"points"`
	ClawedBack int64 `json:"clawedBack"`
	Shortfall  int64 `json:"shortfall"`
	// CommissionMicros is the commission cancelled or clawed back (negative).
	CommissionMicros int64 `json:"commissionMicros,omitempty"`
	Replayed         bool  `json:"-"`
}

// AdjustRequest corrects a member's points by hand.
type AdjustRequest struct {
	Meta
	Member string `json:"member"`
	Points int64  `json:"points"`
	Reason string `json:"reason"`
}

// AdjustResult is the outcome of Adjust.
type AdjustResult struct {
	EntryID  int64 `json:"entryId"`
	Points   int64 `json:"points"`
	Replayed bool  `json:"-"`
}

// MembershipFeeRequest records a paid membership fee.
type MembershipFeeRequest struct {
	Meta
	Member string `json:"member"`
	Amount int64  `json:"amount"`
}

// MembershipResult is the outcome of a membership change.
type MembershipResult struct {
	EntryID   int64     `json:"entryId"`
	PaidUntil time.Time `json:"paidUntil"`
	Replayed  bool      `json:"-"`
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

// Entry is one journal entry as history and settlement see it.
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
}

// Entry kinds.
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

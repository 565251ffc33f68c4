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

	"github.com/treue-dev/treue/internal/accrualapi"
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
	// ErrOutOfRange is a write beyond accrualapi.MaxPoints or MaxAmount.
	ErrOutOfRange = errors.New("out of range")
	// ErrOverflow is a sum that does not fit in an int64: a read fails with it
	// rather than answer a wrapped number.
	ErrOverflow = errors.New("a sum overflows int64")
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

// The requests of the API's writes are the ledger's own structs; each says, with
// record, what its idempotency fingerprint covers. Their results are the answers
// the API gives, defined in accrualapi, which the ledger also stores as the
// write's replay, with whether this call replayed it.

// EnrollRequest enrolls a member.
type EnrollRequest struct {
	Meta
	Member   string
	Birthday *rules.Birthday
}

func (r EnrollRequest) record() accrualapi.EnrollRecord {
	rec := accrualapi.EnrollRecord{Member: r.Member}
	if r.Birthday != nil {
		rec.Birthday = &accrualapi.BirthdayRecord{Month: int(r.Birthday.Month), Day: r.Birthday.Day}
	}
	return rec
}

// EnrollResult is the outcome of Enroll.
type EnrollResult struct {
	accrualapi.EnrollResult
	Replayed bool `json:"-"`
}

// EarnRequest reports a purchase at a partner.
type EarnRequest struct {
	Meta
	Member   string
	Partner  string
	Amount   int64
	Currency string
	// Lines break the amount down by category; optional.
	Lines []rules.Line
	// DefaultCategory is the partner's, from the service's configuration. It is
	// not part of the request's fingerprint: a retry across a restart that
	// changed it is still the same request.
	DefaultCategory string
	ReferralCode    string
}

func (r EarnRequest) record() accrualapi.EarnRecord {
	rec := accrualapi.EarnRecord{Member: r.Member, Partner: r.Partner, Amount: r.Amount, Currency: r.Currency, ReferralCode: r.ReferralCode}
	for _, l := range r.Lines {
		rec.Lines = append(rec.Lines, accrualapi.LineRecord{Amount: l.Amount, Category: l.Category})
	}
	return rec
}

// EarnResult is the outcome of Earn.
type EarnResult struct {
	accrualapi.EarnResult
	Replayed bool `json:"-"`
}

// RedeemRequest spends points at a partner.
type RedeemRequest struct {
	Meta
	Member  string
	Partner string
	Points  int64
}

func (r RedeemRequest) record() accrualapi.RedeemRecord {
	return accrualapi.RedeemRecord{Member: r.Member, Partner: r.Partner, Points: r.Points}
}

// RedeemResult is the outcome of Redeem.
type RedeemResult struct {
	accrualapi.RedeemResult
	Replayed bool `json:"-"`
}

// ReverseRequest returns all or part of a purchase.
type ReverseRequest struct {
	Meta
	Partner string
	EarnID  int64
	// Amount returned, in minor units of what was paid.
	Amount int64
}

func (r ReverseRequest) record() accrualapi.ReverseRecord {
	return accrualapi.ReverseRecord{Partner: r.Partner, EarnID: r.EarnID, Amount: r.Amount}
}

// ReverseResult is the outcome of Reverse.
type ReverseResult struct {
	accrualapi.ReverseResult
	Replayed bool `json:"-"`
}

// AdjustRequest corrects a member's points by hand.
type AdjustRequest struct {
	Meta
	Member string
	Points int64
	Reason string
}

func (r AdjustRequest) record() accrualapi.AdjustRecord {
	return accrualapi.AdjustRecord{Member: r.Member, Points: r.Points, Reason: r.Reason}
}

// AdjustResult is the outcome of Adjust.
type AdjustResult struct {
	accrualapi.AdjustResult
	Replayed bool `json:"-"`
}

// MembershipFeeRequest records a membership fee a member paid at a partner's
// till; the partner owes it to the network.
type MembershipFeeRequest struct {
	Meta
	Member  string
	Partner string
	Amount  int64
}

func (r MembershipFeeRequest) record() accrualapi.MembershipFeeRecord {
	return accrualapi.MembershipFeeRecord{Member: r.Member, Partner: r.Partner, Amount: r.Amount}
}

// LapseRequest ends a member's paid membership now; with Refund, the fee that
// bought the current period is refunded, against the partner that sold it.
type LapseRequest struct {
	Meta
	Member string
	Refund bool
}

func (r LapseRequest) record() accrualapi.LapseRecord {
	return accrualapi.LapseRecord{Member: r.Member, Refund: r.Refund}
}

// MembershipResult is the outcome of a membership change.
type MembershipResult struct {
	accrualapi.MembershipResult
	Replayed bool `json:"-"`
}

// Balance is a member's points at a time.
type Balance struct {
	// Available points can be spent now; Pending ones after their return window.
	Available int64
	Pending   int64
	// Expiring is the part of Available and Pending that expires before ExpiringBy.
	Expiring   int64
	ExpiringBy time.Time
}

// Entry is one journal entry as history and settlement see it.
type Entry struct {
	ID        int64
	Kind      string
	Member    string
	Partner   string
	CreatedAt time.Time
	// Points is the change to the member's points (negative for debits).
	Points int64
	// Amount in minor units: purchase paid, redemption value, amount returned, fee.
	Amount     int64
	RelatedID  int64
	Reason     string
	Settlement string
	// Discount is, on a purchase, what the member's tier took off the amount.
	Discount int64
}

// Wire is the entry as the API shows it (history, entries, events).
func (e Entry) Wire() accrualapi.Entry {
	return accrualapi.Entry{ID: e.ID, Kind: e.Kind, Member: e.Member, Partner: e.Partner, CreatedAt: e.CreatedAt,
		Points: e.Points, Amount: e.Amount, RelatedID: e.RelatedID, Reason: e.Reason, Settlement: e.Settlement,
		TierDiscount: e.Discount}
}

// Entry kinds, as stored and as the API names them.
const (
	KindSignupBonus   = accrualapi.KindSignupBonus
	KindBirthdayBonus = accrualapi.KindBirthdayBonus
	KindEarn          = accrualapi.KindEarn
	KindRedeem        = accrualapi.KindRedeem
	KindReverse       = accrualapi.KindReverse
	KindAdjust        = accrualapi.KindAdjust
	KindExpire        = accrualapi.KindExpire
	KindMembershipFee = accrualapi.KindMembershipFee
	KindMembershipEnd = accrualapi.KindMembershipEnd
)

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

package rules

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/period"
)

// ReferralConfig is a referral agreement as rendered from a ReferralDiscount.
// Partners are named "namespace/name".
type ReferralConfig struct {
	ID            string           `json:"id"`
	Referrer      string           `json:"referrer"`
	Referee       string           `json:"referee"`
	Discount      DiscountConfig   `json:"discount"`
	Commission    CommissionConfig `json:"commission"`
	HoldingPeriod string           `json:"holdingPeriod"`
	Guards        GuardsConfig     `json:"guards"`
	CodePrefix    string           `json:"codePrefix,omitempty"`
}

// DiscountConfig is the referred customer's discount.
type DiscountConfig struct {
	Type    string `json:"type"`
	Percent string `json:"percent,omitempty"`
	Cap     string `json:"cap,omitempty"`
	Amount  string `json:"amount,omitempty"`
}

// CommissionConfig is what the referee owes the referrer.
type CommissionConfig struct {
	Type    string `json:"type"`
	Percent string `json:"percent,omitempty"`
	Amount  string `json:"amount,omitempty"`
}

// GuardsConfig limits when a code may be used.
type GuardsConfig struct {
	EligiblePurchases string     `json:"eligiblePurchases"`
	MinimumSpend      string     `json:"minimumSpend,omitempty"`
	ValidFrom         *time.Time `json:"validFrom,omitempty"`
	ValidUntil        *time.Time `json:"validUntil,omitempty"`
	MaxUses           int64      `json:"maxUses,omitempty"`
}

// MicrosPerMinor is the resolution of commissions: a millionth of a minor unit,
// fine enough that a percentage with four decimal places of any whole amount is
// exact. Settlement rounds the period's total once.
const MicrosPerMinor = 1_000_000

// Referral is a compiled referral agreement.
type Referral struct {
	ID, Referrer, Referee string
	CodePrefix            string

	discountPercent *big.Rat // nil for a fixed discount
	discountCap     int64    // minor units; 0 means no cap
	discountFixed   int64    // minor units

	commissionPercent *big.Rat // nil for a flat commission
	commissionFlat    int64    // minor units

	Holding           period.Period
	FirstPurchaseOnly bool
	MinimumSpend      int64
	ValidFrom         *time.Time
	ValidUntil        *time.Time
	MaxUses           int64 // 0 means no limit beyond FirstPurchaseOnly
}

// Reasons a referral code does not apply to a purchase.
var (
	ErrNotReferee        = errors.New("the code is for purchases at another partner")
	ErrSelfReferral      = errors.New("a member cannot use a code issued to themselves")
	ErrNotFirstPurchase  = errors.New("the code is only for the member's first purchase at this partner")
	ErrBelowMinimumSpend = errors.New("the purchase is below the code's minimum spend")
	ErrNotYetValid       = errors.New("the code is not valid yet")
	ErrCodeExpired       = errors.New("the code is no longer valid")
	ErrMaxUses           = errors.New("the code was used as often as it may be")
)

var hundred = big.NewRat(100, 1)

// CompileReferral checks a referral agreement for a program's currency.
func CompileReferral(cur money.Currency, c ReferralConfig) (*Referral, error) {
	r := &Referral{ID: c.ID, Referrer: c.Referrer, Referee: c.Referee, CodePrefix: c.CodePrefix}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	if c.Referrer == "" || c.Referee == "" || c.Referrer == c.Referee {
		fail(fieldErr("referee", "referrer and referee must be two different partners"))
	}
	amount := func(field, s string) int64 {
		v, err := cur.ParseAmount(s)
		if err != nil || v < 0 {
			fail(fieldErr(field, "%q is not an amount of %s", s, cur))
		}
		return v
	}
	switch c.Discount.Type {
	case "Percent":
		r.discountPercent = parsePercent("discount.percent", c.Discount.Percent, fail)
		if c.Discount.Cap != "" {
			r.discountCap = amount("discount.cap", c.Discount.Cap)
		}
	case "Fixed":
		r.discountFixed = amount("discount.amount", c.Discount.Amount)
	default:
		fail(fieldErr("discount.type", "%q: want Percent or Fixed", c.Discount.Type))
	}
	switch c.Commission.Type {
	case "Percent":
		r.commissionPercent = parsePercent("commission.percent", c.Commission.Percent, fail)
	case "Flat":
		r.commissionFlat = amount("commission.amount", c.Commission.Amount)
		if r.commissionFlat > math.MaxInt64/MicrosPerMinor {
			fail(fieldErr("commission.amount", "%q is too large", c.Commission.Amount))
		}
	default:
		fail(fieldErr("commission.type", "%q: want Percent or Flat", c.Commission.Type))
	}
	r.Holding = parsePeriod("holdingPeriod", c.HoldingPeriod, "P14D", fail)
	switch c.Guards.EligiblePurchases {
	case "FirstPurchase", "":
		r.FirstPurchaseOnly = true
	case "AnyPurchase":
	default:
		fail(fieldErr("guards.eligiblePurchases", "%q: want FirstPurchase or AnyPurchase", c.Guards.EligiblePurchases))
	}
	if c.Guards.MinimumSpend != "" {
		r.MinimumSpend = amount("guards.minimumSpend", c.Guards.MinimumSpend)
		if r.discountPercent == nil && r.discountFixed > r.MinimumSpend {
			fail(fieldErr("discount.amount", "%s is more than guards.minimumSpend %s: a purchase of the minimum would cost the member "+
				"nothing; lower discount.amount or raise guards.minimumSpend to at least %s", c.Discount.Amount, c.Guards.MinimumSpend, c.Discount.Amount))
		}
	}
	r.ValidFrom, r.ValidUntil = c.Guards.ValidFrom, c.Guards.ValidUntil
	if r.ValidFrom != nil && r.ValidUntil != nil && !r.ValidFrom.Before(*r.ValidUntil) {
		fail(fieldErr("guards.validUntil", "must be after validFrom"))
	}
	if c.Guards.MaxUses < 0 {
		fail(fieldErr("guards.maxUses", "must not be negative"))
	}
	r.MaxUses = c.Guards.MaxUses
	if len(errs) > 0 {
		return nil, fmt.Errorf("referral %s: %w", c.ID, errors.Join(errs...))
	}
	return r, nil
}

// parsePercent accepts 0 to 100 with at most four decimal places, which keeps
// every commission exact in millionths of a minor unit.
func parsePercent(field, s string, fail func(error)) *big.Rat {
	v, err := money.ParseDecimal(s)
	if err != nil || v.Sign() < 0 || v.Cmp(hundred) > 0 {
		fail(fieldErr(field, "%q is not a percentage from 0 to 100", s))
		return new(big.Rat)
	}
	if scaled := new(big.Rat).Mul(v, big.NewRat(10000, 1)); !scaled.IsInt() {
		fail(fieldErr(field, "%q has more than four decimal places", s))
	}
	return v
}

// ReferralUse is one purchase made with a referral code.
type ReferralUse struct {
	// Partner is where the purchase is made.
	Partner string
	// Amount of the purchase in minor units, before the discount.
	Amount int64
	At     time.Time
	// CodeOwner is the member the code was issued to; Member is the buyer.
	CodeOwner, Member string
	// PriorPurchases is how many purchases Member made at the referee before.
	PriorPurchases int64
	// PriorUses is how often the code was used before.
	PriorUses int64
	// DiscountedBefore is what the purchase was already discounted by (a tier
	// discount): the code's discount applies to what is left, Amount -
	// DiscountedBefore. The minimum spend is checked on Amount.
	DiscountedBefore int64
}

// ReferralOutcome is what a code does to a purchase.
type ReferralOutcome struct {
	// Discount in minor units, and the amount the member pays.
	Discount, AmountDue int64
	// CommissionMicros is the referrer's commission in millionths of a minor unit.
	CommissionMicros int64
	// ConfirmsAt is when the holding period ends: a return before it cancels the
	// commission, a return after it claws it back.
	ConfirmsAt time.Time
}

// PercentOf is percent % of amount in minor units, rounded half up (half a minor
// unit goes to the member): how every percentage discount is rounded.
func PercentOf(amount int64, percent *big.Rat) int64 {
	d := new(big.Rat).Mul(big.NewRat(amount, 1), percent)
	d.Quo(d, hundred)
	return money.Round(d, money.HalfUp).Int64()
}

// Apply checks the guards and computes the discount and commission of a purchase.
// A percentage discount is rounded half up to minor units and capped; the
// commission is a percentage of the amount due after the discount, or flat.
func (r *Referral) Apply(u ReferralUse) (ReferralOutcome, error) {
	switch {
	case u.Partner != r.Referee:
		return ReferralOutcome{}, ErrNotReferee
	case u.CodeOwner == u.Member:
		return ReferralOutcome{}, ErrSelfReferral
	case r.ValidFrom != nil && u.At.Before(*r.ValidFrom):
		return ReferralOutcome{}, ErrNotYetValid
	case r.ValidUntil != nil && !u.At.Before(*r.ValidUntil):
		return ReferralOutcome{}, ErrCodeExpired
	case r.FirstPurchaseOnly && u.PriorPurchases > 0:
		return ReferralOutcome{}, ErrNotFirstPurchase
	case r.MaxUses > 0 && u.PriorUses >= r.MaxUses:
		return ReferralOutcome{}, ErrMaxUses
	case u.Amount < r.MinimumSpend || u.Amount <= 0:
		return ReferralOutcome{}, ErrBelowMinimumSpend
	}
	if u.DiscountedBefore < 0 || u.DiscountedBefore > u.Amount {
		return ReferralOutcome{}, fmt.Errorf("%w: a discount of %d before the code on %d minor units", ErrBadPurchase, u.DiscountedBefore, u.Amount)
	}
	base := u.Amount - u.DiscountedBefore
	out := ReferralOutcome{ConfirmsAt: r.Holding.AddTo(u.At)}
	if r.discountPercent != nil {
		out.Discount = PercentOf(base, r.discountPercent)
		if r.discountCap > 0 {
			out.Discount = min(out.Discount, r.discountCap)
		}
	} else {
		out.Discount = min(r.discountFixed, base)
	}
	out.AmountDue = base - out.Discount
	if r.commissionPercent != nil {
		c := new(big.Rat).Mul(big.NewRat(out.AmountDue, 1), r.commissionPercent)
		c.Mul(c, big.NewRat(MicrosPerMinor, 100))
		// Exact by construction: at most four decimal places of a percentage.
		if !c.Num().IsInt64() {
			return ReferralOutcome{}, fmt.Errorf("%w: the commission on %d minor units is beyond 64 bits", ErrBadPurchase, out.AmountDue)
		}
		out.CommissionMicros = c.Num().Int64()
	} else {
		out.CommissionMicros = r.commissionFlat * MicrosPerMinor
	}
	return out, nil
}

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
	"math/big"
	"time"

	"github.com/treue-dev/treue/internal/money"
)

// Line is one line item of a purchase.
type Line struct {
	// Amount paid for the line, in minor units, after any discount.
	Amount int64
	// Category of the product; empty means the partner's default category.
	Category string
}

// Purchase is what a partner reports to earn points.
type Purchase struct {
	// Amount paid in minor units, after any discount. It equals the sum of Lines
	// when Lines are given.
	Amount int64
	Lines  []Line
	// DefaultCategory applies to lines without one (the partner's default).
	DefaultCategory string
	// Discount is taken off Amount (a referral discount): points are earned on
	// what the member pays, Amount - Discount, spread over the lines in proportion.
	Discount int64
}

// Earned is the result of EarnPoints.
type Earned struct {
	// Points credited.
	Points int64
	// Exact is the points before rounding and caps, such as "1.995".
	Exact *big.Rat
	// Capped says which cap reduced the points, if any: "transaction" or "day".
	Capped string
	// BelowMinimumSpend is set when the purchase earned nothing for being too small.
	BelowMinimumSpend bool
}

// ErrBadPurchase is returned for a purchase that cannot earn anything: a zero or
// negative amount, or lines that do not add up to it.
var ErrBadPurchase = errors.New("bad purchase")

// EarnPoints computes the points for a purchase by a member at the given tier
// (an index into Tiers, or -1), who has already earned earnedToday points today.
//
// Each line earns at the base rate times its category multiplier; the sum is
// multiplied by the tier's multiplier and rounded once, with the program's
// rounding mode, so that splitting a purchase into lines never loses points to
// rounding. Then the caps per transaction and per member per day apply.
func (p *Program) EarnPoints(purchase Purchase, tier int, earnedToday int64) (Earned, error) {
	if purchase.Amount <= 0 {
		return Earned{}, fmt.Errorf("%w: the amount must be more than zero minor units, got %d", ErrBadPurchase, purchase.Amount)
	}
	lines := purchase.Lines
	if len(lines) == 0 {
		lines = []Line{{Amount: purchase.Amount}}
	}
	var sum int64
	exact := new(big.Rat)
	for i, l := range lines {
		if l.Amount < 0 {
			return Earned{}, fmt.Errorf("%w: line %d has a negative amount", ErrBadPurchase, i)
		}
		if sum > purchase.Amount-l.Amount {
			return Earned{}, fmt.Errorf("%w: the lines add up to more than the amount %d", ErrBadPurchase, purchase.Amount)
		}
		sum += l.Amount
		cat := l.Category
		if cat == "" {
			cat = purchase.DefaultCategory
		}
		lineExact := new(big.Rat).Mul(new(big.Rat).SetInt64(l.Amount), p.pointsPerMinor)
		if m, ok := p.categoryMultipliers[cat]; ok {
			lineExact.Mul(lineExact, m)
		}
		exact.Add(exact, lineExact)
	}
	if sum != purchase.Amount {
		return Earned{}, fmt.Errorf("%w: the lines add up to %d, not the amount %d", ErrBadPurchase, sum, purchase.Amount)
	}
	if purchase.Discount < 0 || purchase.Discount > purchase.Amount {
		return Earned{}, fmt.Errorf("%w: the discount %d is not between 0 and the amount %d", ErrBadPurchase, purchase.Discount, purchase.Amount)
	}
	if purchase.Discount > 0 {
		exact.Mul(exact, big.NewRat(purchase.Amount-purchase.Discount, purchase.Amount))
	}
	if purchase.Amount-purchase.Discount < p.MinimumSpend {
		return Earned{Exact: new(big.Rat), BelowMinimumSpend: true}, nil
	}
	if tier >= 0 && tier < len(p.Tiers) {
		exact.Mul(exact, p.Tiers[tier].Multiplier)
	}
	points, err := money.RoundInt64(exact, p.Rounding)
	if err != nil {
		return Earned{}, fmt.Errorf("%w: %v", ErrBadPurchase, err)
	}
	out := Earned{Points: points, Exact: exact}
	if p.MaxPerTransaction > 0 && out.Points > p.MaxPerTransaction {
		out.Points, out.Capped = p.MaxPerTransaction, "transaction"
	}
	if p.MaxPerMemberPerDay > 0 {
		left := max(p.MaxPerMemberPerDay-max(earnedToday, 0), 0)
		if out.Points > left {
			out.Points, out.Capped = left, "day"
		}
	}
	return out, nil
}

// DayStart is the start of t's day in the program's time zone: the per-day cap
// counts the points earned since then.
func (p *Program) DayStart(t time.Time) time.Time {
	y, m, d := t.In(p.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, p.Location)
}

// RedemptionValue is the money value of points, exactly, in the major unit.
func (p *Program) RedemptionValue(points int64) *big.Rat {
	return new(big.Rat).Mul(big.NewRat(points, 1), p.PointValue)
}

// RedemptionValueMinor is the money value of points in minor units, rounded down:
// a partner never owes a member more than the points are worth.
func (p *Program) RedemptionValueMinor(points int64) (int64, error) {
	minor := new(big.Rat).Mul(p.RedemptionValue(points), new(big.Rat).SetInt(pow10(p.Currency.Exponent)))
	return money.RoundInt64(minor, money.Floor)
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// Birthday is a member's day of birth; the year is not needed.
type Birthday struct {
	Month time.Month
	Day   int
}

// BirthdayBonusDue says whether the birthday bonus of the calendar year of now
// (in the program's time zone) is due: the birthday has come this year and the
// bonus for this year was not granted yet (lastGrantedYear). It returns the year
// to record as granted. A 29 February birthday falls on 28 February in common
// years.
func (p *Program) BirthdayBonusDue(b Birthday, lastGrantedYear int, now time.Time) (year int, due bool) {
	if p.BirthdayBonus <= 0 || b.Month < time.January || b.Month > time.December || b.Day < 1 {
		return 0, false
	}
	local := now.In(p.Location)
	year = local.Year()
	day := min(b.Day, daysIn(year, b.Month))
	birthday := time.Date(year, b.Month, day, 0, 0, 0, 0, p.Location)
	return year, !local.Before(birthday) && lastGrantedYear < year
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

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
	"github.com/treue-dev/treue/internal/period"
)

// Program is a compiled, checked Config: every amount exact, every period parsed.
type Program struct {
	Currency money.Currency
	Location *time.Location

	// pointsPerMinor is the base rate in points per minor unit: 1 point per 2.00
	// EUR is 1/200.
	pointsPerMinor      *big.Rat
	Rounding            money.RoundingMode
	categoryMultipliers map[string]*big.Rat
	SignupBonus         int64
	BirthdayBonus       int64
	MinimumSpend        int64 // minor units; 0 means any purchase earns
	MaxPerTransaction   int64 // 0 means no cap
	MaxPerMemberPerDay  int64 // 0 means no cap

	Pending period.Period

	Tiers     []Tier
	Basis     TierBasis
	Window    Window
	Downgrade DowngradePolicy
	Grace     period.Period

	Expiry Expiry

	// PointValue is the money value of one point in the major unit, exactly.
	PointValue        *big.Rat
	MinimumRedemption int64

	ClawbackOrder        ClawbackOrder
	AllowNegativeBalance bool

	Membership Membership
}

// Tier is one status level.
type Tier struct {
	Name      string
	Threshold int64
	// Multiplier scales earned points; 1 when the level sets none.
	Multiplier *big.Rat
	// Discount is a percentage, or nil.
	Discount *big.Rat
}

// TierBasis is the activity that counts towards a tier.
type TierBasis string

// The tier bases.
const (
	BasisPointsEarned TierBasis = "PointsEarned"
	BasisAmountSpent  TierBasis = "AmountSpent"
)

// Window is a qualification window: the last Period (Rolling) or the current
// calendar year (CalendarYear, Period zero).
type Window struct {
	CalendarYear bool
	Period       period.Period
}

// DowngradePolicy says how a member loses a tier.
type DowngradePolicy string

// The downgrade policies.
const (
	DowngradeRecalculate       DowngradePolicy = "Recalculate"
	DowngradeOneLevelPerPeriod DowngradePolicy = "OneLevelPerPeriod"
	DowngradeNever             DowngradePolicy = "Never"
)

// ExpiryPolicy says when lots expire.
type ExpiryPolicy string

// The expiry policies.
const (
	ExpiryNever             ExpiryPolicy = "Never"
	ExpiryRolling           ExpiryPolicy = "Rolling"
	ExpiryEndOfCalendarYear ExpiryPolicy = "EndOfCalendarYear"
	ExpiryInactivity        ExpiryPolicy = "Inactivity"
)

// Expiry is the compiled expiry rule.
type Expiry struct {
	Policy          ExpiryPolicy
	After           period.Period
	AdditionalYears int
}

// ClawbackOrder says which points a return takes back first.
type ClawbackOrder string

// The clawback orders.
const (
	ClawbackPendingFirst   ClawbackOrder = "PendingFirst"
	ClawbackAvailableFirst ClawbackOrder = "AvailableFirst"
)

// Membership is the compiled membership rule.
type Membership struct {
	Paid   bool
	Fee    int64 // minor units
	Period period.Period
	// PinnedTier is the index into Program.Tiers a current fee holds, or -1.
	PinnedTier int
}

// FieldError names the configuration field that is wrong.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// checkSmallestRedemption refuses a program whose smallest redemption is worth
// less than one minor unit: rounded down, a member would spend points for
// nothing. Both fields can mend it, and the error names both.
func (p *Program) checkSmallestRedemption(pointValue string, fail func(error)) {
	if p.PointValue.Sign() == 0 {
		fail(fieldErr("redemption.minimumPoints", "points at redemption.pointValue %q are worth nothing; set redemption.pointValue above zero", pointValue))
		return
	}
	if v, err := p.RedemptionValueMinor(p.MinimumRedemption); err != nil || v >= 1 {
		return
	}
	perMinor := new(big.Rat).Mul(p.PointValue, new(big.Rat).SetInt(pow10(p.Currency.Exponent)))
	least, err := money.RoundInt64(new(big.Rat).Inv(perMinor), money.Ceiling)
	if err != nil {
		least = 0
	}
	fail(fieldErr("redemption.minimumPoints", "%d points at redemption.pointValue %q are worth less than one minor unit of %s, so a redemption "+
		"could spend points for nothing; raise redemption.minimumPoints to at least %d, or redemption.pointValue",
		p.MinimumRedemption, pointValue, p.Currency.Code, least))
}

// Compile checks a Config and compiles it. Every error names the field.
func Compile(c Config) (*Program, error) {
	p := &Program{}
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	cur, err := money.ParseCurrency(c.Currency)
	if err != nil {
		return nil, &FieldError{Field: "currency", Err: err}
	}
	p.Currency = cur

	tz := c.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	if p.Location, err = time.LoadLocation(tz); err != nil {
		fail(fieldErr("timeZone", "%q is not a known IANA time zone", c.TimeZone))
	}

	p.compileEarning(c.Earning, fail)
	p.Pending = parsePeriod("pendingPeriod", c.PendingPeriod, "P0D", fail)
	if c.Tiers != nil {
		p.compileTiers(*c.Tiers, fail)
	}
	p.compileExpiry(c.Expiry, fail)

	if p.PointValue, err = money.ParseDecimal(c.Redemption.PointValue); err != nil || p.PointValue.Sign() < 0 {
		fail(fieldErr("redemption.pointValue", "%q is not a non-negative exact decimal such as \"0.01\"", c.Redemption.PointValue))
	}
	p.MinimumRedemption = c.Redemption.MinimumPoints
	if p.MinimumRedemption < 1 {
		p.MinimumRedemption = 1
	}
	if p.PointValue != nil && p.PointValue.Sign() >= 0 {
		p.checkSmallestRedemption(c.Redemption.PointValue, fail)
	}

	switch ClawbackOrder(c.Returns.ClawbackOrder) {
	case ClawbackPendingFirst, "":
		p.ClawbackOrder = ClawbackPendingFirst
	case ClawbackAvailableFirst:
		p.ClawbackOrder = ClawbackAvailableFirst
	default:
		fail(fieldErr("returns.clawbackOrder", "%q: want PendingFirst or AvailableFirst", c.Returns.ClawbackOrder))
	}
	switch c.Returns.NegativeBalance {
	case "Forbid", "":
	case "Allow":
		p.AllowNegativeBalance = true
	default:
		fail(fieldErr("returns.negativeBalance", "%q: want Allow or Forbid", c.Returns.NegativeBalance))
	}

	p.compileMembership(c.Membership, fail)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (p *Program) compileEarning(e EarningConfig, fail func(error)) {
	per, err := p.Currency.ParseAmount(e.BaseRate.Per)
	switch {
	case err != nil:
		fail(fieldErr("earning.baseRate.per", "%v", err))
	case per <= 0:
		fail(fieldErr("earning.baseRate.per", "must be more than zero"))
	case e.BaseRate.Points < 1:
		fail(fieldErr("earning.baseRate.points", "must be at least 1"))
	default:
		p.pointsPerMinor = new(big.Rat).SetFrac(big.NewInt(e.BaseRate.Points), big.NewInt(per))
	}
	rounding := e.Rounding
	if rounding == "" {
		rounding = string(money.Floor)
	}
	if p.Rounding, err = money.ParseRoundingMode(rounding); err != nil {
		fail(fieldErr("earning.rounding", "%v", err))
	}
	p.categoryMultipliers = map[string]*big.Rat{}
	for i, cm := range e.CategoryMultipliers {
		m, err := money.ParseDecimal(cm.Multiplier)
		if err != nil || m.Sign() < 0 {
			fail(fieldErr(fmt.Sprintf("earning.categoryMultipliers[%d].multiplier", i), "%q is not a non-negative exact decimal", cm.Multiplier))
			continue
		}
		if _, dup := p.categoryMultipliers[cm.Category]; dup || cm.Category == "" {
			fail(fieldErr(fmt.Sprintf("earning.categoryMultipliers[%d].category", i), "%q is empty or listed twice", cm.Category))
			continue
		}
		p.categoryMultipliers[cm.Category] = m
	}
	if e.SignupBonus < 0 || e.BirthdayBonus < 0 {
		fail(fieldErr("earning", "bonuses must not be negative"))
	}
	p.SignupBonus, p.BirthdayBonus = e.SignupBonus, e.BirthdayBonus
	if e.MinimumSpend != "" {
		if p.MinimumSpend, err = p.Currency.ParseAmount(e.MinimumSpend); err != nil || p.MinimumSpend < 0 {
			fail(fieldErr("earning.minimumSpend", "%q is not an amount of %s", e.MinimumSpend, p.Currency))
		}
	}
	if e.MaxPointsPerTransaction < 0 || e.MaxPointsPerMemberPerDay < 0 {
		fail(fieldErr("earning", "caps must not be negative"))
	}
	p.MaxPerTransaction, p.MaxPerMemberPerDay = e.MaxPointsPerTransaction, e.MaxPointsPerMemberPerDay
}

func (p *Program) compileTiers(t TiersConfig, fail func(error)) {
	if len(t.Levels) == 0 {
		fail(fieldErr("tiers.levels", "needs at least one level"))
	}
	seen := map[string]bool{}
	for i, l := range t.Levels {
		field := fmt.Sprintf("tiers.levels[%d]", i)
		if l.Name == "" || seen[l.Name] {
			fail(fieldErr(field+".name", "%q is empty or used twice", l.Name))
		}
		seen[l.Name] = true
		if i > 0 && l.Threshold <= t.Levels[i-1].Threshold {
			fail(fieldErr(field+".threshold", "thresholds must be strictly increasing"))
		}
		if l.Threshold < 0 {
			fail(fieldErr(field+".threshold", "must not be negative"))
		}
		tier := Tier{Name: l.Name, Threshold: l.Threshold, Multiplier: big.NewRat(1, 1)}
		if l.EarnMultiplier != "" {
			m, err := money.ParseDecimal(l.EarnMultiplier)
			if err != nil || m.Sign() < 0 {
				fail(fieldErr(field+".earnMultiplier", "%q is not a non-negative exact decimal", l.EarnMultiplier))
			} else {
				tier.Multiplier = m
			}
		}
		if l.Discount != "" {
			d, err := money.ParseDecimal(l.Discount)
			if err != nil || d.Sign() < 0 || d.Cmp(big.NewRat(100, 1)) > 0 {
				fail(fieldErr(field+".discount", "%q is not a percentage from 0 to 100", l.Discount))
			} else {
				tier.Discount = d
			}
		}
		p.Tiers = append(p.Tiers, tier)
	}
	switch TierBasis(t.Basis) {
	case BasisPointsEarned, "":
		p.Basis = BasisPointsEarned
	case BasisAmountSpent:
		p.Basis = BasisAmountSpent
	default:
		fail(fieldErr("tiers.basis", "%q: want PointsEarned or AmountSpent", t.Basis))
	}
	switch t.Window.Type {
	case "Rolling", "":
		p.Window.Period = parsePeriod("tiers.window.period", t.Window.Period, "P12M", fail)
		if p.Window.Period.IsZero() {
			fail(fieldErr("tiers.window.period", "a Rolling window needs a period such as \"P12M\""))
		}
	case "CalendarYear":
		p.Window.CalendarYear = true
	default:
		fail(fieldErr("tiers.window.type", "%q: want Rolling or CalendarYear", t.Window.Type))
	}
	switch DowngradePolicy(t.Downgrade) {
	case DowngradeRecalculate, "":
		p.Downgrade = DowngradeRecalculate
	case DowngradeOneLevelPerPeriod, DowngradeNever:
		p.Downgrade = DowngradePolicy(t.Downgrade)
	default:
		fail(fieldErr("tiers.downgrade", "%q: want Recalculate, OneLevelPerPeriod or Never", t.Downgrade))
	}
	p.Grace = parsePeriod("tiers.gracePeriod", t.GracePeriod, "P0D", fail)
}

func (p *Program) compileExpiry(e ExpiryConfig, fail func(error)) {
	switch ExpiryPolicy(e.Policy) {
	case ExpiryNever, "":
		p.Expiry.Policy = ExpiryNever
	case ExpiryRolling, ExpiryInactivity:
		p.Expiry.Policy = ExpiryPolicy(e.Policy)
		p.Expiry.After = parsePeriod("expiry.after", e.After, "", fail)
		if p.Expiry.After.IsZero() {
			fail(fieldErr("expiry.after", "the %s policy needs a period such as \"P36M\"", e.Policy))
		}
	case ExpiryEndOfCalendarYear:
		p.Expiry.Policy = ExpiryEndOfCalendarYear
		if e.AdditionalYears < 0 || e.AdditionalYears > 10 {
			fail(fieldErr("expiry.additionalYears", "%d: want 0 to 10", e.AdditionalYears))
		}
		p.Expiry.AdditionalYears = e.AdditionalYears
	default:
		fail(fieldErr("expiry.policy", "%q: want Never, Rolling, EndOfCalendarYear or Inactivity", e.Policy))
	}
}

func (p *Program) compileMembership(m MembershipConfig, fail func(error)) {
	p.Membership.PinnedTier = -1
	switch m.Type {
	case "Free", "":
		return
	case "Paid":
	default:
		fail(fieldErr("membership.type", "%q: want Free or Paid", m.Type))
		return
	}
	p.Membership.Paid = true
	fee, err := p.Currency.ParseAmount(m.Fee)
	if err != nil || fee <= 0 {
		fail(fieldErr("membership.fee", "%q is not a positive amount of %s", m.Fee, p.Currency))
	}
	p.Membership.Fee = fee
	p.Membership.Period = parsePeriod("membership.period", m.Period, "", fail)
	if p.Membership.Period.IsZero() {
		fail(fieldErr("membership.period", "a paid membership needs the period its fee pays for, such as \"P1Y\""))
	}
	if m.PinnedTier != "" {
		for i, t := range p.Tiers {
			if t.Name == m.PinnedTier {
				p.Membership.PinnedTier = i
			}
		}
		if p.Membership.PinnedTier < 0 {
			fail(fieldErr("membership.pinnedTier", "%q is not one of the tiers' levels", m.PinnedTier))
		}
	}
}

func parsePeriod(field, s, def string, fail func(error)) period.Period {
	if s == "" {
		s = def
	}
	if s == "" {
		return period.Period{}
	}
	p, err := period.Parse(s)
	if err != nil {
		fail(&FieldError{Field: field, Err: err})
	}
	return p
}

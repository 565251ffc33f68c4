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
	"testing"

	"github.com/treue-dev/treue/internal/money"
)

// grafikEmpfiehltDruck is the sample referral of config/samples.
func grafikEmpfiehltDruck() ReferralConfig {
	from, until := utc(2026, 1, 1, 0, 0), utc(2027, 12, 31, 23, 0)
	return ReferralConfig{
		ID:            "stadtbonus/grafik-empfiehlt-druck",
		Referrer:      "grafikagentur-linie/grafikagentur-linie",
		Referee:       "druckerei-blau/druckerei-blau",
		Discount:      DiscountConfig{Type: "Percent", Percent: "5", Cap: "50.00"},
		Commission:    CommissionConfig{Type: "Percent", Percent: "3"},
		HoldingPeriod: "P14D",
		Guards:        GuardsConfig{EligiblePurchases: "FirstPurchase", MinimumSpend: "20.00", ValidFrom: &from, ValidUntil: &until, MaxUses: 1},
		CodePrefix:    "GRAFIK",
	}
}

func compileReferral(t *testing.T, c ReferralConfig) *Referral {
	t.Helper()
	r, err := CompileReferral(money.MustCurrency("EUR"), c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReferralApply(t *testing.T) {
	sample := compileReferral(t, grafikEmpfiehltDruck())
	anyPurchase := grafikEmpfiehltDruck()
	anyPurchase.Guards = GuardsConfig{EligiblePurchases: "AnyPurchase"}
	anyPurchase.Discount = DiscountConfig{Type: "Fixed", Amount: "10.00"}
	anyPurchase.Commission = CommissionConfig{Type: "Flat", Amount: "2.50"}
	fixed := compileReferral(t, anyPurchase)
	odd := grafikEmpfiehltDruck()
	odd.Guards = GuardsConfig{EligiblePurchases: "AnyPurchase"}
	odd.Commission = CommissionConfig{Type: "Percent", Percent: "2.5555"}
	oddPercent := compileReferral(t, odd)

	use := func(amount int64) ReferralUse {
		return ReferralUse{Partner: "druckerei-blau/druckerei-blau", Amount: amount, At: utc(2026, 11, 23, 10, 0), CodeOwner: "anna", Member: "ben"}
	}
	tests := []struct {
		name             string
		r                *Referral
		use              ReferralUse
		discount, due    int64
		commissionMicros int64
	}{
		// 5 % of 100.00 is 5.00; 3 % of the 95.00 paid is 2.85.
		{"5 % off and 3 % commission", sample, use(10000), 500, 9500, 285_000_000},
		// 5 % of 2,000.00 is 100.00, capped at 50.00; 3 % of 1,950.00 is 58.50.
		{"the cap", sample, use(200000), 5000, 195000, 5_850_000_000},
		// 5 % of 39.99 is 1.9995, rounded half up to 2.00; 3 % of 37.99 is 1.1397.
		{"half-up rounding of the discount, exact commission", sample, use(3999), 200, 3799, 113_970_000},
		{"a fixed discount larger than the purchase", fixed, use(800), 800, 0, 250_000_000},
		{"a flat commission", fixed, use(5000), 1000, 4000, 250_000_000},
		// 2.5555 % of 9,49 EUR paid (9.99 less 5 %, rounded half up: 0.4995 → 0.50).
		{"four decimal places stay exact", oddPercent, use(999), 50, 949, 24_251_695},
	}
	for _, tt := range tests {
		got, err := tt.r.Apply(tt.use)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Discount != tt.discount || got.AmountDue != tt.due || got.CommissionMicros != tt.commissionMicros {
			t.Errorf("%s: got discount %d, due %d, commission %d µ; want %d, %d, %d µ",
				tt.name, got.Discount, got.AmountDue, got.CommissionMicros, tt.discount, tt.due, tt.commissionMicros)
		}
		if want := tt.use.At.AddDate(0, 0, 14); !got.ConfirmsAt.Equal(want) {
			t.Errorf("%s: confirms at %s, want %s", tt.name, got.ConfirmsAt, want)
		}
	}

	refusals := []struct {
		name   string
		mutate func(*ReferralUse)
		want   error
	}{
		{"at the referrer instead of the referee", func(u *ReferralUse) { u.Partner = "grafikagentur-linie/grafikagentur-linie" }, ErrNotReferee},
		{"the code owner buying", func(u *ReferralUse) { u.Member = "anna" }, ErrSelfReferral},
		{"before the validity window", func(u *ReferralUse) { u.At = utc(2025, 12, 31, 23, 59) }, ErrNotYetValid},
		{"at the end of the window", func(u *ReferralUse) { u.At = utc(2027, 12, 31, 23, 0) }, ErrCodeExpired},
		{"not the first purchase", func(u *ReferralUse) { u.PriorPurchases = 1 }, ErrNotFirstPurchase},
		{"a used code", func(u *ReferralUse) { u.PriorUses = 1 }, ErrMaxUses},
		{"under the minimum spend", func(u *ReferralUse) { u.Amount = 1999 }, ErrBelowMinimumSpend},
	}
	for _, tt := range refusals {
		u := use(10000)
		tt.mutate(&u)
		if got, err := sample.Apply(u); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %+v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestCompileReferralRefuses(t *testing.T) {
	tests := map[string]func(*ReferralConfig){
		"self referral":        func(c *ReferralConfig) { c.Referee = c.Referrer },
		"percent over 100":     func(c *ReferralConfig) { c.Discount.Percent = "101" },
		"five decimal places":  func(c *ReferralConfig) { c.Commission.Percent = "3.00001" },
		"unknown discount":     func(c *ReferralConfig) { c.Discount.Type = "Gift" },
		"window the wrong way": func(c *ReferralConfig) { c.Guards.ValidUntil = ptr(utc(2025, 1, 1, 0, 0)) },
		"holding period":       func(c *ReferralConfig) { c.HoldingPeriod = "two weeks" },
		// Issue 17: a purchase of the minimum spend would be free.
		"a fixed discount over the minimum spend": func(c *ReferralConfig) {
			c.Discount = DiscountConfig{Type: "Fixed", Amount: "10.00"}
			c.Guards.MinimumSpend = "9.99"
		},
		"a flat commission too large": func(c *ReferralConfig) {
			c.Commission = CommissionConfig{Type: "Flat", Amount: "100000000000.00"}
		},
	}
	for name, mutate := range tests {
		c := grafikEmpfiehltDruck()
		mutate(&c)
		if _, err := CompileReferral(money.MustCurrency("EUR"), c); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
	// The holding period defaults to the 14-day return window.
	c := grafikEmpfiehltDruck()
	c.HoldingPeriod = ""
	if r := compileReferral(t, c); r.Holding.Days != 14 {
		t.Errorf("default holding period %s, want P14D", r.Holding)
	}
}

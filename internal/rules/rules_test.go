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
	"strings"
	"testing"
	"time"
)

// stadtBonus is the sample program of config/samples, as the operator renders it.
func stadtBonus() Config {
	return Config{
		Currency: "EUR",
		TimeZone: "Europe/Berlin",
		Earning: EarningConfig{
			BaseRate: EarnRateConfig{Points: 1, Per: "2.00"},
			Rounding: "Floor",
			CategoryMultipliers: []CategoryMultiplierConfig{
				{Category: "bakery", Multiplier: "2"},
				{Category: "tobacco", Multiplier: "0"},
			},
			SignupBonus:              50,
			BirthdayBonus:            100,
			MinimumSpend:             "1.00",
			MaxPointsPerTransaction:  5000,
			MaxPointsPerMemberPerDay: 10000,
		},
		PendingPeriod: "P14D",
		Tiers: &TiersConfig{
			Levels: []TierLevelConfig{
				{Name: "Bronze", Threshold: 0},
				{Name: "Silber", Threshold: 1000, EarnMultiplier: "1.25"},
				{Name: "Gold", Threshold: 5000, EarnMultiplier: "1.5", Discount: "3"},
			},
			Basis:       "PointsEarned",
			Window:      WindowConfig{Type: "Rolling", Period: "P12M"},
			Downgrade:   "Recalculate",
			GracePeriod: "P0D",
		},
		Expiry:     ExpiryConfig{Policy: "Rolling", After: "P36M"},
		Redemption: RedemptionConfig{PointValue: "0.01", MinimumPoints: 100},
		Returns:    ReturnsConfig{ClawbackOrder: "PendingFirst", NegativeBalance: "Forbid"},
		Membership: MembershipConfig{Type: "Free"},
	}
}

func compile(t *testing.T, c Config) *Program {
	t.Helper()
	p, err := Compile(c)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

func utc(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
}

func TestCompileNamesTheField(t *testing.T) {
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"currency", func(c *Config) { c.Currency = "eur" }},
		// Well-formed, but no currency anything settles in (issue 17).
		{"currency", func(c *Config) { c.Currency = "XXX" }},
		{"currency", func(c *Config) { c.Currency = "ZZZ" }},
		{"expiry.after", func(c *Config) { c.Expiry.After = "P0D" }},
		{"timeZone", func(c *Config) { c.TimeZone = "Mars/Olympus" }},
		{"earning.baseRate.per", func(c *Config) { c.Earning.BaseRate.Per = "0.00" }},
		{"earning.baseRate.per", func(c *Config) { c.Earning.BaseRate.Per = "2.005" }},
		{"earning.baseRate.points", func(c *Config) { c.Earning.BaseRate.Points = 0 }},
		{"earning.rounding", func(c *Config) { c.Earning.Rounding = "Truncate" }},
		{"earning.categoryMultipliers[1].multiplier", func(c *Config) { c.Earning.CategoryMultipliers[1].Multiplier = "-1" }},
		{"earning.categoryMultipliers[1].category", func(c *Config) { c.Earning.CategoryMultipliers[1].Category = "bakery" }},
		{"earning.minimumSpend", func(c *Config) { c.Earning.MinimumSpend = "1,00" }},
		{"pendingPeriod", func(c *Config) { c.PendingPeriod = "14 days" }},
		{"tiers.levels[2].threshold", func(c *Config) { c.Tiers.Levels[2].Threshold = 1000 }},
		{"tiers.levels[1].name", func(c *Config) { c.Tiers.Levels[1].Name = "Bronze" }},
		{"tiers.levels[2].discount", func(c *Config) { c.Tiers.Levels[2].Discount = "101" }},
		{"tiers.window.type", func(c *Config) { c.Tiers.Window.Type = "Monthly" }},
		{"tiers.downgrade", func(c *Config) { c.Tiers.Downgrade = "Sometimes" }},
		{"expiry.after", func(c *Config) { c.Expiry.After = "" }},
		{"expiry.policy", func(c *Config) { c.Expiry.Policy = "Monthly" }},
		{"redemption.pointValue", func(c *Config) { c.Redemption.PointValue = "1e-2" }},
		// The smallest redemption must be worth a minor unit at least: 1 point at
		// 0.008 EUR would spend a point for nothing (issue 16).
		{"redemption.minimumPoints", func(c *Config) { c.Redemption.PointValue = "0.008"; c.Redemption.MinimumPoints = 1 }},
		{"redemption.minimumPoints", func(c *Config) { c.Redemption.PointValue = "0" }},
		{"returns.negativeBalance", func(c *Config) { c.Returns.NegativeBalance = "Maybe" }},
		{"membership.fee", func(c *Config) { c.Membership = MembershipConfig{Type: "Paid", Period: "P1Y"} }},
		{"membership.pinnedTier", func(c *Config) {
			c.Membership = MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Platin"}
		}},
	}
	for _, tt := range tests {
		c := stadtBonus()
		tt.mutate(&c)
		_, err := Compile(c)
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: Compile() error = %v, want a FieldError", tt.field, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.field+": ") {
			t.Errorf("%s: error %q does not name the field", tt.field, err)
		}
	}
	if _, err := Compile(stadtBonus()); err != nil {
		t.Fatalf("the sample program does not compile: %v", err)
	}
	// 2 points at 0.008 EUR are 1.6 cents: the smallest redemption is worth one.
	c := stadtBonus()
	c.Redemption.PointValue, c.Redemption.MinimumPoints = "0.008", 2
	if _, err := Compile(c); err != nil {
		t.Fatalf("a smallest redemption of 2 points at 0.008: %v", err)
	}
}

func TestEarnPoints(t *testing.T) {
	p := compile(t, stadtBonus())
	halfUp := stadtBonus()
	halfUp.Earning.Rounding = "HalfUp"
	ph := compile(t, halfUp)
	const none, bronze, silber, gold = -1, 0, 1, 2
	tests := []struct {
		name        string
		program     *Program
		purchase    Purchase
		tier        int
		earnedToday int64
		want        int64
		exact       string
		capped      string
	}{
		{"3.99 EUR at 1 point per 2.00 EUR, floor", p, Purchase{Amount: 399}, none, 0, 1, "399/200", ""},
		{"3.99 EUR, half up", ph, Purchase{Amount: 399}, none, 0, 2, "399/200", ""},
		{"4.00 EUR", p, Purchase{Amount: 400}, none, 0, 2, "2", ""},
		{"1.99 EUR earns nothing but is above the minimum spend", p, Purchase{Amount: 199}, none, 0, 0, "199/200", ""},
		{"lines are rounded once, together", p, Purchase{Amount: 398, Lines: []Line{{Amount: 199}, {Amount: 199}}}, none, 0, 1, "199/100", ""},
		{"bakery doubles, tobacco earns nothing", p, Purchase{Amount: 1000, Lines: []Line{
			{Amount: 300, Category: "bakery"}, {Amount: 500, Category: "tobacco"}, {Amount: 200, Category: "print"},
		}}, none, 0, 4, "4", ""},
		{"the partner's default category applies to bare lines", p, Purchase{Amount: 300, DefaultCategory: "bakery"}, none, 0, 3, "3", ""},
		{"Bronze earns the base rate", p, Purchase{Amount: 1000}, bronze, 0, 5, "5", ""},
		{"Silber 1.25", p, Purchase{Amount: 1000}, silber, 0, 6, "25/4", ""},
		{"Gold 1.5", p, Purchase{Amount: 1000}, gold, 0, 7, "15/2", ""},
		{"the transaction cap", p, Purchase{Amount: 2_000_000}, none, 0, 5000, "10000", "transaction"},
		{"the daily cap leaves what is left of the day", p, Purchase{Amount: 400_000}, none, 9000, 1000, "2000", "day"},
		{"the daily cap, used up", p, Purchase{Amount: 400}, none, 10000, 0, "2", "day"},
		// 100.00 EUR less a 5.00 EUR referral discount: 95.00 EUR paid, 47.5 points.
		{"points on what is paid after a discount", p, Purchase{Amount: 10000, Discount: 500}, none, 0, 47, "95/2", ""},
		{"a discount spreads over the lines", p, Purchase{Amount: 1000, Discount: 100, Lines: []Line{
			{Amount: 500, Category: "bakery"}, {Amount: 500},
		}}, none, 0, 6, "27/4", ""},
	}
	for _, tt := range tests {
		got, err := tt.program.EarnPoints(tt.purchase, tt.tier, tt.earnedToday)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Points != tt.want || got.Exact.RatString() != tt.exact || got.Capped != tt.capped {
			t.Errorf("%s: got %d points (exact %s, capped %q), want %d (exact %s, capped %q)",
				tt.name, got.Points, got.Exact.RatString(), got.Capped, tt.want, tt.exact, tt.capped)
		}
	}

	below, err := p.EarnPoints(Purchase{Amount: 99}, none, 0)
	if err != nil || below.Points != 0 || !below.BelowMinimumSpend {
		t.Errorf("0.99 EUR under a 1.00 EUR minimum spend: %+v, %v", below, err)
	}
	for name, bad := range map[string]Purchase{
		"zero":                 {Amount: 0},
		"negative":             {Amount: -100},
		"lines short":          {Amount: 500, Lines: []Line{{Amount: 100}}},
		"lines over":           {Amount: 500, Lines: []Line{{Amount: 400}, {Amount: 400}}},
		"negative line":        {Amount: 500, Lines: []Line{{Amount: 600}, {Amount: -100}}},
		"lines past int64":     {Amount: 1 << 62, Lines: []Line{{Amount: 1 << 62}, {Amount: 1 << 62}}},
		"discount over amount": {Amount: 500, Discount: 501},
		"negative discount":    {Amount: 500, Discount: -1},
	} {
		if got, err := p.EarnPoints(bad, none, 0); !errors.Is(err, ErrBadPurchase) {
			t.Errorf("%s purchase: %+v, %v; want ErrBadPurchase", name, got, err)
		}
	}
}

func TestRedemptionValue(t *testing.T) {
	p := compile(t, stadtBonus())
	if v, err := p.RedemptionValueMinor(1234); err != nil || v != 1234 {
		t.Errorf("1234 points at 0.01 EUR = %d cents, %v", v, err)
	}
	c := stadtBonus()
	c.Redemption.PointValue = "0.008"
	p = compile(t, c)
	if v, err := p.RedemptionValueMinor(1234); err != nil || v != 987 {
		t.Errorf("1234 points at 0.008 EUR = %d cents (exact 9.872), want 987 rounded down; %v", v, err)
	}
	if got := p.RedemptionValue(1234).RatString(); got != "1234/125" {
		t.Errorf("exact value = %s", got)
	}
}

func TestBirthdayBonus(t *testing.T) {
	p := compile(t, stadtBonus())
	tests := []struct {
		name     string
		birthday Birthday
		last     int
		now      time.Time
		year     int
		due      bool
	}{
		{"on the day", Birthday{time.March, 5}, 2025, utc(2026, 3, 5, 12, 0), 2026, true},
		{"the day before", Birthday{time.March, 5}, 2025, utc(2026, 3, 4, 12, 0), 2026, false},
		{"later in the year, not yet granted", Birthday{time.March, 5}, 2025, utc(2026, 9, 1, 12, 0), 2026, true},
		{"already granted this year", Birthday{time.March, 5}, 2026, utc(2026, 9, 1, 12, 0), 2026, false},
		{"New Year in Berlin is still 31 December in UTC", Birthday{time.January, 1}, 2026, utc(2026, 12, 31, 23, 30), 2027, true},
		{"an hour earlier it is 2026 in Berlin", Birthday{time.January, 1}, 2026, utc(2026, 12, 31, 22, 30), 2026, false},
		{"29 February in a common year is the 28th", Birthday{time.February, 29}, 2026, utc(2027, 2, 28, 0, 0), 2027, true},
		{"29 February in a leap year", Birthday{time.February, 29}, 2027, utc(2028, 2, 28, 12, 0), 2028, false},
	}
	for _, tt := range tests {
		year, due := p.BirthdayBonusDue(tt.birthday, tt.last, tt.now)
		if year != tt.year || due != tt.due {
			t.Errorf("%s: got year %d due %v, want %d %v", tt.name, year, due, tt.year, tt.due)
		}
	}
}

func TestLotTerms(t *testing.T) {
	rolling := compile(t, stadtBonus())
	endOfYear := stadtBonus()
	endOfYear.Expiry = ExpiryConfig{Policy: "EndOfCalendarYear", AdditionalYears: 2}
	eoy := compile(t, endOfYear)
	inactive := stadtBonus()
	inactive.Expiry = ExpiryConfig{Policy: "Inactivity", After: "P18M"}
	ina := compile(t, inactive)
	never := stadtBonus()
	never.Expiry = ExpiryConfig{Policy: "Never"}
	nev := compile(t, never)

	at := func(y int, m time.Month, d, hh int) time.Time { return time.Date(y, m, d, hh, 0, 0, 0, berlin) }
	tests := []struct {
		name    string
		p       *Program
		earned  time.Time
		pending time.Time
		expires *time.Time
	}{
		{"rolling 36 months from 31 January", rolling, at(2026, 1, 31, 10), at(2026, 2, 14, 10), ptr(at(2029, 1, 31, 10))},
		{"rolling from a leap day", rolling, at(2028, 2, 29, 10), at(2028, 3, 14, 10), ptr(at(2031, 2, 28, 10))},
		{"end of the year plus two", eoy, at(2026, 6, 1, 10), at(2026, 6, 15, 10), ptr(at(2029, 1, 1, 0))},
		{"earned at 00:30 on New Year in Berlin (23:30 UTC the day before)", eoy, utc(2026, 12, 31, 23, 30), utc(2027, 1, 14, 23, 30), ptr(at(2030, 1, 1, 0))},
		{"never", nev, at(2026, 6, 1, 10), at(2026, 6, 15, 10), nil},
	}
	for _, tt := range tests {
		got := tt.p.LotTermsAt(tt.earned)
		if !got.PendingUntil.Equal(tt.pending) {
			t.Errorf("%s: pending until %s, want %s", tt.name, got.PendingUntil, tt.pending)
		}
		if (got.ExpiresAt == nil) != (tt.expires == nil) || (tt.expires != nil && !got.ExpiresAt.Equal(*tt.expires)) {
			t.Errorf("%s: expires %v, want %v", tt.name, got.ExpiresAt, tt.expires)
		}
		if got.ExpiresOnInactivity {
			t.Errorf("%s: ExpiresOnInactivity set", tt.name)
		}
	}
	terms := ina.LotTermsAt(at(2026, 6, 1, 10))
	if terms.ExpiresAt != nil || !terms.ExpiresOnInactivity {
		t.Errorf("inactivity lot terms: %+v", terms)
	}
	if exp, ok := ina.InactivityExpiry(at(2026, 8, 31, 10)); !ok || !exp.Equal(at(2028, 2, 29, 10)) {
		t.Errorf("inactivity expiry after 31 August 2026 + P18M = %s, %v; want 29 February 2028", exp, ok)
	}
	if _, ok := rolling.InactivityExpiry(at(2026, 8, 31, 10)); ok {
		t.Error("a rolling program has no inactivity expiry")
	}
}

func ptr[T any](v T) *T { return &v }

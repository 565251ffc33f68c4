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

package money

import (
	"errors"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad test rational %q", s)
	}
	return r
}

func TestParseDecimal(t *testing.T) {
	valid := map[string]string{
		"0": "0", "2.00": "2", "2.50": "5/2", "0.008": "1/125", "-12.5": "-25/2",
		"15": "15", "100.0000": "100", "999999999999999.999": "999999999999999999/1000",
	}
	for in, want := range valid {
		got, err := ParseDecimal(in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", in, err)
			continue
		}
		if got.Cmp(rat(t, want)) != 0 {
			t.Errorf("ParseDecimal(%q) = %s, want %s", in, got.RatString(), want)
		}
	}
	for _, in := range []string{
		"", "2,00", "1.5e2", "+1", " 1", "1 ", ".5", "5.", "007", "-0", "-0.00", "1.2.3",
		"0x10", "NaN", "Inf", "--1", "-", "١٢", strings.Repeat("9", MaxDecimalLength+1),
	} {
		if got, err := ParseDecimal(in); err == nil {
			t.Errorf("ParseDecimal(%q) = %s, want an error", in, got.RatString())
		} else if !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseDecimal(%q): error %v is not ErrSyntax", in, err)
		}
	}
}

func TestRound(t *testing.T) {
	tests := []struct {
		value                            string
		floor, ceiling, halfUp, halfEven int64
	}{
		// 3.99 EUR at 1 point per 2.00 EUR: 1.995 points.
		{"399/200", 1, 2, 2, 2},
		{"5/2", 2, 3, 3, 2},
		{"7/2", 3, 4, 4, 4},
		{"-5/2", -3, -2, -3, -2},
		{"-7/2", -4, -3, -4, -4},
		{"1/3", 0, 1, 0, 0},
		{"2/3", 0, 1, 1, 1},
		{"-1/3", -1, 0, 0, 0},
		{"4", 4, 4, 4, 4},
		{"0", 0, 0, 0, 0},
		{"1/1000000", 0, 1, 0, 0},
	}
	for _, tt := range tests {
		for mode, want := range map[RoundingMode]int64{Floor: tt.floor, Ceiling: tt.ceiling, HalfUp: tt.halfUp, HalfEven: tt.halfEven} {
			got, err := RoundInt64(rat(t, tt.value), mode)
			if err != nil || got != want {
				t.Errorf("RoundInt64(%s, %s) = %d, %v; want %d", tt.value, mode, got, err, want)
			}
		}
	}
	if _, err := RoundInt64(rat(t, "100000000000000000000"), Floor); !errors.Is(err, ErrRange) {
		t.Errorf("rounding 1e20 into int64: error %v, want ErrRange", err)
	}
	if _, err := ParseRoundingMode("Truncate"); err == nil {
		t.Error("ParseRoundingMode(Truncate) succeeded")
	}
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		value string
		scale int
		want  string
	}{
		{"2", 2, "2.00"}, {"1/125", 3, "0.008"}, {"-1/125", 6, "-0.008000"}, {"1/20", 2, "0.05"},
		{"1000", 0, "1000"}, {"-7/100", 2, "-0.07"}, {"0", 2, "0.00"},
	}
	for _, tt := range tests {
		got, err := FormatDecimal(rat(t, tt.value), tt.scale)
		if err != nil || got != tt.want {
			t.Errorf("FormatDecimal(%s, %d) = %q, %v; want %q", tt.value, tt.scale, got, err, tt.want)
		}
	}
	if got, err := FormatDecimal(rat(t, "1/125"), 2); err == nil {
		t.Errorf("FormatDecimal(0.008, 2) = %q: it must refuse to round", got)
	}
	if got, err := FormatExact(rat(t, "1/5")); err != nil || got != "0.2" {
		t.Errorf("FormatExact(1/5) = %q, %v", got, err)
	}
	if got, err := FormatExact(rat(t, "1/3")); err == nil {
		t.Errorf("FormatExact(1/3) = %q, want an error", got)
	}
}

func TestCurrencyAmounts(t *testing.T) {
	tests := []struct {
		currency, amount string
		minor            int64
		formatted        string
	}{
		{"EUR", "2.00", 200, "2.00"},
		{"EUR", "3.99", 399, "3.99"},
		{"EUR", "15", 1500, "15.00"},
		{"EUR", "0.5", 50, "0.50"},
		{"JPY", "500", 500, "500"},
		{"KWD", "1.234", 1234, "1.234"},
		{"EUR", "92233720368547758.07", 9223372036854775807, "92233720368547758.07"},
	}
	for _, tt := range tests {
		c := MustCurrency(tt.currency)
		got, err := c.ParseAmount(tt.amount)
		if err != nil || got != tt.minor {
			t.Errorf("%s.ParseAmount(%q) = %d, %v; want %d", tt.currency, tt.amount, got, err, tt.minor)
		}
		if f := c.Format(tt.minor); f != tt.formatted {
			t.Errorf("%s.Format(%d) = %q, want %q", tt.currency, tt.minor, f, tt.formatted)
		}
		if c.Major(tt.minor).Cmp(mustParse(t, tt.formatted)) != 0 {
			t.Errorf("%s.Major(%d) = %s", tt.currency, tt.minor, c.Major(tt.minor).RatString())
		}
	}
	for _, tt := range []struct{ currency, amount string }{
		{"EUR", "2.005"}, {"JPY", "1.5"}, {"EUR", "92233720368547758.08"}, {"EUR", "2,00"},
	} {
		if got, err := MustCurrency(tt.currency).ParseAmount(tt.amount); err == nil {
			t.Errorf("%s.ParseAmount(%q) = %d, want an error", tt.currency, tt.amount, got)
		}
	}
	for _, code := range []string{"eur", "EU", "EURO", "E1R", "", "XXX", "ZZZ", "XTS", "XAU", "HRK"} {
		if _, err := ParseCurrency(code); err == nil {
			t.Errorf("ParseCurrency(%q) succeeded", code)
		}
	}
	for code := range minorUnitExponents {
		if !iso4217[code] {
			t.Errorf("%s has a minor unit but is not in the list", code)
		}
	}
	if c := MustCurrency("CHF"); c.Exponent != 2 {
		t.Errorf("CHF exponent = %d, want 2", c.Exponent)
	}
}

func mustParse(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, err := ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzParseDecimal checks that whatever the parser accepts is written back the way
// it was read, at the scale it was read with.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "2.00", "-0.008", "1.5e2", "007", "", "-", "9.999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseDecimal(s)
		if err != nil {
			return
		}
		scale := 0
		if _, frac, ok := strings.Cut(s, "."); ok {
			scale = len(frac)
		}
		back, err := FormatDecimal(r, scale)
		if err != nil || back != s {
			t.Fatalf("ParseDecimal(%q) = %s, formatted back as %q, %v", s, r.RatString(), back, err)
		}
	})
}

// FuzzParseAmount checks that an accepted amount survives minor units and back.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"2.00", "3.99", "0.001", "92233720368547758.07", "92233720368547758.08", "-1.00"} {
		f.Add("EUR", s)
		f.Add("KWD", s)
	}
	f.Fuzz(func(t *testing.T, code, s string) {
		c, err := ParseCurrency(code)
		if err != nil {
			return
		}
		minor, err := c.ParseAmount(s)
		if err != nil {
			return
		}
		exact, _ := ParseDecimal(s)
		if c.Major(minor).Cmp(exact) != 0 {
			t.Fatalf("%s %q became %d minor units, which is %s", code, s, minor, c.Major(minor).RatString())
		}
		again, err := c.ParseAmount(c.Format(minor))
		if err != nil || again != minor {
			t.Fatalf("%s %d formatted as %q parsed back as %d, %v", code, minor, c.Format(minor), again, err)
		}
	})
}

// The API server's list of currencies (a CEL rule on CurrencyCode) is this
// package's: a program the API server accepts compiles.
func TestTheAPIListsTheSameCurrencies(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "api", "v1alpha1", "common_types.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(src), "self in [")
	list, _, ok2 := strings.Cut(list, "]")
	if !ok || !ok2 {
		t.Fatal("no currency list in api/v1alpha1/common_types.go")
	}
	api := map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		api[strings.Trim(c, "'")] = true
	}
	if len(api) != len(iso4217) {
		t.Errorf("the API lists %d currencies, this package %d", len(api), len(iso4217))
	}
	for c := range iso4217 {
		if !api[c] {
			t.Errorf("%s is missing from the API's list", c)
		}
	}
}

func TestCheckedAndSaturatingAdd(t *testing.T) {
	for _, tt := range []struct {
		a, b, sum int64
		ok        bool
		saturated int64
	}{
		{1, 2, 3, true, 3},
		{math.MaxInt64, 0, math.MaxInt64, true, math.MaxInt64},
		{math.MaxInt64, 1, 0, false, math.MaxInt64},
		{math.MaxInt64 / 2, math.MaxInt64/2 + 2, 0, false, math.MaxInt64},
		{math.MinInt64, -1, 0, false, math.MinInt64},
		{math.MinInt64, math.MaxInt64, -1, true, -1},
		{-5, 3, -2, true, -2},
	} {
		if sum, ok := AddInt64(tt.a, tt.b); sum != tt.sum || ok != tt.ok {
			t.Errorf("AddInt64(%d, %d) = %d, %v; want %d, %v", tt.a, tt.b, sum, ok, tt.sum, tt.ok)
		}
		if s := SaturatingAdd(tt.a, tt.b); s != tt.saturated {
			t.Errorf("SaturatingAdd(%d, %d) = %d, want %d", tt.a, tt.b, s, tt.saturated)
		}
	}
}

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

package period

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	valid := map[string]Period{
		"P14D":             {Days: 14},
		"P36M":             {Months: 36},
		"P1Y6M":            {Years: 1, Months: 6},
		"P2W":              {Weeks: 2},
		"PT12H":            {Hours: 12},
		"P1DT1H30M5S":      {Days: 1, Hours: 1, Minutes: 30, Seconds: 5},
		"P0D":              {},
		"P1Y2M3W4DT5H6M7S": {1, 2, 3, 4, 5, 6, 7},
	}
	for in, want := range valid {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{
		"", "P", "PT", "P1DT", "14D", "p14d", "P14", "P-1D", "P1.5D", "P1M1Y", "P1D1D",
		"PT1D", "P1H", "P999999D", "P 1D", "P1D ", "P1YT", "P+1D",
	} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, got)
		}
	}
}

func TestAddTo(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(loc *time.Location, y int, m time.Month, d, hh, mm int) time.Time {
		return time.Date(y, m, d, hh, mm, 0, 0, loc)
	}
	tests := []struct {
		name   string
		from   time.Time
		period string
		want   time.Time
	}{
		{"31 January plus a month is the end of February", at(time.UTC, 2026, 1, 31, 10, 0), "P1M", at(time.UTC, 2026, 2, 28, 10, 0)},
		{"in a leap year, the 29th", at(time.UTC, 2028, 1, 31, 10, 0), "P1M", at(time.UTC, 2028, 2, 29, 10, 0)},
		{"a leap day plus a year is 28 February", at(time.UTC, 2028, 2, 29, 0, 0), "P1Y", at(time.UTC, 2029, 2, 28, 0, 0)},
		{"a leap day plus four years is a leap day", at(time.UTC, 2028, 2, 29, 0, 0), "P4Y", at(time.UTC, 2032, 2, 29, 0, 0)},
		{"36 months", at(time.UTC, 2026, 11, 23, 8, 0), "P36M", at(time.UTC, 2029, 11, 23, 8, 0)},
		{"31 March plus 36 months", at(time.UTC, 2026, 3, 31, 0, 0), "P36M", at(time.UTC, 2029, 3, 31, 0, 0)},
		{"31 August plus a month", at(time.UTC, 2026, 8, 31, 0, 0), "P1M", at(time.UTC, 2026, 9, 30, 0, 0)},
		{"across the year", at(time.UTC, 2026, 12, 15, 0, 0), "P14D", at(time.UTC, 2026, 12, 29, 0, 0)},
		{"14 days across New Year", at(time.UTC, 2026, 12, 25, 0, 0), "P14D", at(time.UTC, 2027, 1, 8, 0, 0)},
		{"a day across the spring clock change keeps the wall clock", at(berlin, 2026, 3, 28, 12, 0), "P1D", at(berlin, 2026, 3, 29, 12, 0)},
		{"24 hours across it do not", at(berlin, 2026, 3, 28, 12, 0), "PT24H", at(berlin, 2026, 3, 29, 13, 0)},
		{"months and days: months first", at(time.UTC, 2026, 1, 31, 0, 0), "P1M1D", at(time.UTC, 2026, 3, 1, 0, 0)},
		{"zero", at(time.UTC, 2026, 1, 31, 0, 0), "P0D", at(time.UTC, 2026, 1, 31, 0, 0)},
	}
	for _, tt := range tests {
		got := MustParse(tt.period).AddTo(tt.from)
		if !got.Equal(tt.want) {
			t.Errorf("%s: %s + %s = %s, want %s", tt.name, tt.from, tt.period, got, tt.want)
		}
	}
	if got := MustParse("P1M").SubtractFrom(at(time.UTC, 2026, 3, 31, 0, 0)); !got.Equal(at(time.UTC, 2026, 2, 28, 0, 0)) {
		t.Errorf("31 March - P1M = %s, want 28 February", got)
	}
	if got := MustParse("P12M").SubtractFrom(at(time.UTC, 2026, 1, 15, 0, 0)); !got.Equal(at(time.UTC, 2025, 1, 15, 0, 0)) {
		t.Errorf("15 January 2026 - P12M = %s", got)
	}
}

// FuzzParse checks that an accepted period survives being written and read again
// (zero parts are dropped when written: "P0Y14D" becomes "P14D"), and that adding
// it never goes back in time.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"P14D", "P36M", "P1Y6M", "PT12H", "P1DT", "P", "P0D", "P1M1Y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(p.String())
		if err != nil || again != p {
			t.Fatalf("Parse(%q) = %+v, written %q, parsed back %+v, %v", s, p, p.String(), again, err)
		}
		from := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
		if p.AddTo(from).Before(from) {
			t.Fatalf("%s moved %s back in time to %s", s, from, p.AddTo(from))
		}
	})
}

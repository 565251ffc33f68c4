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
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxLength bounds the strings Parse accepts.
const MaxLength = 32

// ErrSyntax is returned for a string that is not an ISO 8601 duration.
var ErrSyntax = errors.New("not an ISO 8601 duration: want such as \"P14D\", \"P36M\", \"P1Y6M\" or \"PT12H\"")

// Period is an ISO 8601 duration in calendar units. Years and months are kept apart
// from days, and days apart from hours, because their length depends on the date
// and the time zone.
type Period struct {
	Years, Months, Weeks, Days, Hours, Minutes, Seconds int
}

// maxField bounds each number, so that no period overflows when added to a date.
const maxField = 99999

// Parse parses an ISO 8601 duration of the form PnYnMnWnDTnHnMnS. Every part is
// optional, but at least one must be present, in that order, and a T must be
// followed by a time part. Fractions and negative values are refused.
func Parse(s string) (Period, error) {
	var p Period
	if len(s) < 2 || len(s) > MaxLength || s[0] != 'P' {
		return p, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	date, clock, hasT := strings.Cut(s[1:], "T")
	if hasT && clock == "" {
		return p, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	if err := parseParts(date, "YMWD", []*int{&p.Years, &p.Months, &p.Weeks, &p.Days}); err != nil {
		return Period{}, fmt.Errorf("%q: %w", s, err)
	}
	if err := parseParts(clock, "HMS", []*int{&p.Hours, &p.Minutes, &p.Seconds}); err != nil {
		return Period{}, fmt.Errorf("%q: %w", s, err)
	}
	return p, nil
}

// parseParts reads numbers each followed by one of units, in the order of units.
func parseParts(s, units string, fields []*int) error {
	next := 0
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 5 {
			return ErrSyntax
		}
		u := strings.IndexByte(units[next:], s[i])
		if u < 0 {
			return ErrSyntax
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n > maxField {
			return ErrSyntax
		}
		next += u
		*fields[next] = n
		next++
		s = s[i+1:]
	}
	return nil
}

// MustParse is Parse for constants.
func MustParse(s string) Period {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// IsZero reports whether the period is empty (such as "P0D").
func (p Period) IsZero() bool { return p == Period{} }

// String writes the period in ISO 8601, with "P0D" for the empty one.
func (p Period) String() string {
	if p.IsZero() {
		return "P0D"
	}
	var b strings.Builder
	b.WriteByte('P')
	for _, part := range []struct {
		n    int
		unit byte
	}{{p.Years, 'Y'}, {p.Months, 'M'}, {p.Weeks, 'W'}, {p.Days, 'D'}} {
		if part.n != 0 {
			b.WriteString(strconv.Itoa(part.n))
			b.WriteByte(part.unit)
		}
	}
	if p.Hours != 0 || p.Minutes != 0 || p.Seconds != 0 {
		b.WriteByte('T')
		for _, part := range []struct {
			n    int
			unit byte
		}{{p.Hours, 'H'}, {p.Minutes, 'M'}, {p.Seconds, 'S'}} {
			if part.n != 0 {
				b.WriteString(strconv.Itoa(part.n))
				b.WriteByte(part.unit)
			}
		}
	}
	return b.String()
}

// AddTo adds the period to t in t's location: first years and months, keeping the
// day of the month but never running past the month's last day (31 January + P1M
// is 28 or 29 February, not 3 March); then weeks and days as calendar days, so a
// day across a daylight saving change still ends at the same wall-clock time; then
// the time part as elapsed time.
func (p Period) AddTo(t time.Time) time.Time {
	months := p.Years*12 + p.Months
	if months != 0 {
		y, m, d := t.Date()
		total := int(m) - 1 + months
		ty, tm := y+floorDiv(total, 12), time.Month(floorMod(total, 12)+1)
		if last := daysIn(ty, tm); d > last {
			d = last
		}
		hh, mm, ss := t.Clock()
		t = time.Date(ty, tm, d, hh, mm, ss, t.Nanosecond(), t.Location())
	}
	if days := p.Weeks*7 + p.Days; days != 0 {
		t = t.AddDate(0, 0, days)
	}
	return t.Add(time.Duration(p.Hours)*time.Hour + time.Duration(p.Minutes)*time.Minute + time.Duration(p.Seconds)*time.Second)
}

// SubtractFrom goes back by the period, with the same month-end rule: 31 March
// less P1M is the last day of February.
func (p Period) SubtractFrom(t time.Time) time.Time {
	neg := Period{-p.Years, -p.Months, -p.Weeks, -p.Days, -p.Hours, -p.Minutes, -p.Seconds}
	return neg.AddTo(t)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int) int { return a - floorDiv(a, b)*b }

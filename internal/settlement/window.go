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

package settlement

import (
	"fmt"
	"time"
)

// Period lengths, as PartnerCooperation spells them.
const (
	Weekly  = "Weekly"
	Monthly = "Monthly"
)

// Window is one settlement period: [Start, End) in the cooperation's time zone.
// Its ID is "2026-W47" for an ISO week and "2026-11" for a month.
type Window struct {
	ID         string
	Start, End time.Time
}

// windowAt is the period that contains t.
func windowAt(length string, t time.Time) (Window, error) {
	switch length {
	case Weekly:
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
		start := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // back to Monday
		year, week := start.ISOWeek()
		return Window{ID: fmt.Sprintf("%04d-W%02d", year, week), Start: start, End: start.AddDate(0, 0, 7)}, nil
	case Monthly:
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
		return Window{ID: fmt.Sprintf("%04d-%02d", start.Year(), int(start.Month())), Start: start, End: start.AddDate(0, 1, 0)}, nil
	}
	return Window{}, fmt.Errorf("%w: period length %q: want %s or %s", ErrInvalid, length, Weekly, Monthly)
}

// LastClosed is the latest period that ended at or before now, in loc.
func LastClosed(length string, loc *time.Location, now time.Time) (Window, error) {
	current, err := windowAt(length, now.In(loc))
	if err != nil {
		return Window{}, err
	}
	return windowAt(length, current.Start.Add(-time.Nanosecond))
}

// ParseWindow reads a period id of the given length in loc.
func ParseWindow(length, id string, loc *time.Location) (Window, error) {
	var year, n int
	var t time.Time
	switch length {
	case Weekly:
		if _, err := fmt.Sscanf(id, "%4d-W%2d", &year, &n); err != nil || len(id) != 8 {
			return Window{}, fmt.Errorf("%w: period %q: want an ISO week such as 2026-W47", ErrInvalid, id)
		}
		// 4 January is always in week 1.
		t = time.Date(year, time.January, 4, 12, 0, 0, 0, loc).AddDate(0, 0, 7*(n-1))
	case Monthly:
		if _, err := fmt.Sscanf(id, "%4d-%2d", &year, &n); err != nil || len(id) != 7 || n < 1 || n > 12 {
			return Window{}, fmt.Errorf("%w: period %q: want a month such as 2026-11", ErrInvalid, id)
		}
		t = time.Date(year, time.Month(n), 1, 12, 0, 0, 0, loc)
	default:
		return windowAt(length, time.Time{})
	}
	w, err := windowAt(length, t)
	if err == nil && w.ID != id {
		return Window{}, fmt.Errorf("%w: period %q does not exist (did you mean %s?)", ErrInvalid, id, w.ID)
	}
	return w, err
}

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
	"slices"
	"strings"
	"time"
)

// A promotion's window (issue 19): when it applies, decided by the service's
// clock in the program's time zone, so that a promotion starts and stops
// without a rollout. It runs from ValidFrom (inclusive) to ValidUntil
// (exclusive), both local date-times of the program's zone, and within that
// span, when it declares recurring windows, only inside one of them (say
// Saturdays 08:00 to 12:00). A recurring window whose end is not after its
// start runs across midnight into the next day (Friday 22:00 to 02:00 is
// Friday night). Times are wall-clock times: on the night clocks go forward a
// window's vanished hour is simply not there, and on the night they go back
// the repeated hour is inside the window both times.

// PromotionWindowConfig is a promotion's window as the rendered configuration
// carries it.
type PromotionWindowConfig struct {
	// ValidFrom and ValidUntil are local date-times ("2026-12-05T08:00:00") or
	// dates ("2026-12-05", midnight) in the program's zone; ValidUntil may be
	// empty for no end.
	ValidFrom  string `json:"validFrom"`
	ValidUntil string `json:"validUntil,omitempty"`
	// Recurring windows, when any, narrow the span to their hours.
	Recurring []RecurringWindowConfig `json:"recurring,omitempty"`
}

// RecurringWindowConfig is a weekly window: on each of Days, from From to
// Until ("08:00", "12:00"); an Until not after From ends on the next day.
type RecurringWindowConfig struct {
	Days  []string `json:"days"`
	From  string   `json:"from"`
	Until string   `json:"until"`
}

// PromotionWindow is a compiled window.
type PromotionWindow struct {
	From, Until time.Time // Until is zero for no end
	Recurring   []RecurringWindow
	loc         *time.Location
}

// RecurringWindow is a compiled weekly window, in seconds since local midnight.
type RecurringWindow struct {
	Days        [7]bool // by time.Weekday
	From, Until int
}

// Promotion states, as a Promotion's status shows them.
const (
	PromotionScheduled = "Scheduled"
	PromotionActive    = "Active"
	PromotionEnded     = "Ended"
)

var localLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

func parseLocal(field, s string, loc *time.Location) (time.Time, error) {
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fieldErr(field, "%q is not a local date-time like 2026-12-05T08:00:00 or a date like 2026-12-05", s)
}

func parseClock(field, s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if t, err = time.Parse("15:04:05", s); err != nil {
			return 0, fieldErr(field, "%q is not a time of day like 08:00", s)
		}
	}
	return t.Hour()*3600 + t.Minute()*60 + t.Second(), nil
}

// CompilePromotionWindow checks a window and compiles it for a zone.
func CompilePromotionWindow(c PromotionWindowConfig, loc *time.Location) (PromotionWindow, error) {
	w := PromotionWindow{loc: loc}
	var errs []error
	var err error
	if w.From, err = parseLocal("validFrom", c.ValidFrom, loc); err != nil {
		errs = append(errs, err)
	}
	if c.ValidUntil != "" {
		if w.Until, err = parseLocal("validUntil", c.ValidUntil, loc); err != nil {
			errs = append(errs, err)
		} else if !w.From.IsZero() && !w.Until.After(w.From) {
			errs = append(errs, fieldErr("validUntil", "%s is not after validFrom %s", c.ValidUntil, c.ValidFrom))
		}
	}
	for i, r := range c.Recurring {
		field := fmt.Sprintf("recurring[%d]", i)
		rw, rerrs := compileRecurring(field, r)
		errs = append(errs, rerrs...)
		w.Recurring = append(w.Recurring, rw)
	}
	return w, errors.Join(errs...)
}

func compileRecurring(field string, r RecurringWindowConfig) (RecurringWindow, []error) {
	var rw RecurringWindow
	var errs []error
	if len(r.Days) == 0 {
		errs = append(errs, fieldErr(field+".days", "name at least one day, like Saturday"))
	}
	for _, d := range r.Days {
		i := slices.IndexFunc([]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"},
			func(name string) bool { return name == strings.ToLower(d) })
		if i < 0 {
			errs = append(errs, fieldErr(field+".days", "%q is not a day of the week (Monday to Sunday)", d))
			continue
		}
		rw.Days[i] = true
	}
	var err error
	if rw.From, err = parseClock(field+".from", r.From); err != nil {
		errs = append(errs, err)
	}
	if rw.Until, err = parseClock(field+".until", r.Until); err != nil {
		errs = append(errs, err)
	}
	return rw, errs
}

// State is where the promotion's span stands at t.
func (w PromotionWindow) State(t time.Time) string {
	switch {
	case t.Before(w.From):
		return PromotionScheduled
	case !w.Until.IsZero() && !t.Before(w.Until):
		return PromotionEnded
	}
	return PromotionActive
}

// Applies says whether a purchase at t gets the promotion: inside the span
// and, when it declares recurring windows, inside one of them.
func (w PromotionWindow) Applies(t time.Time) bool {
	if w.State(t) != PromotionActive {
		return false
	}
	if len(w.Recurring) == 0 {
		return true
	}
	local := t.In(w.loc)
	clock := local.Hour()*3600 + local.Minute()*60 + local.Second()
	today, yesterday := local.Weekday(), (local.Weekday()+6)%7
	for _, r := range w.Recurring {
		if r.Until > r.From {
			if r.Days[today] && clock >= r.From && clock < r.Until {
				return true
			}
			continue
		}
		// Across midnight: from From on its day to Until on the next.
		if (r.Days[today] && clock >= r.From) || (r.Days[yesterday] && clock < r.Until) {
			return true
		}
	}
	return false
}

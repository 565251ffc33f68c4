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
	"slices"
	"time"

	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/period"
)

// Activity is one qualifying event for tiers: points earned (Basis PointsEarned)
// or money spent in minor units (AmountSpent). A return is negative activity at
// the time of the return, so that buying and returning does not buy a tier.
// Spending points is not activity: a tier never depends on the balance.
type Activity struct {
	At     time.Time
	Amount int64
}

// MembershipState is what the tier rules need to know of a paid membership.
type MembershipState struct {
	// PaidUntil is when the current fee runs out; zero when none was paid.
	PaidUntil time.Time
}

// TierStatus is a member's tier at a time.
type TierStatus struct {
	// Level is an index into Program.Tiers, or -1 for none.
	Level int
	// Name of the level, or "" for none.
	Name string
	// Qualifying is the activity in the current qualification window.
	Qualifying int64
	// Next is the level above Level, or -1 at the top; ToNext is the activity
	// still needed in the window to reach it.
	Next   int
	ToNext int64
	// Pinned says a current paid membership holds the level, not activity.
	Pinned bool
}

// TierAt computes a member's tier at t from their activity (any order) and
// membership.
//
//   - qualified(s) is the highest level whose threshold the activity in the
//     window ending at s reaches: the last Window.Period (the instant exactly one
//     period ago is outside it) or the calendar year of s in the program's zone.
//   - held(s) is the highest qualified level at any moment in [s-grace, s]: a member
//     keeps a level for the grace period after falling below it.
//   - Recalculate: the tier is held(t).
//   - Never: the tier is the highest qualified level ever reached.
//   - OneLevelPerPeriod: a member rises as soon as they qualify; at each review
//     (every Window.Period after the first activity, or each New Year for a
//     CalendarYear window) a member whose held level is lower drops one level,
//     never below the held level.
//
// A paid membership whose fee is current lifts the tier to its pinned level.
func (p *Program) TierAt(t time.Time, activity []Activity, m MembershipState) TierStatus {
	st := TierStatus{Level: -1, Next: -1}
	if len(p.Tiers) == 0 {
		return st
	}
	acts := slices.Clone(activity)
	slices.SortStableFunc(acts, func(a, b Activity) int { return a.At.Compare(b.At) })
	ev := tierEvaluator{p: p, acts: acts}

	switch p.Downgrade {
	case DowngradeNever:
		st.Level = ev.qualified(t)
		for _, a := range acts {
			if a.At.After(t) {
				break
			}
			st.Level = max(st.Level, ev.qualified(a.At))
		}
	case DowngradeOneLevelPerPeriod:
		st.Level = ev.oneLevelPerPeriod(t)
	default:
		st.Level = ev.held(t)
	}

	if pin := p.Membership.PinnedTier; pin >= 0 && m.PaidUntil.After(t) && pin > st.Level {
		st.Level, st.Pinned = pin, true
	}
	st.Qualifying = ev.sum(t)
	if st.Level >= 0 {
		st.Name = p.Tiers[st.Level].Name
	}
	if next := st.Level + 1; next < len(p.Tiers) {
		st.Next = next
		st.ToNext = max(p.Tiers[next].Threshold-st.Qualifying, 0)
	}
	return st
}

// ActivityHorizon is the earliest activity that can change the tier at t, so
// that a store need not read older history; false when all of it can matter
// (the Never and OneLevelPerPeriod policies remember the past).
func (p *Program) ActivityHorizon(t time.Time) (time.Time, bool) {
	if len(p.Tiers) == 0 || p.Downgrade != DowngradeRecalculate {
		return time.Time{}, false
	}
	from := p.Grace.SubtractFrom(t.In(p.Location))
	start, _ := tierEvaluator{p: p}.windowStart(from)
	return start, true
}

type tierEvaluator struct {
	p    *Program
	acts []Activity // sorted by time
}

// windowStart is where the window ending at s begins, and whether that instant
// belongs to the window.
func (e tierEvaluator) windowStart(s time.Time) (time.Time, bool) {
	if e.p.Window.CalendarYear {
		local := s.In(e.p.Location)
		return time.Date(local.Year(), time.January, 1, 0, 0, 0, 0, e.p.Location), true
	}
	return e.p.Window.Period.SubtractFrom(s.In(e.p.Location)), false
}

// TierDiscount is what a member of level (an index into Tiers, -1 for none) is
// discounted on a purchase of amount minor units: the level's percentage, rounded
// half up; 0 for a level without one. It comes off first: a referral code's
// discount applies to what is left.
func (p *Program) TierDiscount(level int, amount int64) int64 {
	if level < 0 || level >= len(p.Tiers) || p.Tiers[level].Discount == nil || amount <= 0 {
		return 0
	}
	return PercentOf(amount, p.Tiers[level].Discount)
}

// sum is the activity in the window ending at s.
func (e tierEvaluator) sum(s time.Time) int64 {
	start, inclusive := e.windowStart(s)
	var total int64
	for _, a := range e.acts {
		if a.At.After(s) {
			break
		}
		if a.At.After(start) || (inclusive && a.At.Equal(start)) {
			total = money.SaturatingAdd(total, a.Amount) // only compared with thresholds
		}
	}
	return total
}

// qualified is the highest level the window ending at s reaches, or -1.
func (e tierEvaluator) qualified(s time.Time) int {
	total := e.sum(s)
	level := -1
	for i, t := range e.p.Tiers {
		if total >= t.Threshold {
			level = i
		}
	}
	return level
}

// held is the highest qualified level in [s-grace, s]. qualified only rises at an
// activity, so it is enough to look at s-grace and at each activity after it.
func (e tierEvaluator) held(s time.Time) int {
	from := e.p.Grace.SubtractFrom(s.In(e.p.Location))
	level := e.qualified(from)
	for _, a := range e.acts {
		if a.At.After(s) {
			break
		}
		if a.At.After(from) {
			level = max(level, e.qualified(a.At))
		}
	}
	return max(level, e.qualified(s))
}

// oneLevelPerPeriod replays activity and reviews up to t.
func (e tierEvaluator) oneLevelPerPeriod(t time.Time) int {
	level := -1
	if len(e.acts) == 0 || e.acts[0].At.After(t) {
		return e.qualified(t)
	}
	reviews := e.reviews(e.acts[0].At, t)
	i := 0
	for _, r := range reviews {
		for ; i < len(e.acts) && e.acts[i].At.Before(r); i++ {
			level = max(level, e.qualified(e.acts[i].At))
		}
		if h := e.held(r); h < level {
			level = max(h, level-1)
		}
	}
	for ; i < len(e.acts) && !e.acts[i].At.After(t); i++ {
		level = max(level, e.qualified(e.acts[i].At))
	}
	return max(level, e.qualified(t))
}

// reviews are the review instants after first and not after t.
func (e tierEvaluator) reviews(first, t time.Time) []time.Time {
	var out []time.Time
	if e.p.Window.CalendarYear {
		for y := first.In(e.p.Location).Year() + 1; ; y++ {
			r := time.Date(y, time.January, 1, 0, 0, 0, 0, e.p.Location)
			if r.After(t) {
				return out
			}
			out = append(out, r)
		}
	}
	anchor := first.In(e.p.Location)
	for k := 1; ; k++ {
		// Scale the period rather than adding it k times, so that month-end
		// clamping does not drift (31 Jan, 28 Feb, 28 Mar, ...).
		r := scale(e.p.Window.Period, k).AddTo(anchor)
		if r.After(t) || k > 100000 {
			return out
		}
		out = append(out, r)
	}
}

func scale(p period.Period, k int) period.Period {
	return period.Period{
		Years: p.Years * k, Months: p.Months * k, Weeks: p.Weeks * k, Days: p.Days * k,
		Hours: p.Hours * k, Minutes: p.Minutes * k, Seconds: p.Seconds * k,
	}
}

// TierDropsAt is the first instant after t at which the member's tier falls if
// she has no further activity and pays no further fee, and false when it never
// does (a Never policy with no fee running out, or no level to fall from).
//
// Without new activity a tier never rises: the window only loses activity, a
// grace period only ends, a review only lowers, a fee only runs out. So the
// level is a falling step function of time after t, and the first instant it
// is below its value at t is found by bisection, to the microsecond, between t
// and a time by which every window, grace period and review has passed.
func (p *Program) TierDropsAt(t time.Time, activity []Activity, m MembershipState) (time.Time, bool) {
	if len(p.Tiers) == 0 {
		return time.Time{}, false
	}
	level := func(s time.Time) int { return p.TierAt(s, activity, m).Level }
	now := level(t)
	far := t
	for _, a := range activity {
		if a.At.After(far) {
			far = a.At
		}
	}
	if m.PaidUntil.After(far) {
		far = m.PaidUntil
	}
	// One window and one grace period per level (OneLevelPerPeriod drops one
	// level per review), and one more of each for a review's anchor.
	for range len(p.Tiers) + 2 {
		far = p.Grace.AddTo(far.In(p.Location))
		if p.Window.CalendarYear {
			far = far.AddDate(1, 0, 1)
		} else {
			far = p.Window.Period.AddTo(far).AddDate(0, 0, 1)
		}
	}
	if level(far) >= now {
		return time.Time{}, false
	}
	lo, hi := t, far
	for hi.Sub(lo) > time.Microsecond {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Microsecond)
		if !mid.After(lo) {
			mid = lo.Add(time.Microsecond)
		}
		if level(mid) < now {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi.UTC(), true
}

// TierRisesWith says whether activity of amount at the instant st was computed
// for lifts the tier above st.Level. Activity at t changes only the window
// ending at t, so under every policy the tier with it is the higher of st.Level
// and the level the window's new sum reaches: a write can tell without
// computing the tier again.
func (p *Program) TierRisesWith(st TierStatus, amount int64) bool {
	total := money.SaturatingAdd(st.Qualifying, amount)
	for i := len(p.Tiers) - 1; i > st.Level; i-- {
		if total >= p.Tiers[i].Threshold {
			return true
		}
	}
	return false
}

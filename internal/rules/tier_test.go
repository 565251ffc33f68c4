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
	"testing"
	"time"
)

func tierProgram(t *testing.T, window WindowConfig, downgrade, grace string) *Program {
	t.Helper()
	c := stadtBonus()
	c.Tiers.Window = window
	c.Tiers.Downgrade = downgrade
	c.Tiers.GracePeriod = grace
	c.Membership = MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
	return compile(t, c)
}

func TestTierAt(t *testing.T) {
	rolling := WindowConfig{Type: "Rolling", Period: "P12M"}
	calendar := WindowConfig{Type: "CalendarYear"}
	recalc := tierProgram(t, rolling, "Recalculate", "P0D")
	grace := tierProgram(t, rolling, "Recalculate", "P1M")
	never := tierProgram(t, rolling, "Never", "P0D")
	oneLevel := tierProgram(t, rolling, "OneLevelPerPeriod", "P0D")
	calRecalc := tierProgram(t, calendar, "Recalculate", "P0D")
	calOneLevel := tierProgram(t, calendar, "OneLevelPerPeriod", "P0D")

	goldIn2025 := []Activity{{At: utc(2025, 1, 10, 12, 0), Amount: 5200}}
	tests := []struct {
		name       string
		p          *Program
		activity   []Activity
		m          MembershipState
		at         time.Time
		want       string
		qualifying int64
		toNext     int64
		pinned     bool
	}{
		{"no activity is Bronze (threshold 0)", recalc, nil, MembershipState{}, utc(2026, 1, 1, 0, 0), "Bronze", 0, 1000, false},
		{"1,200 points in the window is Silber", recalc, []Activity{
			{At: utc(2026, 3, 1, 0, 0), Amount: 700}, {At: utc(2026, 5, 1, 0, 0), Amount: 500},
		}, MembershipState{}, utc(2026, 6, 1, 0, 0), "Silber", 1200, 3800, false},
		{"a return is negative activity", recalc, []Activity{
			{At: utc(2026, 3, 1, 0, 0), Amount: 1200}, {At: utc(2026, 3, 20, 0, 0), Amount: -300},
		}, MembershipState{}, utc(2026, 6, 1, 0, 0), "Bronze", 900, 100, false},
		{"activity after t does not count", recalc, []Activity{{At: utc(2026, 7, 1, 0, 0), Amount: 1200}},
			MembershipState{}, utc(2026, 6, 1, 0, 0), "Bronze", 0, 1000, false},
		{"Gold inside the window", recalc, goldIn2025, MembershipState{}, utc(2026, 1, 9, 12, 0), "Gold", 5200, 0, false},
		{"exactly twelve months later it has left the window", recalc, goldIn2025, MembershipState{}, utc(2026, 1, 10, 12, 0), "Bronze", 0, 1000, false},
		{"a month of grace keeps Gold", grace, goldIn2025, MembershipState{}, utc(2026, 2, 9, 12, 0), "Gold", 0, 0, false},
		{"after the grace it is gone", grace, goldIn2025, MembershipState{}, utc(2026, 2, 10, 12, 1), "Bronze", 0, 1000, false},
		{"Never keeps the highest level", never, goldIn2025, MembershipState{}, utc(2030, 1, 1, 0, 0), "Gold", 0, 0, false},
		{"one level per period: before the first review", oneLevel, goldIn2025, MembershipState{}, utc(2026, 1, 10, 11, 0), "Gold", 5200, 0, false},
		{"one level per period: the first review drops to Silber", oneLevel, goldIn2025, MembershipState{}, utc(2026, 6, 1, 0, 0), "Silber", 0, 5000, false},
		{"one level per period: the second review drops to Bronze", oneLevel, goldIn2025, MembershipState{}, utc(2027, 1, 10, 12, 0), "Bronze", 0, 1000, false},
		{"one level per period: qualifying again rises at once", oneLevel, []Activity{goldIn2025[0], {At: utc(2026, 6, 1, 0, 0), Amount: 5000}},
			MembershipState{}, utc(2026, 6, 2, 0, 0), "Gold", 5000, 0, false},
		{"calendar year: Gold until New Year in Berlin", calRecalc, []Activity{{At: utc(2026, 12, 20, 0, 0), Amount: 5000}},
			MembershipState{}, utc(2026, 12, 31, 22, 30), "Gold", 5000, 0, false},
		{"calendar year: 23:30 UTC on 31 December is 2027 in Berlin", calRecalc, []Activity{{At: utc(2026, 12, 20, 0, 0), Amount: 5000}},
			MembershipState{}, utc(2026, 12, 31, 23, 30), "Bronze", 0, 1000, false},
		{"calendar year: activity at 00:30 Berlin on New Year counts for the new year", calRecalc, []Activity{{At: utc(2026, 12, 31, 23, 30), Amount: 1000}},
			MembershipState{}, utc(2027, 1, 2, 0, 0), "Silber", 1000, 4000, false},
		{"calendar year, one level per period: New Year drops one level", calOneLevel, []Activity{{At: utc(2026, 12, 20, 0, 0), Amount: 5000}},
			MembershipState{}, utc(2027, 3, 1, 0, 0), "Silber", 0, 5000, false},
		{"a current paid membership pins Gold", recalc, nil, MembershipState{PaidUntil: utc(2026, 12, 31, 0, 0)}, utc(2026, 6, 1, 0, 0), "Gold", 0, 0, true},
		{"a lapsed one does not", recalc, nil, MembershipState{PaidUntil: utc(2026, 5, 31, 0, 0)}, utc(2026, 6, 1, 0, 0), "Bronze", 0, 1000, false},
	}
	for _, tt := range tests {
		got := tt.p.TierAt(tt.at, tt.activity, tt.m)
		if got.Name != tt.want || got.Qualifying != tt.qualifying || got.ToNext != tt.toNext || got.Pinned != tt.pinned {
			t.Errorf("%s: got %s (qualifying %d, to next %d, pinned %v), want %s (%d, %d, %v)",
				tt.name, got.Name, got.Qualifying, got.ToNext, got.Pinned, tt.want, tt.qualifying, tt.toNext, tt.pinned)
		}
	}

	noTiers := stadtBonus()
	noTiers.Tiers = nil
	if st := compile(t, noTiers).TierAt(utc(2026, 1, 1, 0, 0), goldIn2025, MembershipState{}); st.Level != -1 || st.Name != "" {
		t.Errorf("a program without tiers gave %+v", st)
	}
}

// The horizon is right when dropping all activity before it never changes a tier.
func TestActivityHorizon(t *testing.T) {
	activity := []Activity{
		{At: utc(2024, 2, 1, 0, 0), Amount: 6000}, {At: utc(2025, 1, 10, 12, 0), Amount: 900},
		{At: utc(2025, 6, 1, 0, 0), Amount: 300}, {At: utc(2025, 12, 24, 0, 0), Amount: 4000},
	}
	for _, p := range []*Program{
		tierProgram(t, WindowConfig{Type: "Rolling", Period: "P12M"}, "Recalculate", "P0D"),
		tierProgram(t, WindowConfig{Type: "Rolling", Period: "P12M"}, "Recalculate", "P2M"),
		tierProgram(t, WindowConfig{Type: "CalendarYear"}, "Recalculate", "P1M"),
	} {
		for at := utc(2025, 1, 1, 0, 0); at.Before(utc(2027, 3, 1, 0, 0)); at = at.AddDate(0, 0, 9) {
			horizon, ok := p.ActivityHorizon(at)
			if !ok {
				t.Fatal("Recalculate has a horizon")
			}
			var recent []Activity
			for _, a := range activity {
				if !a.At.Before(horizon) {
					recent = append(recent, a)
				}
			}
			if all, cut := p.TierAt(at, activity, MembershipState{}), p.TierAt(at, recent, MembershipState{}); all != cut {
				t.Fatalf("at %s the horizon %s changes the tier: %+v, %+v", at, horizon, all, cut)
			}
		}
	}
	if _, ok := tierProgram(t, WindowConfig{Type: "Rolling", Period: "P12M"}, "Never", "P0D").ActivityHorizon(utc(2026, 1, 1, 0, 0)); ok {
		t.Error("Never needs the whole history")
	}
}

// TierDropsAt names the first instant the level is lower, checked against
// TierAt a microsecond before and at it, for each policy, with and without a
// fee that runs out; and says never when nothing can lower the tier.
func TestTierDropsAt(t *testing.T) {
	rolling := WindowConfig{Type: "Rolling", Period: "P12M"}
	programs := map[string]*Program{
		"recalculate":        tierProgram(t, rolling, "Recalculate", "P0D"),
		"grace":              tierProgram(t, rolling, "Recalculate", "P1M"),
		"never":              tierProgram(t, rolling, "Never", "P0D"),
		"one level":          tierProgram(t, rolling, "OneLevelPerPeriod", "P0D"),
		"calendar":           tierProgram(t, WindowConfig{Type: "CalendarYear"}, "Recalculate", "P0D"),
		"calendar one level": tierProgram(t, WindowConfig{Type: "CalendarYear"}, "OneLevelPerPeriod", "P0D"),
	}
	activity := []Activity{
		{At: utc(2025, 3, 31, 9, 0), Amount: 800}, {At: utc(2025, 9, 30, 18, 0), Amount: 4400},
		{At: utc(2025, 10, 2, 8, 0), Amount: -200},
	}
	fee := MembershipState{PaidUntil: utc(2026, 2, 1, 0, 0)}
	at := utc(2025, 11, 1, 0, 0)
	// Never keeps Gold, which is also the pinned level: the fee's end lowers nothing.
	wantNever := map[string]bool{"never": true}
	for name, p := range programs {
		for _, m := range []MembershipState{{}, fee} {
			drop, ok := p.TierDropsAt(at, activity, m)
			if !ok {
				if !wantNever[name] {
					t.Errorf("%s (fee until %s): no drop found", name, m.PaidUntil)
				}
				continue
			}
			if wantNever[name] {
				t.Errorf("%s: a drop at %s where there is none", name, drop)
			}
			before, after := p.TierAt(drop.Add(-time.Microsecond), activity, m), p.TierAt(drop, activity, m)
			if now := p.TierAt(at, activity, m); before.Level != now.Level || after.Level >= now.Level {
				t.Errorf("%s (fee until %s): drop at %s, but the level is %d then %d around it, %d at the start",
					name, m.PaidUntil, drop, before.Level, after.Level, now.Level)
			}
		}
	}
	// Gold (5,000) from activity in the rolling window: the drop is when the
	// purchase of 31 March leaves it, twelve months later (4,200 is Silber).
	drop, _ := programs["recalculate"].TierDropsAt(at, activity, MembershipState{})
	if want := utc(2026, 3, 31, 9, 0); !drop.Equal(want) {
		t.Errorf("the Gold purchase leaves the window at %s, got %s", want, drop)
	}
	if _, ok := programs["recalculate"].TierDropsAt(at, nil, MembershipState{}); ok {
		t.Error("a member with no activity has nothing to lose")
	}
}

// TierRisesWith agrees with computing the tier again with the new activity,
// under every policy, for purchases and returns of several sizes, with and
// without a fee that pins a level.
func TestTierRisesWithAgreesWithTierAt(t *testing.T) {
	rolling := WindowConfig{Type: "Rolling", Period: "P12M"}
	programs := []*Program{
		tierProgram(t, rolling, "Recalculate", "P0D"), tierProgram(t, rolling, "Recalculate", "P1M"),
		tierProgram(t, rolling, "Never", "P0D"), tierProgram(t, rolling, "OneLevelPerPeriod", "P0D"),
		tierProgram(t, WindowConfig{Type: "CalendarYear"}, "Recalculate", "P0D"),
		tierProgram(t, WindowConfig{Type: "CalendarYear"}, "OneLevelPerPeriod", "P0D"),
	}
	histories := [][]Activity{
		nil,
		{{At: utc(2025, 3, 31, 9, 0), Amount: 800}, {At: utc(2025, 9, 30, 18, 0), Amount: 4400}},
		{{At: utc(2024, 6, 1, 0, 0), Amount: 6000}, {At: utc(2025, 10, 2, 8, 0), Amount: -200}},
		{{At: utc(2025, 12, 1, 0, 0), Amount: 990}},
	}
	checked, rises := 0, 0
	for _, p := range programs {
		for _, acts := range histories {
			for _, m := range []MembershipState{{}, {PaidUntil: utc(2026, 2, 1, 0, 0)}} {
				for _, at := range []time.Time{utc(2025, 12, 31, 23, 30), utc(2026, 4, 1, 0, 0), utc(2026, 10, 15, 0, 0)} {
					for _, x := range []int64{0, 5, 10, 300, 4200, 5000, -100} {
						before := p.TierAt(at, acts, m)
						after := p.TierAt(at, append(slices.Clone(acts), Activity{At: at, Amount: x}), m)
						if got, want := p.TierRisesWith(before, x), after.Level > before.Level; got != want {
							t.Errorf("%+v, %v at %s, %d more: rises %v, TierAt says %d to %d", p.Downgrade, acts, at, x, got, before.Level, after.Level)
						}
						checked++
						if after.Level > before.Level {
							rises++
						}
					}
				}
			}
		}
	}
	if rises == 0 || rises == checked {
		t.Fatalf("%d of %d cases rise: the cases do not tell rising from staying", rises, checked)
	}
}

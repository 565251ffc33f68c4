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

package accrual

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/rules"
)

// The calendar through the service (issue 16: its own tests ran with the sweep
// off and never drove a member through tiers by purchases). The ledger's clock is
// the test's (production's is the wall clock, and no flag moves it); the sweep is
// the service's own, run when the test says. Every figure is computed by hand:
// 1 point per 2.00 EUR; Silber from 1,000 points in a rolling twelve months (×1.25,
// 2 % off), Gold from 5,000 (×1.5, 5 % off).
func TestAMemberClimbsAndDropsByTheCalendar(t *testing.T) {
	type purchase struct {
		amount, discount, points int64
		tier                     string // the member's level after it
	}
	climb := []purchase{
		{200000, 0, 1000, "Silber"},   // Bronze: 2,000.00 earns 1,000
		{10000, 200, 61, "Silber"},    // Silber: 2.00 off, 98.00 → 49 × 1.25 = 61.25
		{800000, 16000, 4900, "Gold"}, // Silber: 160.00 off, 7,840.00 → 3,920 × 1.25
		{10000, 500, 71, "Gold"},      // Gold: 5.00 off, 95.00 → 47.5 × 1.5 = 71.25
	}
	for _, policy := range []string{"Recalculate", "Never", "OneLevelPerPeriod"} {
		t.Run(policy, func(t *testing.T) {
			clock := &movableClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
			f := newFixtureWith(t, clock, ledger.SQLite, func(c *accrualapi.Config) {
				withTiersAndClub(c)
				c.Rules.Membership = rules.MembershipConfig{Type: "Free"}
				c.Rules.Tiers.Downgrade = policy
			})
			f.expect(f.call("POST", "/v1/members", drucker, "e", map[string]any{"member": "anna"}), http.StatusOK)
			buy := func(key string, p purchase) {
				t.Helper()
				r := f.expect(f.call("POST", "/v1/earn", drucker, key, map[string]any{"member": "anna", "amount": p.amount, "currency": "EUR"}), http.StatusOK)
				if num(r, "discount") != p.discount || num(r, "points") != p.points {
					t.Fatalf("%s on %s: %s; want discount %d and %d points", key, clock.Now().Format(time.DateOnly), r.raw, p.discount, p.points)
				}
				tierIs(t, f, p.tier)
			}
			for i, p := range climb {
				buy(fmt.Sprint("climb-", i), p)
				clock.AddDate(0, 0, 1)
			}
			// A year and four days after the first purchase (2027-01-09) none of it
			// is in the window.
			clock.AddDate(1, 0, 0)
			switch policy {
			case "Recalculate": // the level follows the window: Bronze, 50 points
				tierIs(t, f, "Bronze")
				buy("after", purchase{10000, 0, 50, "Bronze"})
			case "Never": // once Gold, always Gold
				tierIs(t, f, "Gold")
				buy("after", purchase{10000, 500, 71, "Gold"})
			case "OneLevelPerPeriod":
				// Reviewed on 2027-01-05 with 5,032 points in its window (the first
				// purchase was at its start, which it excludes): still Gold. The
				// review of 2028-01-05 finds 71 and takes one level: Silber.
				tierIs(t, f, "Gold")
				buy("after", purchase{10000, 500, 71, "Gold"})
				clock.AddDate(0, 11, 28) // 2028-01-06
				tierIs(t, f, "Silber")
				buy("later", purchase{10000, 200, 61, "Silber"})
			}
		})
	}
}

func tierIs(t *testing.T, f *fixture, want string) {
	t.Helper()
	m := f.expect(f.call("GET", "/v1/members/anna", drucker, "", nil), http.StatusOK)
	if got := m.body["tier"].(map[string]any)["name"]; got != want {
		t.Fatalf("anna is %v, want %s: %s", got, want, m.raw)
	}
}

// The birthday bonus arrives from the service's sweep once a year, and a
// redemption below minimumPoints is refused.
func TestTheSweepGrantsTheBirthdayBonusOncePerYear(t *testing.T) {
	clock := &movableClock{t: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	f := newFixtureWith(t, clock, ledger.SQLite, func(c *accrualapi.Config) {
		c.Rules.Earning.BirthdayBonus = 100
		c.Rules.Redemption.MinimumPoints = 100
	})
	f.expect(f.call("POST", "/v1/members", drucker, "e", map[string]any{"member": "anna", "birthday": "05-04"}), http.StatusOK)
	bonuses := func() (n int) {
		t.Helper()
		h := f.expect(f.call("GET", "/v1/members/anna/history", "admin", "", nil), http.StatusOK)
		for _, e := range h.body["entries"].([]any) {
			if e.(map[string]any)["kind"] == accrualapi.KindBirthdayBonus {
				n++
			}
		}
		return n
	}
	sweep := func() { f.server.sweepOnce(context.Background()) }
	for _, step := range []struct {
		days, want int
	}{
		{0, 0},   // 1 May: not yet
		{2, 0},   // 3 May
		{1, 1},   // 4 May: granted
		{0, 1},   // a second sweep the same day grants nothing
		{30, 1},  // and nothing later that year
		{334, 1}, // 3 May 2027
		{1, 2},   // 4 May 2027: the next year's
	} {
		clock.AddDate(0, 0, step.days)
		sweep()
		sweep()
		if got := bonuses(); got != step.want {
			t.Fatalf("on %s: %d birthday bonuses, want %d", clock.Now().Format(time.DateOnly), got, step.want)
		}
	}
	// 50 + 2 × 100 points: 99 are below the minimum, 100 are not.
	r := f.expect(f.call("POST", "/v1/redeem", drucker, "r1", map[string]any{"member": "anna", "points": 99}), http.StatusUnprocessableEntity)
	if r.body["type"] != "https://treue.dev/problems/below-minimum-redemption" {
		t.Fatalf("below the minimum: %s", r.raw)
	}
	r = f.expect(f.call("POST", "/v1/redeem", drucker, "r2", map[string]any{"member": "anna", "points": 100}), http.StatusOK)
	if num(r, "value") != 100 {
		t.Fatalf("the minimum: %s", r.raw)
	}
	// Lots expire 36 months after they were earned: in May 2030 the sweep, by
	// the ledger's clock (it read the wall clock before), writes the expiry of
	// the 150 points left.
	clock.AddDate(3, 0, 1)
	sweep()
	h := f.expect(f.call("GET", "/v1/members/anna/history", "admin", "", nil), http.StatusOK)
	var expired int64
	for _, e := range h.body["entries"].([]any) {
		if e := e.(map[string]any); e["kind"] == accrualapi.KindExpire {
			expired -= int64(e["points"].(float64))
		}
	}
	if expired != 150 {
		t.Fatalf("the sweep wrote %d points expired, want 150: %s", expired, h.raw)
	}
}

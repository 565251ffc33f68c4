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
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/rules"
)

// movableClock is the ledger's clock in a test: only the test moves it.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) AddDate(years, months, days int) {
	c.mu.Lock()
	c.t = c.t.AddDate(years, months, days)
	c.mu.Unlock()
}

// withTiersAndClub is the test program with three levels (Silber and Gold with
// a multiplier and a discount), a rolling twelve-month window, and a paid club
// that pins Gold for 89.90 EUR a year.
func withTiersAndClub(c *accrualapi.Config) {
	c.Rules.Tiers = &rules.TiersConfig{
		Levels: []rules.TierLevelConfig{
			{Name: "Bronze", Threshold: 0},
			{Name: "Silber", Threshold: 1000, EarnMultiplier: "1.25", Discount: "2"},
			{Name: "Gold", Threshold: 5000, EarnMultiplier: "1.5", Discount: "5"},
		},
		Window: rules.WindowConfig{Type: "Rolling", Period: "P12M"},
	}
	c.Rules.Membership = rules.MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
}

// The paid club through the service (issue 16: the ledger could record a fee and
// a lapse, but no route reached them). A member pays the fee at the bakery's
// till, is pinned to Gold, earns at the printer with Gold's multiplier and
// discount; the fee is in the bakery's settlement export; the admin lapses the
// membership with a refund, which the export carries back against the bakery.
func TestThePaidClubThroughTheService(t *testing.T) {
	for _, backend := range []ledger.Backend{ledger.SQLite, ledger.PostgreSQL} {
		t.Run(string(backend), func(t *testing.T) {
			clock := &movableClock{t: time.Date(2026, 11, 17, 10, 0, 0, 0, time.UTC)}
			f := newFixtureWith(t, clock, backend, withTiersAndClub)
			f.expect(f.call("POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"}), http.StatusOK)
			m := f.expect(f.call("GET", "/v1/members/anna", drucker, "", nil), http.StatusOK)
			if ms := m.body["membership"].(map[string]any); ms["active"] != false || ms["paidUntil"] != nil {
				t.Fatalf("before paying: %s", m.raw)
			}
			fee := map[string]any{"member": "anna", "amount": 8990, "currency": "EUR"}
			// Who may sell it, and what.
			f.expect(f.call("POST", "/v1/memberships", "admin", "f0", fee), http.StatusForbidden)
			f.expect(f.call("POST", "/v1/memberships", baecker, "f1", map[string]any{"member": "anna", "amount": 8000, "currency": "EUR"}), http.StatusUnprocessableEntity)
			f.expect(f.call("POST", "/v1/memberships", baecker, "f2", map[string]any{"member": "anna", "amount": 8990, "currency": "CHF"}), http.StatusUnprocessableEntity)
			paid := f.expect(f.call("POST", "/v1/memberships", baecker, "f3", fee), http.StatusOK)
			if paid.body["paidUntil"] != "2027-11-17T10:00:00Z" {
				t.Fatalf("paid: %s", paid.raw)
			}
			again := f.expect(f.call("POST", "/v1/memberships", baecker, "f3", fee), http.StatusOK)
			if again.header.Get("Idempotent-Replayed") != "true" || again.body["paidUntil"] != "2027-11-17T10:00:00Z" {
				t.Fatalf("the retried fee: %s", again.raw)
			}
			m = f.expect(f.call("GET", "/v1/members/anna", drucker, "", nil), http.StatusOK)
			tier, ms := m.body["tier"].(map[string]any), m.body["membership"].(map[string]any)
			if tier["name"] != "Gold" || tier["pinned"] != true || tier["discount"] != "5" || ms["active"] != true || ms["paidUntil"] != "2027-11-17T10:00:00Z" {
				t.Fatalf("a paying member: %s", m.raw)
			}
			// 100.00 at the printer: 5.00 off, 95.00 × 1.5 / 2.00 = 71.25 → 71 points.
			earned := f.expect(f.call("POST", "/v1/earn", drucker, "p1", map[string]any{"member": "anna", "amount": 10000, "currency": "EUR"}), http.StatusOK)
			if num(earned, "tierDiscount") != 500 || num(earned, "discount") != 500 || num(earned, "amountDue") != 9500 || num(earned, "points") != 71 {
				t.Fatalf("a Gold purchase: %s", earned.raw)
			}
			// The bakery owes the fee: its settlement export carries it.
			export := func(partner string) []any {
				q := "/v1/settlement/entries?partner=" + url.QueryEscape(partner) + "&from=2026-11-16T00:00:00Z&to=2026-11-30T00:00:00Z"
				return f.expect(f.call("GET", q, "settlement", "", nil), http.StatusOK).body["entries"].([]any)
			}
			bakery := export(baecker)
			if len(bakery) != 1 || bakery[0].(map[string]any)["kind"] != "membership_fee" || bakery[0].(map[string]any)["amount"].(float64) != 8990 {
				t.Fatalf("the bakery's export: %v", bakery)
			}
			// A partner cannot lapse it; the admin lapses it with a refund.
			f.expect(f.call("POST", "/v1/memberships/lapse", baecker, "l1", map[string]any{"member": "anna", "refund": true}), http.StatusForbidden)
			clock.AddDate(0, 0, 3)
			lapsed := f.expect(f.call("POST", "/v1/memberships/lapse", "admin", "l2", map[string]any{"member": "anna", "refund": true}), http.StatusOK)
			if num(lapsed, "refunded") != 8990 {
				t.Fatalf("the lapse: %s", lapsed.raw)
			}
			f.expect(f.call("POST", "/v1/memberships/lapse", "admin", "l3", map[string]any{"member": "anna", "refund": true}), http.StatusUnprocessableEntity)
			bakery = export(baecker)
			if len(bakery) != 2 || bakery[1].(map[string]any)["kind"] != "membership_lapse" || bakery[1].(map[string]any)["amount"].(float64) != -8990 {
				t.Fatalf("the bakery's export after the refund: %v", bakery)
			}
			m = f.expect(f.call("GET", "/v1/members/anna", drucker, "", nil), http.StatusOK)
			tier, ms = m.body["tier"].(map[string]any), m.body["membership"].(map[string]any)
			if tier["pinned"] != false || ms["active"] != false || tier["name"] != "Bronze" {
				t.Fatalf("after the lapse: %s", m.raw)
			}
		})
	}
}

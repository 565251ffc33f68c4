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

package ledger

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
	"github.com/treue-dev/treue/internal/testbin"
)

// The time-driven events (issue 18) on every backend, with the test's clock:
// tier changes after the writes that cause them and at the instant time
// lowers a tier, a paid membership that runs out, a commission whose holding
// period ends. Each is written once however often its review or sweep runs,
// and on two replicas at once.

// twice runs fn twice at once, as two replicas would, and returns what the
// two runs counted together.
func twice(t *testing.T, fn func() (int, error)) int {
	t.Helper()
	var wg sync.WaitGroup
	counts, errs := make([]int, 2), make([]error, 2)
	for i := range 2 {
		wg.Go(func() { counts[i], errs[i] = fn() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return counts[0] + counts[1]
}

func (e *env) review(t *testing.T) int {
	t.Helper()
	return twice(t, func() (int, error) {
		_, changed, err := e.ReviewMembers(e.ctx, 100)
		return changed, err
	})
}

// tierEvent decodes a tier change and checks what it says.
func tierEvent(t *testing.T, r outboxRow, from, to, direction, reason string, at time.Time) {
	t.Helper()
	var d accrualapi.TierChanged
	if err := json.Unmarshal([]byte(r.data), &d); err != nil {
		t.Fatal(err)
	}
	if d.From != from || d.To != to || d.Direction != direction || d.Reason != reason || !d.At.Equal(at) {
		t.Fatalf("tier change %s: %+v, want %s to %s, %s (%s) at %s", r.id, d, from, to, direction, reason, at)
	}
}

func TestTimeDrivenEventsComeOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Membership = rules.MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
		ref := grafikReferral(t, rules.DiscountConfig{Type: "Percent", Percent: "5", Cap: "50.00"}, rules.GuardsConfig{})
		e := open(t, mustProgram(t, c), map[string]*rules.Referral{ref.ID: ref})
		t0 := e.clock.Now()
		n := 0
		e.enroll(t, "anna")
		e.enroll(t, "ben")
		if e.review(t) != 0 {
			t.Fatal("an enrolment changed a tier (a new member is Bronze, the level of no activity)")
		}
		n = len(outboxRows(t, e))
		earned := timeDrivenTierWrites(t, e, &n, ref.ID)
		timeDrivenSweeps(t, e, &n, t0, earned)

		ids := map[string]bool{}
		check := testbin.EventSchemas(t, accrualapi.EventTypes)
		for _, r := range outboxRows(t, e) {
			if ids[r.id] {
				t.Fatalf("event id %s twice", r.id)
			}
			ids[r.id] = true
			if err := check(r.typ, []byte(r.data)); err != nil {
				t.Fatalf("event %s: %v\n%s", r.id, err, r.data)
			}
		}
	})
}

// timeDrivenTierWrites: purchases, a return and a fee change tiers, each
// announced by the review after the write, after the write's own events.
func timeDrivenTierWrites(t *testing.T, e *env, n *int, referral string) EarnResult {
	t.Helper()
	now := e.clock.Now()
	code, err := e.IssueCode(e.ctx, IssueCodeRequest{Meta: Meta{Actor: grafik, Key: "c1"}, Referral: referral, Member: "anna"})
	if err != nil {
		t.Fatal(err)
	}
	referred, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "p1"}, Member: "ben", Partner: drucker, Amount: 10000,
		Currency: "EUR", ReferralCode: code.Code})
	if err != nil {
		t.Fatal(err)
	}
	if e.review(t) != 0 {
		t.Fatal("47 points changed ben's tier")
	}
	*n = len(outboxRows(t, e))

	// 1,200 points in the window: Silber.
	bought := e.earn(t, "p2", baecker, 240000)
	if got := e.review(t); got != 1 {
		t.Fatalf("two reviews at once wrote %d tier changes, want 1", got)
	}
	rows := expectEvents(t, e, n, "a purchase that reaches Silber", "dev.treue.points.earned@anna["+baecker+"]",
		"dev.treue.tier.changed@anna["+everyone+"]")
	tierEvent(t, rows[1], "Bronze", "Silber", accrualapi.TierUp, accrualapi.TierQualified, now)
	if rows[1].id != "member-anna-tier-1" {
		t.Fatalf("the first change's id: %s", rows[1].id)
	}
	// A return takes 300 of them back: Bronze again.
	if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "ret1"}, Partner: baecker, EarnID: bought.EntryID, Amount: 60000}); err != nil {
		t.Fatal(err)
	}
	e.review(t)
	rows = expectEvents(t, e, n, "a return below Silber", "dev.treue.points.returned@anna["+baecker+"]", "dev.treue.tier.changed@anna["+everyone+"]")
	tierEvent(t, rows[1], "Silber", "Bronze", accrualapi.TierDown, accrualapi.TierReturned, now)
	// A return of ben's inside the holding period cancels a fifth of the commission.
	if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "ret2"}, Partner: drucker, EarnID: referred.EntryID, Amount: 1900}); err != nil {
		t.Fatal(err)
	}
	e.review(t)
	expectEvents(t, e, n, "ben's return", "dev.treue.points.returned@ben["+drucker+"]", "dev.treue.commission.cancelled@ben["+both+"]")
	// 200 more points: 1,100, Silber again.
	e.earn(t, "p3", baecker, 40000)
	e.review(t)
	rows = expectEvents(t, e, n, "a purchase back to Silber", "dev.treue.points.earned@anna["+baecker+"]", "dev.treue.tier.changed@anna["+everyone+"]")
	tierEvent(t, rows[1], "Bronze", "Silber", accrualapi.TierUp, accrualapi.TierQualified, now)
	// A day later ben pays the fee, which pins Gold.
	e.clock.AdvanceDays(1)
	if _, err := e.PayMembershipFee(e.ctx, MembershipFeeRequest{Meta: Meta{Actor: baecker, Key: "f1"}, Member: "ben", Partner: baecker, Amount: 8990}); err != nil {
		t.Fatal(err)
	}
	e.review(t)
	rows = expectEvents(t, e, n, "a fee", "dev.treue.membership.paid@ben["+baecker+"]", "dev.treue.tier.changed@ben["+everyone+"]")
	tierEvent(t, rows[1], "Bronze", "Gold", accrualapi.TierUp, accrualapi.TierMembershipPaid, e.clock.Now())
	return referred
}

// timeDrivenSweeps: the commission's holding period ends, anna's purchases
// leave the window, ben's fee runs out.
func timeDrivenSweeps(t *testing.T, e *env, n *int, t0 time.Time, referred EarnResult) {
	t.Helper()
	e.clock.AdvanceDays(14)
	confirm := func() (int, error) { return e.ConfirmCommissions(e.ctx) }
	expire := func() (int, error) { return e.AnnounceExpiredMemberships(e.ctx) }
	if got := twice(t, confirm) + twice(t, expire) + e.review(t); got != 1 {
		t.Fatalf("the sweeps after the holding period wrote %d events, want 1", got)
	}
	rows := expectEvents(t, e, n, "the holding period's end", "dev.treue.commission.confirmed@ben["+both+"]")
	var confirmed accrualapi.CommissionEvent
	if err := json.Unmarshal([]byte(rows[0].data), &confirmed); err != nil {
		t.Fatal(err)
	}
	if c := confirmed.Commission; c.Micros != 228_000_000 || c.EarnID != referred.EntryID || c.Kind != CommissionAccrual ||
		rows[0].id != fmt.Sprintf("commission-%d-confirmed", c.ID) {
		t.Fatalf("the confirmation (285.00 accrued, 57.00 cancelled): %s %+v", rows[0].id, c)
	}

	// Twelve months after her purchases anna's activity has left the window:
	// not a microsecond before.
	windowEnd := t0.In(e.program.Location).AddDate(0, 12, 0)
	e.clock.Advance(windowEnd.Add(-time.Microsecond).Sub(e.clock.Now()))
	if got := e.review(t); got != 0 {
		t.Fatalf("a microsecond before the window's end: %d changes", got)
	}
	e.clock.Advance(time.Microsecond)
	e.review(t)
	rows = expectEvents(t, e, n, "the window's end", "dev.treue.tier.changed@anna["+everyone+"]")
	tierEvent(t, rows[0], "Silber", "Bronze", accrualapi.TierDown, accrualapi.TierWindowEnded, windowEnd)
	if st, err := e.Tier(e.ctx, "anna"); err != nil || st.Name != "Bronze" {
		t.Fatalf("anna's tier: %+v, %v", st, err)
	}

	// Ben's fee, paid on the second day, runs out a year later.
	paidUntil, err := e.PaidUntil(e.ctx, "ben")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(paidUntil.Sub(e.clock.Now()))
	if got := twice(t, expire); got != 1 {
		t.Fatalf("the membership sweep on two replicas wrote %d events, want 1", got)
	}
	e.review(t)
	rows = expectEvents(t, e, n, "the fee's end", "dev.treue.membership.expired@ben["+everyone+"]", "dev.treue.tier.changed@ben["+everyone+"]")
	var expired accrualapi.MembershipExpired
	if err := json.Unmarshal([]byte(rows[0].data), &expired); err != nil || !expired.PaidUntil.Equal(paidUntil) {
		t.Fatalf("the expiry: %s, %v", rows[0].data, err)
	}
	tierEvent(t, rows[1], "Gold", "Bronze", accrualapi.TierDown, accrualapi.TierMembershipLapsed, paidUntil)
	e.clock.AdvanceDays(400)
	if got := twice(t, confirm) + twice(t, expire) + e.review(t); got != 0 {
		t.Fatalf("a year later the sweeps wrote %d events again", got)
	}
	expectEvents(t, e, n, "the sweeps a year later")
}

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
	"slices"
	"sync"
	"testing"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/period"
	"github.com/treue-dev/treue/internal/rules"
	"github.com/treue-dev/treue/internal/testbin"
)

var reminderOffsets = []period.Period{period.MustParse("P7D"), period.MustParse("P30D")}

// remind runs the reminder sweep twice at once (two replicas) and returns the
// reminders both wrote.
func remindTwice(t *testing.T, e *env) int {
	t.Helper()
	var wg sync.WaitGroup
	counts := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { counts[i], errs[i] = e.RemindExpiring(e.ctx, reminderOffsets) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return counts[0] + counts[1]
}

// Each lot that holds points is reminded once per offset before it expires,
// to its issuer's sinks; a spent lot is not; a sweep that runs twice, or on two
// replicas at once, writes each reminder once. The clock is the test's.
func TestExpiryRemindersComeOncePerLotAndOffset(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		t0 := e.clock.Now()
		e.enroll(t, "anna")
		e.enroll(t, "ben")
		e.earn(t, "k1", baecker, 1000)
		if _, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "k2"}, Member: "ben", Partner: drucker, Amount: 2000, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
		// Ben spends his signup bonus: that lot holds nothing to remind of.
		if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "ben", Partner: drucker, Points: 50}); err != nil {
			t.Fatal(err)
		}
		n := len(outboxRows(t, e))
		if got := remindTwice(t, e); got != 0 {
			t.Fatalf("%d reminders three years before the expiry", got)
		}
		// 29 days before the lots expire (P36M after t0): the P30D window is open.
		e.clock.Advance(t0.AddDate(3, 0, -29).Sub(e.clock.Now()))
		if got := remindTwice(t, e); got != 3 {
			t.Fatalf("%d reminders 29 days before, want 3", got)
		}
		want := []string{"dev.treue.points.expiring@anna[]", "dev.treue.points.expiring@anna[" + baecker + "]",
			"dev.treue.points.expiring@ben[" + drucker + "]"}
		rows := expectReminders(t, e, &n, "P30D", want)
		var data accrualapi.PointsExpiring
		for _, r := range rows {
			if err := json.Unmarshal([]byte(r.data), &data); err != nil {
				t.Fatal(err)
			}
			if data.Member == "anna" && data.Partner == baecker && (data.Points != 5 || !data.ExpiresAt.Equal(t0.AddDate(3, 0, 0))) {
				t.Fatalf("anna's bakery lot reminder: %+v", data)
			}
		}
		if got := remindTwice(t, e); got != 0 {
			t.Fatalf("a second P30D sweep wrote %d", got)
		}
		// Six days before: the P7D window.
		e.clock.Advance(t0.AddDate(3, 0, -6).Sub(e.clock.Now()))
		if got := remindTwice(t, e); got != 3 {
			t.Fatalf("%d reminders 6 days before, want 3", got)
		}
		expectReminders(t, e, &n, "P7D", want)
		// Expired: nothing more.
		e.clock.AdvanceDays(7)
		if got := remindTwice(t, e); got != 0 {
			t.Fatalf("%d reminders after the expiry", got)
		}
	})
}

// A lot first seen inside several windows is reminded once, of the nearest.
func TestALotInsideSeveralWindowsIsRemindedOfTheNearest(t *testing.T) {
	c := stadtBonusConfig()
	c.Expiry = rules.ExpiryConfig{Policy: "Rolling", After: "P20D"}
	c.PendingPeriod = "P0D"
	e := openSQLite(t, mustProgram(t, c), nil, true)
	e.enroll(t, "anna")
	n := len(outboxRows(t, e))
	e.clock.AdvanceDays(15)
	if got := remindTwice(t, e); got != 1 {
		t.Fatalf("%d reminders, want 1", got)
	}
	expectReminders(t, e, &n, "P7D", []string{"dev.treue.points.expiring@anna[]"})
	if got := remindTwice(t, e); got != 0 {
		t.Fatalf("the P30D reminder came after the P7D one: %d", got)
	}
}

// expectReminders checks the events written since n: reminders of offset
// before, as want says (in any order), each with data that matches its schema.
func expectReminders(t *testing.T, e *env, n *int, before string, want []string) []outboxRow {
	t.Helper()
	rows := outboxRows(t, e)[*n:]
	*n += len(rows)
	got := make([]string, 0, len(rows))
	check := testbin.EventSchemas(t, []string{accrualapi.EventPointsExpiring})
	for _, r := range rows {
		got = append(got, r.String())
		var data accrualapi.PointsExpiring
		if err := json.Unmarshal([]byte(r.data), &data); err != nil || data.Before != before {
			t.Fatalf("reminder %s: %s (%v), want offset %s", r.id, r.data, err, before)
		}
		if err := check(r.typ, []byte(r.data)); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("reminders %q, want %q", got, want)
	}
	return rows
}

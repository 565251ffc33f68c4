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
	"database/sql"
	"testing"
	"time"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// The fingerprint of a write and its stored answer are a compatibility surface:
// a ledger keeps them for as long as it keeps its entries, and a till that
// retries a write after an upgrade must get the answer the old build stored.
// This pins both, byte for byte, as the builds before the wire types had them:
// a change here breaks every stored replay, and needs a migration, not an edit.
func TestStoredIdempotencyRecordsArePinned(t *testing.T) {
	f := newFixtureAt(t, fixedClock{time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)})
	f.expect(f.call("POST", "/v1/members", baecker, "enroll-anna", map[string]any{"member": "anna", "birthday": "05-04"}), 200)
	earn := f.expect(f.call("POST", "/v1/earn", baecker, "till-1", map[string]any{"member": "anna", "amount": 1500, "currency": "EUR",
		"lines": []map[string]any{{"amount": 1000, "category": "bakery"}, {"amount": 500}}}), 200)
	f.expect(f.call("POST", "/v1/redeem", drucker, "till-2", map[string]any{"member": "anna", "points": 20}), 200)
	f.expect(f.call("POST", "/v1/reverse", baecker, "till-3", map[string]any{"earnId": num(earn, "entryId"), "amount": 500}), 200)
	f.expect(f.call("POST", "/v1/adjust", "admin", "goodwill-1", map[string]any{"member": "anna", "points": 7, "reason": "goodwill"}), 200)

	pinned := []struct{ actor, key, hash, result string }{
		{"partner " + baecker, "enroll-anna", "568c8721bd1648cd17a6484acff0835b1f8919b9ca9946b703f5435c27d85e06",
			`{"entryId":1,"created":true,"signupBonus":50}`},
		{"partner " + baecker, "till-1", "26dbf77a61a294ff90f06dd75101879110b009ad8d9765a5e121ef87c2c946d2",
			`{"entryId":2,"points":7,"discount":0,"amountDue":1500,"pendingUntil":"2026-11-20T10:30:00+01:00","expiresAt":"2029-11-20T10:30:00+01:00"}`},
		{"partner " + drucker, "till-2", "e706d5cb50bb208108cd5fed9a94767dcb2b440f16b719c110655dbd661e3e42", `{"entryId":3,"points":20,"value":20}`},
		{"partner " + baecker, "till-3", "50eccb04f1552d74ae1fe486d2eb42c9092748a4507b06d4a9b34e110a06c0bf",
			`{"entryId":4,"points":2,"clawedBack":2,"shortfall":0}`},
		{"admin", "goodwill-1", "8af4713bde0d240b566473d8c9e454adc9d6d6dafb7acb9585182c0bd95d8309", `{"entryId":5,"points":7}`},
	}
	db, err := sql.Open("sqlite", f.ledgerPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, p := range pinned {
		var hash, result string
		if err := db.QueryRow(`SELECT request_hash, result FROM entries WHERE actor = ? AND idem_key = ?`, p.actor, p.key).Scan(&hash, &result); err != nil {
			t.Fatalf("%s %s: %v", p.actor, p.key, err)
		}
		if hash != p.hash || result != p.result {
			t.Errorf("%s %s stored\n  hash   %s\n  result %s\nwant\n  hash   %s\n  result %s", p.actor, p.key, hash, result, p.hash, p.result)
		}
	}
	// And a retry after all of that is answered from the stored record.
	again := f.expect(f.call("POST", "/v1/earn", baecker, "till-1", map[string]any{"member": "anna", "amount": 1500, "currency": "EUR",
		"lines": []map[string]any{{"amount": 1000, "category": "bakery"}, {"amount": 500}}}), 200)
	if again.header.Get("Idempotent-Replayed") != "true" || again.raw != pinned[1].result+"\n" {
		t.Errorf("the retry answered %q (replayed %q), want the stored %s", again.raw, again.header.Get("Idempotent-Replayed"), pinned[1].result)
	}
}

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
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/rules"
)

func TestInactivityExpiryIsExtendedByEveryEarning(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Expiry = rules.ExpiryConfig{Policy: "Inactivity", After: "P6M"}
		e := open(t, mustProgram(t, c), nil)
		e.enroll(t, "anna")            // 50 points, expiring 6 months after the last earning
		e.clock.AdvanceDays(150)       // 2 March + 150 days: 30 July
		e.earn(t, "p1", baecker, 2000) // 10 points; every lot now expires on 30 January
		e.clock.AdvanceDays(60)        // 28 September: past the bonus's first expiry
		expectBalance(t, e.balance(t, "anna"), 60, 0)
		e.clock.AdvanceDays(125) // 31 January: six months after the last earning
		expectBalance(t, e.balance(t, "anna"), 0, 0)
		if res, err := e.Expire(e.ctx, e.clock.Now()); err != nil || res.Points != 60 {
			t.Fatalf("expire: %+v, %v", res, err)
		}
		// An earning after everything expired does not revive the old lots.
		e.earn(t, "p2", baecker, 2000)
		e.clock.AdvanceDays(14)
		expectBalance(t, e.balance(t, "anna"), 10, 0)
		checkInvariants(t, e)
	})
}

func TestLapsedMembershipUnpinsTheTier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Membership = rules.MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
		e := open(t, mustProgram(t, c), nil)
		e.enroll(t, "anna")
		if _, err := e.PayMembershipFee(e.ctx, MembershipFeeRequest{Meta: Meta{Actor: baecker, Key: "f"}, Member: "anna", Partner: baecker, Amount: 8000}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("paying the wrong fee: %v", err)
		}
		if _, err := e.PayMembershipFee(e.ctx, MembershipFeeRequest{Meta: Meta{Actor: baecker, Key: "f"}, Member: "anna", Partner: baecker, Amount: 8990}); err != nil {
			t.Fatal(err)
		}
		e.clock.AdvanceDays(1)
		if _, err := e.LapseMembership(e.ctx, LapseRequest{Meta: Meta{Actor: "admin", Key: "l"}, Member: "anna"}); err != nil {
			t.Fatal(err)
		}
		e.clock.AdvanceDays(1)
		if st, err := e.Tier(e.ctx, "anna"); err != nil || st.Name != "Bronze" || st.Pinned {
			t.Fatalf("tier after the lapse: %+v, %v", st, err)
		}
	})
}

func TestReopeningKeepsTheLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	program := mustProgram(t, stadtBonusConfig())
	first := newEnv(t, SQLite, path, program, nil, true)
	first.enroll(t, "anna")
	first.earn(t, "p1", baecker, 10000)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// Opening again applies no migration twice and finds everything.
	second := newEnv(t, SQLite, path, program, nil, false)
	expectBalance(t, second.balance(t, "anna"), 50, 50)
	if again := second.earn(t, "p1", baecker, 10000); !again.Replayed {
		t.Fatal("a replay after a restart credited again")
	}
	var version int
	if err := second.db.QueryRow("SELECT MAX(version) FROM schema_migrations").Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	// A ledger written by a newer treue is refused rather than misread.
	if _, err := second.db.Exec("INSERT INTO schema_migrations (version) VALUES (999)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(second.ctx, Options{Backend: SQLite, DSN: path, Program: program}); err == nil {
		t.Fatal("opened a ledger of a newer schema")
	}
}

func TestGroupCommitBatchesConcurrentWrites(t *testing.T) {
	program := mustProgram(t, stadtBonusConfig())
	e := newEnv(t, SQLite, filepath.Join(t.TempDir(), "ledger.db"), program, nil, true)
	e.enroll(t, "anna")
	before := e.CommitStats()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: baecker, Key: fmt.Sprint(i)}, Member: "anna", Partner: baecker, Amount: 1000, Currency: "EUR"})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got := e.CommitStats()
	commits, writes := got.Commits-before.Commits, got.Writes-before.Writes
	if writes != 64 || commits >= 64 {
		t.Fatalf("64 concurrent writes took %d commits for %d writes; group commit should have batched them", commits, writes)
	}
	t.Logf("64 concurrent writes in %d commits", commits)
	expectBalance(t, e.balance(t, "anna"), 50, 320)
	checkInvariants(t, e)
}

// A write submitted to a closed ledger is refused at once rather than waiting
// for a committer that is gone.
func TestWritesAfterCloseAreRefused(t *testing.T) {
	program := mustProgram(t, stadtBonusConfig())
	e := newEnv(t, SQLite, filepath.Join(t.TempDir(), "ledger.db"), program, nil, true)
	e.enroll(t, "anna")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: baecker, Key: "late"}, Member: "anna", Partner: baecker, Amount: 100, Currency: "EUR"})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("a write after close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a write after close is still waiting")
	}
}

// A retry is the same request even when the partner's default category, which
// comes from the service's configuration, changed in between.
func TestReplayIgnoresConfiguredDefaults(t *testing.T) {
	program := mustProgram(t, stadtBonusConfig())
	e := newEnv(t, SQLite, filepath.Join(t.TempDir(), "ledger.db"), program, nil, false)
	e.enroll(t, "anna")
	req := EarnRequest{Meta: Meta{Actor: baecker, Key: "k"}, Member: "anna", Partner: baecker, Amount: 1000, Currency: "EUR", DefaultCategory: "bakery"}
	first, err := e.Earn(e.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	req.DefaultCategory = "print"
	again, err := e.Earn(e.ctx, req)
	if err != nil || !again.Replayed || again.EntryID != first.EntryID || again.Points != first.Points {
		t.Fatalf("retry after a configuration change: %+v, %v; want the original %+v", again, err, first)
	}
}

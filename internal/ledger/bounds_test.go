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
	"math"
	"testing"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// Two large admin credits wrapped a balance to -9223372036854775808 and every
// read of the program's totals failed from then on (issue 16). One write moves at
// most accrualapi.MaxPoints points and amounts are at most accrualapi.MaxAmount;
// beyond that a write is refused before anything is written.
func TestWritesBeyondTheBoundsAreRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")
		admin := func(key string, points int64) error {
			_, err := e.Adjust(e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: key}, Member: "anna", Points: points, Reason: "test"})
			return err
		}
		for _, p := range []int64{math.MaxInt64, math.MaxInt64/2 + 1, accrualapi.MaxPoints + 1, math.MinInt64, -accrualapi.MaxPoints - 1} {
			if err := admin("big", p); !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("adjusting by %d: %v, want ErrOutOfRange", p, err)
			}
		}
		for _, key := range []string{"max-1", "max-2"} {
			if err := admin(key, accrualapi.MaxPoints); err != nil {
				t.Fatalf("adjusting by the most one write moves: %v", err)
			}
		}
		expectBalance(t, e.balance(t, "anna"), 2*accrualapi.MaxPoints+50, 0)
		if err := admin("min", -accrualapi.MaxPoints); err != nil {
			t.Fatalf("debiting the most one write moves: %v", err)
		}
		// Amounts: a purchase, a line and a return.
		buy := func(key string, amount int64, lines []rules.Line) error {
			_, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: key}, Member: "anna", Partner: drucker, Amount: amount, Currency: "EUR", Lines: lines})
			return err
		}
		if err := buy("huge", accrualapi.MaxAmount+1, nil); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("a purchase of %d: %v, want ErrOutOfRange", int64(accrualapi.MaxAmount+1), err)
		}
		if err := buy("lines", math.MaxInt64, []rules.Line{{Amount: math.MaxInt64 - 1}, {Amount: 1}}); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("a purchase of int64's maximum: %v, want ErrOutOfRange", err)
		}
		paid, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "max"}, Member: "anna", Partner: drucker, Amount: accrualapi.MaxAmount, Currency: "EUR"})
		if err != nil || paid.Points != accrualapi.MaxAmount/200 {
			t.Fatalf("a purchase of the largest amount: %+v, %v", paid, err)
		}
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "ret"}, Partner: drucker, EarnID: paid.EntryID, Amount: accrualapi.MaxAmount + 1}); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("a return beyond the largest amount: %v, want ErrOutOfRange", err)
		}
		if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "red"}, Member: "anna", Partner: drucker, Points: accrualapi.MaxPoints + 1}); !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("redeeming more than one write moves: %v, want ErrOutOfRange", err)
		}
		// The program's totals still read.
		st, err := e.Stats(e.ctx)
		if want := int64(accrualapi.MaxPoints + 50 + accrualapi.MaxAmount/200); err != nil || st.PointsOutstanding != want {
			t.Fatalf("stats: %+v, %v; want %d points outstanding", st, err, want)
		}
		checkInvariants(t, e)
	})
}

// A purchase that would earn more points than one write may move is refused, not
// capped: a program that gives 100 points per cent and a purchase of the largest
// amount.
func TestAnEarningBeyondTheBoundIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Earning.BaseRate = rules.EarnRateConfig{Points: 100, Per: "0.01"}
		e := open(t, mustProgram(t, c), nil)
		e.enroll(t, "anna")
		_, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "k"}, Member: "anna", Partner: drucker, Amount: accrualapi.MaxAmount, Currency: "EUR"})
		if !errors.Is(err, ErrOutOfRange) {
			t.Fatalf("earning %d points: %v, want ErrOutOfRange", int64(accrualapi.MaxAmount)*100, err)
		}
		expectBalance(t, e.balance(t, "anna"), 50, 0)
		checkInvariants(t, e)
	})
}

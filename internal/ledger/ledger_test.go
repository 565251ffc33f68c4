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
	"math"
	"sync"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/rules"
)

const (
	baecker = "baeckerei-korn/baeckerei-korn"
	drucker = "druckerei-blau/druckerei-blau"
	grafik  = "grafikagentur-linie/grafikagentur-linie"
)

// checkInvariants holds after every operation: each entry balances, each lot's
// remaining is its points less what consumed it, no lot is consumed beyond its
// points, and each member's account equals the sum of their lots.
func checkInvariants(t testing.TB, e *env) {
	t.Helper()
	q := func(query string, args ...any) [][]int64 {
		rows, err := e.db.QueryContext(e.ctx, e.d.rebind(query), args...)
		if err != nil {
			t.Fatalf("invariant query: %v", err)
		}
		defer func() { _ = rows.Close() }()
		var out [][]int64
		for rows.Next() {
			var a, b int64
			if err := rows.Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, []int64{a, b})
		}
		return out
	}
	for _, r := range q(`SELECT entry_id, SUM(points) FROM postings GROUP BY entry_id HAVING SUM(points) <> 0`) {
		t.Fatalf("entry %d does not balance: its postings sum to %d", r[0], r[1])
	}
	for _, r := range q(`SELECT l.id, l.remaining - (l.points - COALESCE((SELECT SUM(c.points) FROM consumptions c WHERE c.lot_id = l.id), 0)) AS diff
		FROM lots l`) {
		if r[1] != 0 {
			t.Fatalf("lot %d: remaining differs from points less consumptions by %d", r[0], r[1])
		}
	}
	for _, r := range q(`SELECT id, remaining FROM lots WHERE (points > 0 AND (remaining < 0 OR remaining > points)) OR (points < 0 AND (remaining > 0 OR remaining < points))`) {
		t.Fatalf("lot %d is consumed beyond its points: remaining %d", r[0], r[1])
	}
	rows, err := e.db.QueryContext(e.ctx, e.d.rebind(`SELECT m.id,
		COALESCE((SELECT SUM(p.points) FROM postings p WHERE p.account = 'member:' || m.id), 0),
		COALESCE((SELECT SUM(l.remaining) FROM lots l WHERE l.member_id = m.id), 0) FROM members m`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id string
		var account, lots int64
		if err := rows.Scan(&id, &account, &lots); err != nil {
			t.Fatal(err)
		}
		if account != lots {
			t.Fatalf("member %s: account %d, lots %d", id, account, lots)
		}
	}
}

func TestEnroll(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		req := EnrollRequest{Meta: Meta{Actor: "admin", Key: "k1"}, Member: "anna", Birthday: &rules.Birthday{Month: time.May, Day: 4}}
		res, err := e.Enroll(e.ctx, req)
		if err != nil || !res.Created || res.SignupBonus != 50 || res.Replayed {
			t.Fatalf("first enroll: %+v, %v", res, err)
		}
		// The signup bonus is available at once.
		expectBalance(t, e.balance(t, "anna"), 50, 0)

		again, err := e.Enroll(e.ctx, req)
		if err != nil || !again.Replayed || again.EntryID != res.EntryID || !again.Created {
			t.Fatalf("replayed enroll: %+v, %v", again, err)
		}
		other, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "k2"}, Member: "anna", Birthday: &rules.Birthday{Month: time.May, Day: 4}})
		if err != nil || other.Created || other.SignupBonus != 0 {
			t.Fatalf("enrolling an enrolled member: %+v, %v", other, err)
		}
		if _, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "k3"}, Member: "anna"}); !errors.Is(err, ErrMemberExists) {
			t.Fatalf("enrolling anna with another birthday: %v", err)
		}
		if _, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "k1"}, Member: "ben"}); !errors.Is(err, ErrIdempotencyConflict) {
			t.Fatalf("reusing a key for another member: %v", err)
		}
		expectBalance(t, e.balance(t, "anna"), 50, 0)
		if _, err := e.Balance(e.ctx, "nobody", 30); !errors.Is(err, ErrUnknownMember) {
			t.Fatalf("balance of an unknown member: %v", err)
		}
		checkInvariants(t, e)
	})
}

func TestEarnRedeemAndReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")

		// 3.99 EUR at 1 point per 2.00 EUR, rounded down: 1 point, pending 14 days.
		small := e.earn(t, "till-1", baecker, 399)
		if small.Points != 1 || !small.PendingUntil.Equal(e.clock.Now().AddDate(0, 0, 14)) {
			t.Fatalf("3.99 EUR earned %+v", small)
		}
		big := e.earn(t, "till-2", baecker, 100000)
		if big.Points != 500 {
			t.Fatalf("1000.00 EUR earned %d points", big.Points)
		}
		expectBalance(t, e.balance(t, "anna"), 50, 501)

		// A retry of the same request writes nothing and answers the same.
		replay := e.earn(t, "till-2", baecker, 100000)
		if !replay.Replayed || replay.EntryID != big.EntryID || replay.Points != 500 {
			t.Fatalf("replay: %+v", replay)
		}
		expectBalance(t, e.balance(t, "anna"), 50, 501)
		// The same key for another purchase is a conflict, not a credit.
		_, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: baecker, Key: "till-2"}, Member: "anna", Partner: baecker, Amount: 100001, Currency: "EUR"})
		if !errors.Is(err, ErrIdempotencyConflict) {
			t.Fatalf("same key, other amount: %v", err)
		}
		// Keys are per partner: another partner may use the same key.
		if r := e.earn(t, "till-2", drucker, 1000); r.Replayed || r.Points != 5 {
			t.Fatalf("another partner's till-2: %+v", r)
		}

		// Pending points cannot be spent.
		if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "anna", Partner: drucker, Points: 51}); !errors.Is(err, ErrInsufficientPoints) {
			t.Fatalf("spending pending points: %v", err)
		}
		// Exactly at the end of the return window they become available.
		e.clock.AdvanceDays(14)
		expectBalance(t, e.balance(t, "anna"), 556, 0)
		red, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "anna", Partner: drucker, Points: 300})
		if err != nil || red.Points != 300 || red.Value != 300 {
			t.Fatalf("redeeming 300 points: %+v, %v", red, err)
		}
		if again, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "anna", Partner: drucker, Points: 300}); err != nil || !again.Replayed {
			t.Fatalf("replayed redemption: %+v, %v", again, err)
		}
		expectBalance(t, e.balance(t, "anna"), 256, 0)

		for name, req := range map[string]EarnRequest{
			"unknown member": {Meta: Meta{Actor: baecker, Key: "x1"}, Member: "nobody", Partner: baecker, Amount: 100, Currency: "EUR"},
			"wrong currency": {Meta: Meta{Actor: baecker, Key: "x2"}, Member: "anna", Partner: baecker, Amount: 100, Currency: "CHF"},
			"zero amount":    {Meta: Meta{Actor: baecker, Key: "x3"}, Member: "anna", Partner: baecker, Amount: 0, Currency: "EUR"},
			"no key":         {Meta: Meta{Actor: baecker}, Member: "anna", Partner: baecker, Amount: 100, Currency: "EUR"},
		} {
			if _, err := e.Earn(e.ctx, req); err == nil {
				t.Errorf("%s: earned", name)
			}
		}
		expectBalance(t, e.balance(t, "anna"), 256, 0)
		checkInvariants(t, e)
	})
}

func TestConcurrentRedemptionsNeverOverspend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")
		if _, err := e.Adjust(e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: "a1"}, Member: "anna", Points: 950, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		// 1,000 points; 25 tills try to take 100 at once.
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, refused := 0, 0
		for i := range 25 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: fmt.Sprintf("r%d", i)}, Member: "anna", Partner: drucker, Points: 100})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrInsufficientPoints):
					refused++
				default:
					t.Errorf("redemption %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		if ok != 10 || refused != 15 {
			t.Fatalf("%d redemptions succeeded and %d were refused; want 10 and 15", ok, refused)
		}
		expectBalance(t, e.balance(t, "anna"), 0, 0)
		checkInvariants(t, e)
	})
}

func TestConcurrentEarningsAllCount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")
		partners := []string{baecker, drucker, grafik}
		var wg sync.WaitGroup
		for _, p := range partners {
			for i := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Each till also retries its request once, at the same time.
					for range 2 {
						if _, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: p, Key: fmt.Sprintf("t%d", i)}, Member: "anna", Partner: p, Amount: 1000, Currency: "EUR"}); err != nil {
							t.Errorf("%s t%d: %v", p, i, err)
						}
					}
				}()
			}
		}
		wg.Wait()
		// 30 purchases of 10.00 EUR: 150 points, once each.
		expectBalance(t, e.balance(t, "anna"), 50, 150)
		checkInvariants(t, e)
	})
}

func TestExpiryIsPerLot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna") // 50 points on 2 March 2026, expiring 2 March 2029
		e.clock.AdvanceDays(100)
		e.earn(t, "p1", baecker, 20000) // 100 points, expiring 100 days later
		e.clock.AdvanceDays(14)
		expectBalance(t, e.balance(t, "anna"), 150, 0)

		// Spending takes the soonest-expiring lot first: the signup bonus.
		if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "anna", Partner: drucker, Points: 30}); err != nil {
			t.Fatal(err)
		}
		// Move to the instant the bonus lot expires: its 20 points are gone from the
		// balance at once, before any sweep.
		e.clock.t = time.Date(2029, 3, 2, 10, 0, 0, 0, time.UTC)
		b := e.balance(t, "anna")
		expectBalance(t, b, 100, 0)
		if b.Expiring != 0 {
			t.Fatalf("%d points expiring within 30 days, want 0: the purchase lot expires in 100 days", b.Expiring)
		}
		res, err := e.Expire(e.ctx, e.clock.Now())
		if err != nil || res.Lots != 1 || res.Points != 20 {
			t.Fatalf("expire: %+v, %v", res, err)
		}
		if again, err := e.Expire(e.ctx, e.clock.Now()); err != nil || again.Lots != 0 {
			t.Fatalf("expiring twice: %+v, %v", again, err)
		}
		expectBalance(t, e.balance(t, "anna"), 100, 0)
		e.clock.AdvanceDays(80)
		if b := e.balance(t, "anna"); b.Expiring != 100 {
			t.Fatalf("%d points expiring within 30 days, want the 100 of the purchase lot", b.Expiring)
		}
		checkInvariants(t, e)
	})
}

// A return near the bounds of int64 is refused, not wrapped: returned + asked
// once overflowed, and a return of 9223372036854775807 after one of 1 cent passed
// the check and clawed back the member's whole balance, other partners' points
// included (issue 16).
func TestAReturnBeyondInt64IsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")
		e.earn(t, "elsewhere", drucker, 100000)   // 500 points another partner issued
		small := e.earn(t, "small", baecker, 200) // 1 point
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "cent"}, Partner: baecker, EarnID: small.EntryID, Amount: 1}); err != nil {
			t.Fatal(err)
		}
		before := e.balance(t, "anna")
		// Beyond the largest amount one write carries it is out of range; within it,
		// more than is left.
		for amount, want := range map[int64]error{math.MaxInt64: ErrOutOfRange, accrualapi.MaxAmount: ErrReturnExceedsEarn, 200: ErrReturnExceedsEarn} {
			res, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: fmt.Sprint("ret-", amount)}, Partner: baecker, EarnID: small.EntryID, Amount: amount})
			if !errors.Is(err, want) {
				t.Fatalf("returning %d of a purchase of 200: %+v, %v; want %v", amount, res, err, want)
			}
		}
		if after := e.balance(t, "anna"); after != before {
			t.Fatalf("the refused return changed the balance from %+v to %+v", before, after)
		}
		// The rest of the purchase can still be returned.
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "rest"}, Partner: baecker, EarnID: small.EntryID, Amount: 199}); err != nil {
			t.Fatalf("returning the rest: %v", err)
		}
		checkInvariants(t, e)
	})
}

func TestReturnsClawBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")
		earn := e.earn(t, "p1", baecker, 10001) // 50 points (50.005)
		// A return at another partner is refused; a return of more than was paid too.
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "x"}, Partner: drucker, EarnID: earn.EntryID, Amount: 100}); !errors.Is(err, ErrWrongPartner) {
			t.Fatalf("return at another partner: %v", err)
		}
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "x"}, Partner: baecker, EarnID: earn.EntryID, Amount: 10002}); !errors.Is(err, ErrReturnExceedsEarn) {
			t.Fatalf("returning more than was paid: %v", err)
		}
		// Returning a third, then the rest, takes back exactly the 50 points.
		first, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "ret1"}, Partner: baecker, EarnID: earn.EntryID, Amount: 3334})
		if err != nil || first.Points != 16 || first.ClawedBack != 16 {
			t.Fatalf("first return: %+v, %v", first, err)
		}
		expectBalance(t, e.balance(t, "anna"), 50, 34)
		rest, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "ret2"}, Partner: baecker, EarnID: earn.EntryID, Amount: 6667})
		if err != nil || rest.Points != 34 {
			t.Fatalf("second return: %+v, %v", rest, err)
		}
		expectBalance(t, e.balance(t, "anna"), 50, 0)
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "ret3"}, Partner: baecker, EarnID: earn.EntryID, Amount: 1}); !errors.Is(err, ErrReturnExceedsEarn) {
			t.Fatalf("returning after a full return: %v", err)
		}

		// Points already spent: under Forbid the balance stops at zero and the
		// rest is written off.
		spent := e.earn(t, "p2", baecker, 20000) // 100 points
		e.clock.AdvanceDays(14)
		if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "anna", Partner: drucker, Points: 130}); err != nil {
			t.Fatal(err)
		}
		res, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "ret4"}, Partner: baecker, EarnID: spent.EntryID, Amount: 20000})
		if err != nil || res.Points != 100 || res.ClawedBack != 20 || res.Shortfall != 80 || res.WrittenOff != 80 || res.Owed != 0 {
			t.Fatalf("returning spent points: %+v, %v", res, err)
		}
		expectBalance(t, e.balance(t, "anna"), 0, 0)
		checkInvariants(t, e)
	})
}

func TestNegativeBalanceIsRepaidByLaterEarnings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Returns.NegativeBalance = "Allow"
		e := open(t, mustProgram(t, c), nil)
		e.enroll(t, "anna")
		spent := e.earn(t, "p1", baecker, 20000) // 100 points
		e.clock.AdvanceDays(14)
		if _, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: "r1"}, Member: "anna", Partner: drucker, Points: 150}); err != nil {
			t.Fatal(err)
		}
		res, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: baecker, Key: "ret"}, Partner: baecker, EarnID: spent.EntryID, Amount: 20000})
		if err != nil || res.ClawedBack != 0 || res.Shortfall != 100 || res.Owed != 100 || res.WrittenOff != 0 {
			t.Fatalf("return: %+v, %v", res, err)
		}
		expectBalance(t, e.balance(t, "anna"), -100, 0)
		e.earn(t, "p2", baecker, 30000) // 150 points, 100 of them repay the debt
		e.clock.AdvanceDays(14)
		expectBalance(t, e.balance(t, "anna"), 50, 0)
		checkInvariants(t, e)
	})
}

func TestReferralCommissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		program := mustProgram(t, stadtBonusConfig())
		ref, err := rules.CompileReferral(money.MustCurrency("EUR"), rules.ReferralConfig{
			ID: "stadtbonus/grafik-empfiehlt-druck", Referrer: grafik, Referee: drucker,
			Discount:   rules.DiscountConfig{Type: "Percent", Percent: "5", Cap: "50.00"},
			Commission: rules.CommissionConfig{Type: "Percent", Percent: "3"}, HoldingPeriod: "P14D",
			CodePrefix: "GRAFIK",
		})
		if err != nil {
			t.Fatal(err)
		}
		e := open(t, program, map[string]*rules.Referral{ref.ID: ref})
		t0 := e.clock.Now()
		e.enroll(t, "anna")
		e.enroll(t, "ben")
		code, err := e.IssueCode(e.ctx, IssueCodeRequest{Meta: Meta{Actor: grafik, Key: "c1"}, Referral: ref.ID, Member: "anna"})
		if err != nil || len(code.Code) < 8 {
			t.Fatalf("issuing a code: %+v, %v", code, err)
		}
		// Anna cannot use her own code.
		_, err = e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "x"}, Member: "anna", Partner: drucker, Amount: 10000, Currency: "EUR", ReferralCode: code.Code})
		if !errors.Is(err, rules.ErrSelfReferral) {
			t.Fatalf("self referral: %v", err)
		}
		// Ben pays 95.00 for 100.00 and earns 47 points; Grafik accrues 2.85 EUR.
		res, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "p1"}, Member: "ben", Partner: drucker, Amount: 10000, Currency: "EUR", ReferralCode: code.Code})
		if err != nil || res.Discount != 500 || res.AmountDue != 9500 || res.Points != 47 || res.CommissionMicros != 285_000_000 {
			t.Fatalf("referred purchase: %+v, %v", res, err)
		}
		looked, err := e.LookupCode(e.ctx, code.Code)
		if err != nil || looked.Uses != 1 || looked.Owner != "anna" {
			t.Fatalf("lookup: %+v, %v", looked, err)
		}
		// A return of a fifth inside the holding period cancels a fifth of it.
		ret, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "ret1"}, Partner: drucker, EarnID: res.EntryID, Amount: 1900})
		if err != nil || ret.CommissionMicros != -57_000_000 {
			t.Fatalf("return inside the holding period: %+v, %v", ret, err)
		}
		e.clock.AdvanceDays(15)
		ret2, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "ret2"}, Partner: drucker, EarnID: res.EntryID, Amount: 1900})
		if err != nil || ret2.CommissionMicros != -57_000_000 {
			t.Fatalf("return after the holding period: %+v, %v", ret2, err)
		}
		var cancels, clawbacks int
		if err := e.db.QueryRowContext(e.ctx, `SELECT
			(SELECT COUNT(*) FROM commissions WHERE kind = 'cancel'), (SELECT COUNT(*) FROM commissions WHERE kind = 'clawback')`).Scan(&cancels, &clawbacks); err != nil {
			t.Fatal(err)
		}
		if cancels != 1 || clawbacks != 1 {
			t.Fatalf("%d cancellations and %d clawbacks, want 1 and 1", cancels, clawbacks)
		}
		// What the operator shows: one code, one referred purchase, its commission
		// (less the cancelled fifth) confirmed after the holding period.
		st, err := e.Stats(e.ctx)
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		want := ReferralStats{CodesIssued: 1, DiscountsGiven: 1, CommissionsConfirmed: 1}
		if st.Members != 2 || st.Referrals[ref.ID] != want {
			t.Fatalf("stats: %+v, want 2 members and %+v", st, want)
		}
		checkInvariants(t, e)
		checkCommissionExport(t, e, t0)
	})
}

func TestSettlementExport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		e := open(t, mustProgram(t, stadtBonusConfig()), nil)
		e.enroll(t, "anna")
		from := e.clock.Now()
		ids := make([]int64, 0, 5)
		for i := range 5 {
			ids = append(ids, e.earn(t, fmt.Sprintf("p%d", i), baecker, 1000).EntryID)
			e.clock.Advance(time.Hour)
		}
		e.earn(t, "other", drucker, 1000)
		page, next, err := e.PartnerEntries(e.ctx, baecker, from, e.clock.Now(), 0, 3)
		if err != nil || len(page) != 3 || next != ids[2] {
			t.Fatalf("first page: %d entries, next %d, %v", len(page), next, err)
		}
		rest, next, err := e.PartnerEntries(e.ctx, baecker, from, e.clock.Now(), next, 3)
		if err != nil || len(rest) != 2 || next != 0 || rest[1].ID != ids[4] {
			t.Fatalf("second page: %+v, next %d, %v", rest, next, err)
		}
		job := func(key string) Meta { return Meta{Actor: "settlement", Key: key} }
		if r, err := e.MarkSettled(e.ctx, job("m1"), "s1", ids); err != nil || r != (MarkResult{Marked: 5}) {
			t.Fatalf("marking: %+v, %v", r, err)
		}
		// A retry under the same key gets the original count; a new request under
		// another key marks nothing new; the same key with other ids is a conflict.
		if r, err := e.MarkSettled(e.ctx, job("m1"), "s1", ids); err != nil || r != (MarkResult{Marked: 5, Replayed: true}) {
			t.Fatalf("retrying: %+v, %v", r, err)
		}
		if r, err := e.MarkSettled(e.ctx, job("m2"), "s1", ids); err != nil || r != (MarkResult{Marked: 0}) {
			t.Fatalf("marking again: %+v, %v", r, err)
		}
		if _, err := e.MarkSettled(e.ctx, job("m1"), "s1", ids[:2]); !errors.Is(err, ErrIdempotencyConflict) {
			t.Fatalf("the same key for other ids: %v", err)
		}
		if _, err := e.MarkSettled(e.ctx, Meta{Actor: "settlement"}, "s1", ids); !errors.Is(err, ErrInvalid) {
			t.Fatalf("no key: %v", err)
		}
		if _, err := e.MarkSettled(e.ctx, job("m3"), "s2", ids[:1]); !errors.Is(err, ErrAlreadySettled) {
			t.Fatalf("settling twice: %v", err)
		}
		// The refused request did not consume its key.
		if r, err := e.MarkSettled(e.ctx, job("m3"), "s1", ids[:1]); err != nil || r != (MarkResult{}) {
			t.Fatalf("the key of a refused request, reused: %+v, %v", r, err)
		}
		history, _, err := e.History(e.ctx, "anna", 0, 100)
		if err != nil || len(history) != 7 || history[0].Partner != drucker || history[1].Settlement != "s1" {
			t.Fatalf("history: %+v, %v", history, err)
		}
	})
}

// checkCommissionExport reads back the commissions of TestReferralCommissions
// as settlement does: the accrual and its cancel fall due together after the
// 14-day holding period, the clawback the day it was written.
func checkCommissionExport(t *testing.T, e *env, t0 time.Time) {
	t.Helper()
	sum := func(cs []Commission) (total int64) {
		for _, c := range cs {
			total += c.Micros
		}
		return total
	}
	split := t0.Add(14*24*time.Hour + 12*time.Hour)
	first, next, err := e.PartnerCommissions(e.ctx, drucker, t0, split, 0, 1)
	if err != nil || len(first) != 1 || next != first[0].ID || first[0].Kind != CommissionAccrual || first[0].Referrer != grafik {
		t.Fatalf("first page of the holding period's commissions: %+v, next %d, %v", first, next, err)
	}
	rest, next, err := e.PartnerCommissions(e.ctx, drucker, t0, split, next, 1)
	if err != nil || len(rest) != 1 || next != 0 || rest[0].Kind != CommissionCancel {
		t.Fatalf("second page: %+v, next %d, %v", rest, next, err)
	}
	if got := sum(first) + sum(rest); got != 228_000_000 {
		t.Errorf("commissions due after the holding period: %d micros, want 228000000 (2.85 EUR less a fifth)", got)
	}
	later, _, err := e.PartnerCommissions(e.ctx, drucker, split, t0.AddDate(0, 0, 20), 0, 10)
	if err != nil || len(later) != 1 || later[0].Kind != CommissionClawback || later[0].Micros != -57_000_000 {
		t.Fatalf("the clawback: %+v, %v", later, err)
	}
	if none, _, err := e.PartnerCommissions(e.ctx, grafik, t0, t0.AddDate(0, 0, 20), 0, 10); err != nil || len(none) != 0 {
		t.Fatalf("the referrer owes nothing: %+v, %v", none, err)
	}
	ids := []int64{first[0].ID, rest[0].ID}
	job := func(key string) Meta { return Meta{Actor: "settlement", Key: key} }
	if r, err := e.MarkCommissionsSettled(e.ctx, job("c1"), "s1", ids); err != nil || r.Marked != 2 {
		t.Fatalf("marking: %+v, %v", r, err)
	}
	if r, err := e.MarkCommissionsSettled(e.ctx, job("c1"), "s1", ids); err != nil || r != (MarkResult{Marked: 2, Replayed: true}) {
		t.Fatalf("retrying: %+v, %v", r, err)
	}
	if r, err := e.MarkCommissionsSettled(e.ctx, job("c2"), "s1", ids); err != nil || r.Marked != 0 {
		t.Fatalf("marking again: %+v, %v", r, err)
	}
	if _, err := e.MarkCommissionsSettled(e.ctx, job("c3"), "s2", []int64{later[0].ID, ids[0]}); !errors.Is(err, ErrAlreadySettled) {
		t.Fatalf("settling twice: %v", err)
	}
	if _, err := e.MarkCommissionsSettled(e.ctx, job("c4"), "s2", []int64{999_999}); !errors.Is(err, ErrUnknownCommission) {
		t.Fatalf("an unknown commission: %v", err)
	}
	again, _, err := e.PartnerCommissions(e.ctx, drucker, t0, t0.AddDate(0, 0, 20), 0, 10)
	if err != nil || len(again) != 3 || again[0].Settlement != "s1" || again[2].Settlement != "" {
		t.Fatalf("after marking: %+v, %v (the refused batch must mark nothing)", again, err)
	}
}

func TestMembershipPinsTierAndBirthdays(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Membership = rules.MembershipConfig{Type: "Paid", Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
		e := open(t, mustProgram(t, c), nil)
		if _, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "e"}, Member: "anna", Birthday: &rules.Birthday{Month: time.March, Day: 10}}); err != nil {
			t.Fatal(err)
		}
		if st, _ := e.Tier(e.ctx, "anna"); st.Name != "Bronze" {
			t.Fatalf("tier before the fee: %s", st.Name)
		}
		if _, err := e.PayMembershipFee(e.ctx, MembershipFeeRequest{Meta: Meta{Actor: baecker, Key: "f1"}, Member: "anna", Partner: baecker, Amount: 8990}); err != nil {
			t.Fatal(err)
		}
		// Gold earns 1.5 points per 2.00 EUR.
		if res := e.earn(t, "p1", baecker, 10000); res.Points != 75 {
			t.Fatalf("a Gold member earned %d points on 100.00 EUR, want 75", res.Points)
		}
		if st, _ := e.Tier(e.ctx, "anna"); st.Name != "Gold" || !st.Pinned {
			t.Fatalf("tier with the fee paid: %+v", st)
		}
		// The birthday bonus comes once in the year, on or after the day.
		if n, err := e.GrantBirthdayBonuses(e.ctx); err != nil || n != 0 {
			t.Fatalf("before the birthday: %d, %v", n, err)
		}
		e.clock.AdvanceDays(8)
		if n, err := e.GrantBirthdayBonuses(e.ctx); err != nil || n != 1 {
			t.Fatalf("on the birthday: %d, %v", n, err)
		}
		if n, err := e.GrantBirthdayBonuses(e.ctx); err != nil || n != 0 {
			t.Fatalf("a second sweep: %d, %v", n, err)
		}
		expectBalance(t, e.balance(t, "anna"), 150, 75)
		e.clock.AdvanceDays(366)
		if st, _ := e.Tier(e.ctx, "anna"); st.Name != "Bronze" {
			t.Fatalf("tier after the fee ran out: %+v", st)
		}
		checkInvariants(t, e)
	})
}

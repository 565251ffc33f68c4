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
	"testing"

	"github.com/treue-dev/treue/internal/rules"
)

// The semantics the README states (issue 16 §6), each held here on every backend.
func TestTheDocumentedSemantics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		ref := grafikReferral(t, rules.DiscountConfig{Type: "Percent", Percent: "5"}, rules.GuardsConfig{EligiblePurchases: "AnyPurchase"})
		e := open(t, mustProgram(t, stadtBonusConfig()), map[string]*rules.Referral{ref.ID: ref})
		e.enroll(t, "anna")
		e.enroll(t, "ben")
		code, err := e.IssueCode(e.ctx, IssueCodeRequest{Meta: Meta{Actor: grafik, Key: "c"}, Referral: ref.ID, Member: "ben"})
		if err != nil {
			t.Fatal(err)
		}

		// A return is measured in the amount paid, after discounts: 100.00 with
		// the code is 95.00 paid (47 points); 100.00 cannot be returned, 95.00 is
		// all of it and takes back all 47 points.
		paid, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "p"}, Member: "anna", Partner: drucker, Amount: 10000, Currency: "EUR", ReferralCode: code.Code})
		if err != nil || paid.AmountDue != 9500 || paid.Points != 47 {
			t.Fatalf("the referred purchase: %+v, %v", paid, err)
		}
		if _, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "r100"}, Partner: drucker, EarnID: paid.EntryID, Amount: 10000}); !errors.Is(err, ErrReturnExceedsEarn) {
			t.Fatalf("returning the amount before the discount: %v", err)
		}
		all, err := e.Reverse(e.ctx, ReverseRequest{Meta: Meta{Actor: drucker, Key: "r95"}, Partner: drucker, EarnID: paid.EntryID, Amount: 9500})
		if err != nil || all.Points != 47 {
			t.Fatalf("returning what was paid: %+v, %v", all, err)
		}

		// Purchase lines add up to the amount (before any discount), or the
		// purchase is refused.
		_, err = e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: "lines"}, Member: "anna", Partner: drucker, Amount: 10000, Currency: "EUR",
			Lines: []rules.Line{{Amount: 5000}, {Amount: 4999}}})
		if !errors.Is(err, rules.ErrBadPurchase) {
			t.Fatalf("lines that do not add up: %v", err)
		}

		// A refused write does not consume its idempotency key: the same key and
		// body, sent again once it can succeed, is performed, not answered with the
		// old refusal. (anna has 50 points.)
		redeem := RedeemRequest{Meta: Meta{Actor: drucker, Key: "again"}, Member: "anna", Partner: drucker, Points: 60}
		if _, err := e.Redeem(e.ctx, redeem); !errors.Is(err, ErrInsufficientPoints) {
			t.Fatalf("redeeming 60 of 50: %v", err)
		}
		if _, err := e.Adjust(e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: "top-up"}, Member: "anna", Points: 10, Reason: "goodwill"}); err != nil {
			t.Fatal(err)
		}
		res, err := e.Redeem(e.ctx, redeem)
		if err != nil || res.Replayed || res.Points != 60 {
			t.Fatalf("the same request once it can succeed: %+v, %v", res, err)
		}
		if again, err := e.Redeem(e.ctx, redeem); err != nil || !again.Replayed || again.EntryID != res.EntryID {
			t.Fatalf("and its retry: %+v, %v", again, err)
		}
		expectBalance(t, e.balance(t, "anna"), 0, 0)
		checkInvariants(t, e)
	})
}

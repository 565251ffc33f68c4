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
	"fmt"
	"testing"

	"github.com/treue-dev/treue/internal/rules"
)

// A tier's discount is applied at the till (issue 16: it was validated, rendered
// and compiled, and a Gold member's 100.00 EUR purchase answered discount 0). The
// tier's percentage comes off the amount first, rounded half up; a referral code's
// discount applies to what is left; points (with the tier's multiplier) and the
// commission are earned on what the member pays. Every figure is computed by hand.
func TestTheTierDiscountIsAppliedAtTheTill(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		c := stadtBonusConfig()
		c.Tiers.Levels[1].Discount = "2.5" // Silber
		c.Tiers.Levels[2].Discount = "5"   // Gold
		ref := grafikReferral(t, rules.DiscountConfig{Type: "Percent", Percent: "5", Cap: "50.00"}, rules.GuardsConfig{EligiblePurchases: "AnyPurchase"})
		e := open(t, mustProgram(t, c), map[string]*rules.Referral{ref.ID: ref})
		e.enroll(t, "anna")
		e.enroll(t, "ben")
		code, err := e.IssueCode(e.ctx, IssueCodeRequest{Meta: Meta{Actor: grafik, Key: "c"}, Referral: ref.ID, Member: "ben"})
		if err != nil {
			t.Fatal(err)
		}
		// Bronze: no discount. 10,000.00 EUR earns 5,000 points: Gold.
		if r := e.earn(t, "climb", baecker, 1_000_000); r.Discount != 0 || r.TierDiscount != 0 || r.Points != 5000 {
			t.Fatalf("the Bronze purchase: %+v", r)
		}
		tests := []struct {
			amount                      int64
			code                        string
			tierDiscount, discount, due int64
			points, commissionMicros    int64
			partner                     string
		}{
			// 5 % of 100.00 = 5.00; 95.00 × 1.5 / 2.00 = 71.25 → 71 points.
			{amount: 10000, tierDiscount: 500, discount: 500, due: 9500, points: 71, partner: baecker},
			// 5 % of 9.99 = 0.4995 → 0.50 (half up); 9.49 × 1.5 / 2.00 = 7.1175 → 7.
			{amount: 999, tierDiscount: 50, discount: 50, due: 949, points: 7, partner: baecker},
			// 5 % of 0.10 = 0.005 → 0.01; 0.09 earns 0.
			{amount: 10, tierDiscount: 1, discount: 1, due: 9, points: 0, partner: baecker},
			// With the code at the referee: tier 5.00 off 100.00, then 5 % of the 95.00
			// left = 4.75; pays 90.25; 90.25 × 1.5 / 2.00 = 67.6875 → 67; commission 3 %
			// of 90.25 = 2.7075 EUR = 270,750,000 micros.
			{amount: 10000, code: code.Code, tierDiscount: 500, discount: 975, due: 9025, points: 67, commissionMicros: 270_750_000, partner: drucker},
			// 2,000.00 with the code: tier 100.00, the code's 5 % of 1,900.00 = 95.00
			// capped at 50.00; pays 1,850.00; 1,387.5 → 1,387 points; 3 % = 55.50 EUR.
			{amount: 200000, code: code.Code, tierDiscount: 10000, discount: 15000, due: 185000, points: 1387, commissionMicros: 5_550_000_000, partner: drucker},
		}
		for i, tt := range tests {
			res, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: tt.partner, Key: fmt.Sprint("gold-", i)}, Member: "anna", Partner: tt.partner,
				Amount: tt.amount, Currency: "EUR", ReferralCode: tt.code})
			if err != nil {
				t.Fatalf("purchase %d: %v", i, err)
			}
			if res.TierDiscount != tt.tierDiscount || res.Discount != tt.discount || res.AmountDue != tt.due ||
				res.Points != tt.points || res.CommissionMicros != tt.commissionMicros {
				t.Errorf("purchase %d of %d: tier discount %d, discount %d, due %d, %d points, commission %d; want %d, %d, %d, %d, %d",
					i, tt.amount, res.TierDiscount, res.Discount, res.AmountDue, res.Points, res.CommissionMicros,
					tt.tierDiscount, tt.discount, tt.due, tt.points, tt.commissionMicros)
			}
		}
		// The entries carry the tier discount the partner granted, for settlement.
		entries, _, err := e.PartnerEntries(e.ctx, baecker, e.clock.Now().AddDate(0, 0, -1), e.clock.Now().AddDate(0, 0, 1), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var granted int64
		for _, en := range entries {
			granted += en.Discount
		}
		if granted != 500+50+1 {
			t.Fatalf("the bakery's entries carry %d of tier discounts, want 551", granted)
		}
		checkInvariants(t, e)
	})
}

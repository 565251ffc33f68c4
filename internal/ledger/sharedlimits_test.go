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
	"sync"
	"testing"

	"github.com/treue-dev/treue/internal/rules"
)

// A referral code's use limit is a counter shared by every member who uses the
// code: no member's lock covers it. Twenty new members use one code at the same
// instant through two ledgers on one store (two replicas of the accrual service),
// in several bursts; each code gives exactly maxUses discounts and commissions.
func TestACodesUseLimitHoldsUnderConcurrency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		const members, bursts = 20, 4
		for _, maxUses := range []int64{1, 3} {
			t.Run(fmt.Sprintf("maxUses=%d", maxUses), func(t *testing.T) {
				program := mustProgram(t, stadtBonusConfig())
				ref := grafikReferral(t, rules.DiscountConfig{Type: "Percent", Percent: "5"},
					rules.GuardsConfig{EligiblePurchases: "AnyPurchase", MaxUses: maxUses})
				referrals := map[string]*rules.Referral{ref.ID: ref}
				e := open(t, program, referrals)
				// The second replica: another ledger on the same store.
				replica := newEnv(t, e.d.backend, e.dsn, program, referrals, e.batch != nil)
				replica.Ledger.clock = e.clock
				e.enroll(t, "owner")
				for b := range bursts {
					code, err := e.IssueCode(e.ctx, IssueCodeRequest{Meta: Meta{Actor: grafik, Key: fmt.Sprintf("code-%d", b)}, Referral: ref.ID, Member: "owner"})
					if err != nil {
						t.Fatal(err)
					}
					for i := range members {
						e.enroll(t, fmt.Sprintf("m%d-%d", b, i))
					}
					start := make(chan struct{})
					var wg sync.WaitGroup
					var mu sync.Mutex
					used, refused := int64(0), 0
					for i := range members {
						wg.Add(1)
						go func() {
							defer wg.Done()
							l := e.Ledger
							if i%2 == 1 {
								l = replica.Ledger
							}
							<-start
							res, err := l.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: drucker, Key: fmt.Sprintf("p%d-%d", b, i)},
								Member: fmt.Sprintf("m%d-%d", b, i), Partner: drucker, Amount: 10000, Currency: "EUR", ReferralCode: code.Code})
							mu.Lock()
							defer mu.Unlock()
							switch {
							case err == nil && res.Discount == 500:
								used++
							case errors.Is(err, rules.ErrMaxUses):
								refused++
							default:
								t.Errorf("purchase %d with the code: %+v, %v", i, res, err)
							}
						}()
					}
					close(start)
					wg.Wait()
					looked, err := e.LookupCode(e.ctx, code.Code)
					if err != nil {
						t.Fatal(err)
					}
					if used != maxUses || looked.Uses != maxUses {
						t.Fatalf("burst %d: the code gave %d discounts (%d uses recorded) and refused %d; want exactly %d", b, used, looked.Uses, refused, maxUses)
					}
				}
				var commissions int64
				if err := e.db.QueryRowContext(e.ctx, `SELECT COUNT(*) FROM commissions WHERE kind = 'accrual'`).Scan(&commissions); err != nil {
					t.Fatal(err)
				}
				if commissions != bursts*maxUses {
					t.Fatalf("%d commissions owed, want %d", commissions, bursts*maxUses)
				}
				checkInvariants(t, e)
			})
		}
	})
}

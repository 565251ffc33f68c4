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
	"sync/atomic"
	"testing"

	"github.com/treue-dev/treue/internal/rules"
)

// Benchmarks of the ledger's writes on each backend, from concurrent goroutines
// (b.RunParallel): spread over many members, and on one hot member. They report
// figures only; bench/ledger (make bench-ledger) prints them against a floor.

func benchProgram(b *testing.B) *rules.Program {
	c := stadtBonusConfig()
	c.PendingPeriod = "P0D" // spendable at once, so that redemptions find points
	return mustProgram(b, c)
}

func benchLedger(b *testing.B, open opener, members int) (*env, []string) {
	e := open(b, benchProgram(b), nil)
	names := make([]string, members)
	for i := range names {
		names[i] = fmt.Sprintf("m%d", i)
		if _, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: names[i]}, Member: names[i]}); err != nil {
			b.Fatal(err)
		}
	}
	return e, names
}

func BenchmarkEarn(b *testing.B) {
	for name, open := range backends() {
		for _, members := range []int{200, 1} {
			b.Run(fmt.Sprintf("%s/members=%d", name, members), func(b *testing.B) {
				e, names := benchLedger(b, open, members)
				var seq atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						_, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: baecker, Key: fmt.Sprint(n)}, Member: names[int(n)%len(names)],
							Partner: baecker, Amount: 1000, Currency: "EUR"})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func BenchmarkRedeem(b *testing.B) {
	for name, open := range backends() {
		for _, members := range []int{200, 1} {
			b.Run(fmt.Sprintf("%s/members=%d", name, members), func(b *testing.B) {
				e, names := benchLedger(b, open, members)
				for i, m := range names {
					if _, err := e.Adjust(e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: fmt.Sprint("fund", i)}, Member: m, Points: 1 << 40, Reason: "bench"}); err != nil {
						b.Fatal(err)
					}
				}
				var seq atomic.Int64
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						n := seq.Add(1)
						_, err := e.Redeem(e.ctx, RedeemRequest{Meta: Meta{Actor: drucker, Key: fmt.Sprint(n)}, Member: names[int(n)%len(names)],
							Partner: drucker, Points: 1})
						if err != nil && !errors.Is(err, ErrInsufficientPoints) {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

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

package settlement

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/treue-dev/treue/internal/money"
)

// randomPeriod draws a cooperation of 2 to 8 partners with prices of up to 6
// decimal places, a minimum transfer, and a period of random entries.
func randomPeriod(rng *rand.Rand) (Terms, []Entry, map[string]int64) {
	modes := []money.RoundingMode{money.Floor, money.Ceiling, money.HalfUp, money.HalfEven}
	terms := Terms{Currency: money.MustCurrency("EUR"), Rounding: modes[rng.IntN(len(modes))], Partners: map[string]Prices{}}
	if rng.IntN(2) == 0 {
		terms.MinimumTransfer = rng.Int64N(5_000)
	}
	n := 2 + rng.IntN(7)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("ns-%d/partner-%d", rng.IntN(3), i)
		terms.Partners[keys[i]] = Prices{
			Issuance:   big.NewRat(rng.Int64N(20_000), 1_000_000),
			Redemption: big.NewRat(rng.Int64N(20_000), 1_000_000),
		}
	}
	var entries []Entry
	for range rng.IntN(200) {
		p := keys[rng.IntN(n)]
		switch rng.IntN(4) {
		case 0:
			entries = append(entries, Entry{Kind: Issued, Partner: p, Points: rng.Int64N(100_000)})
		case 1:
			entries = append(entries, Entry{Kind: Returned, Partner: p, Points: rng.Int64N(20_000)})
		case 2:
			entries = append(entries, Entry{Kind: Redeemed, Partner: p, Points: rng.Int64N(100_000)})
		default:
			q := keys[rng.IntN(n)]
			if q != p {
				entries = append(entries, Entry{Kind: Commission, Partner: p, Referrer: q, Micros: rng.Int64N(2_000_000_000) - 400_000_000})
			}
		}
	}
	carried := map[string]int64{}
	for _, k := range keys {
		if rng.IntN(4) == 0 {
			carried[k] = rng.Int64N(10_000) - 5_000
		}
	}
	return terms, entries, carried
}

func settleQuietly(terms Terms, entries []Entry, carried map[string]int64) (*Result, error) {
	a, err := New(terms)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := a.Add(e); err != nil {
			return nil, err
		}
	}
	for p, v := range carried {
		if err := a.CarryIn(p, v); err != nil {
			return nil, err
		}
	}
	return a.Settle()
}

// flows is what each party receives less what it pays, over the transfers.
func flows(ts []Transfer) map[string]int64 {
	out := map[string]int64{}
	for _, t := range ts {
		out[t.From] -= t.Amount
		out[t.To] += t.Amount
	}
	return out
}

func TestProperties(t *testing.T) {
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 47))
		terms, entries, carried := randomPeriod(rng)
		results := map[Netting]*Result{}
		for _, netting := range []Netting{Multilateral, Bilateral} {
			terms.Netting = netting
			res, err := settleQuietly(terms, entries, carried)
			if err != nil {
				t.Fatalf("seed %d, %s: %v", seed, netting, err)
			}
			results[netting] = res
			f := flows(res.Transfers)
			var total, network int64
			for _, v := range f {
				total += v
			}
			if total != 0 {
				t.Fatalf("seed %d, %s: transfers do not net to zero: %d", seed, netting, total)
			}
			var nets int64
			for _, s := range res.Statements {
				if f[s.Partner] != s.Settled() {
					t.Fatalf("seed %d, %s: %s receives %d by its transfers, its statement settles %d", seed, netting, s.Partner, f[s.Partner], s.Settled())
				}
				if s.CarriedOut != 0 && (abs(s.Net) >= terms.MinimumTransfer || s.CarriedOut != s.Net) {
					t.Fatalf("seed %d, %s: %s carried %d of a net %d under a minimum of %d", seed, netting, s.Partner, s.CarriedOut, s.Net, terms.MinimumTransfer)
				}
				nets += s.Net
				network -= s.Settled()
			}
			if f[Network] != network {
				t.Fatalf("seed %d, %s: the network receives %d, the statements say %d", seed, netting, f[Network], network)
			}
			// Exactness: the partners' nets are what the network keeps, with the
			// amounts carried in.
			if nets+res.Totals.NetworkMargin-res.Totals.CarriedIn != 0 {
				t.Fatalf("seed %d, %s: nets %d, margin %d, carried in %d do not balance", seed, netting, nets, res.Totals.NetworkMargin, res.Totals.CarriedIn)
			}
			if netting == Multilateral && len(res.Transfers) > len(res.Statements) {
				t.Fatalf("seed %d: %d multilateral transfers for %d partners", seed, len(res.Transfers), len(res.Statements))
			}
			// Each rounded line is off by less than one minor unit.
			lines := int64(2*len(res.Statements) + len(res.Statements)*len(res.Statements))
			if new(big.Rat).Abs(res.Residual).Cmp(new(big.Rat).SetFrac64(lines, 100)) >= 0 {
				t.Fatalf("seed %d, %s: residual %s beyond %d lines' rounding", seed, netting, res.Residual.RatString(), lines)
			}
		}
		if !reflect.DeepEqual(results[Multilateral].Statements, results[Bilateral].Statements) {
			t.Fatalf("seed %d: the netting modes disagree on the statements", seed)
		}
	}
}

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

// Command settlement measures the netting engine: it settles 1,000,000 entries of
// 50 partners in both netting modes and, in the same run, times a bare pass that
// only sums the same entries per partner (the floor), and prints the ratio.
// `make bench-settlement`.
package main

import (
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/settlement"
)

func main() {
	entries := flag.Int("entries", 1_000_000, "Entries in the period.")
	partners := flag.Int("partners", 50, "Partners in the cooperation.")
	rounds := flag.Int("rounds", 5, "Timed rounds of each case; the median is printed.")
	flag.Parse()
	if err := run(*entries, *partners, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/settlement:", err)
		os.Exit(1)
	}
}

func run(n, partners, rounds int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	terms := settlement.Terms{Currency: money.MustCurrency("EUR"), Rounding: money.HalfEven, MinimumTransfer: 1_000,
		Partners: map[string]settlement.Prices{}}
	keys := make([]string, partners)
	for i := range keys {
		keys[i] = fmt.Sprintf("partners/partner-%02d", i)
		terms.Partners[keys[i]] = settlement.Prices{Issuance: big.NewRat(10_000+rng.Int64N(5_000), 1_000_000),
			Redemption: big.NewRat(8_000+rng.Int64N(2_000), 1_000_000)}
	}
	entries := make([]settlement.Entry, n)
	for i := range entries {
		p := keys[rng.IntN(partners)]
		switch k := rng.IntN(10); {
		case k < 5:
			entries[i] = settlement.Entry{Kind: settlement.Issued, Partner: p, Points: 1 + rng.Int64N(500)}
		case k < 8:
			entries[i] = settlement.Entry{Kind: settlement.Redeemed, Partner: p, Points: 1 + rng.Int64N(1_000)}
		case k < 9:
			entries[i] = settlement.Entry{Kind: settlement.Returned, Partner: p, Points: 1 + rng.Int64N(200)}
		default:
			q := keys[(slices.Index(keys, p)+1+rng.IntN(partners-1))%partners]
			entries[i] = settlement.Entry{Kind: settlement.Commission, Partner: p, Referrer: q, Micros: rng.Int64N(500_000_000)}
		}
	}

	fmt.Printf("settlement: %d entries, %d partners, median of %d rounds\n\n", n, partners, rounds)
	fmt.Printf("%-26s %12s %16s %8s\n", "case", "time", "entries/s", "ratio")
	var checksum string
	var sum int64
	floor := median(rounds, func() error { sum = bare(entries); return nil })
	fmt.Printf("%-26s %12s %16.0f %8.2f\n", "bare sum (floor)", floor.Round(time.Microsecond), float64(n)/floor.Seconds(), 1.0)
	for _, netting := range []settlement.Netting{settlement.Multilateral, settlement.Bilateral} {
		terms.Netting = netting
		var err error
		took := median(rounds, func() error {
			res, e := settle(terms, entries)
			if e == nil {
				checksum = res.Checksum
			}
			err = e
			return e
		})
		if err != nil {
			return err
		}
		fmt.Printf("%-26s %12s %16.0f %8.2f\n", "settle, "+string(netting), took.Round(time.Microsecond), float64(n)/took.Seconds(),
			took.Seconds()/floor.Seconds())
	}
	fmt.Printf("\n(bare sum %d; last checksum %s)\n", sum, checksum)
	return nil
}

func settle(terms settlement.Terms, entries []settlement.Entry) (*settlement.Result, error) {
	a, err := settlement.New(terms)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := a.Add(e); err != nil {
			return nil, err
		}
	}
	return a.Settle()
}

// bare is the floor: it only sums the entries' points and micros per partner.
func bare(entries []settlement.Entry) int64 {
	sums := map[string]*[4]int64{}
	for _, e := range entries {
		s, ok := sums[e.Partner]
		if !ok {
			s = new([4]int64)
			sums[e.Partner] = s
		}
		if e.Kind == settlement.Commission {
			s[3] += e.Micros
		} else {
			s[e.Kind-1] += e.Points
		}
	}
	var total int64
	for _, s := range sums {
		total += s[0] + s[1] + s[2] + s[3]
	}
	return total
}

func median(rounds int, f func() error) time.Duration {
	times := make([]time.Duration, 0, rounds)
	for range rounds {
		start := time.Now()
		if f() != nil {
			return 0
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2]
}

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
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/treue-dev/treue/internal/money"
)

func price(s string) *big.Rat {
	r, err := money.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return r
}

// The network of the worked example: two partners at 1.0 ct issuance and 0.8 ct
// redemption per point, and a third with dearer points.
func exampleTerms(netting Netting, minimum int64) Terms {
	return Terms{
		Currency: money.MustCurrency("EUR"), Rounding: money.HalfEven, Netting: netting, MinimumTransfer: minimum,
		Partners: map[string]Prices{
			"shops/a": {Issuance: price("0.01"), Redemption: price("0.008")},
			"shops/b": {Issuance: price("0.01"), Redemption: price("0.008")},
			"shops/c": {Issuance: price("0.012"), Redemption: price("0.009")},
		},
	}
}

func settle(t *testing.T, terms Terms, entries []Entry, carried map[string]int64) *Result {
	t.Helper()
	a, err := New(terms)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := a.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	for p, v := range carried {
		if err := a.CarryIn(p, v); err != nil {
			t.Fatal(err)
		}
	}
	res, err := a.Settle()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// The example of the issue: A issues 100,000 points, B redeems 85,000: A owes
// 1,000.00 EUR, B is owed 680.00 EUR, the network keeps 320.00 EUR.
func TestIssuanceAndRedemption(t *testing.T) {
	for _, netting := range []Netting{Multilateral, Bilateral} {
		t.Run(string(netting), func(t *testing.T) {
			terms := exampleTerms(netting, 0)
			delete(terms.Partners, "shops/c")
			res := settle(t, terms, []Entry{
				{Kind: Issued, Partner: "shops/a", Points: 60_000},
				{Kind: Issued, Partner: "shops/a", Points: 40_000},
				{Kind: Redeemed, Partner: "shops/b", Points: 85_000},
			}, nil)
			want := []Statement{
				{Partner: "shops/a", PointsIssued: 100_000, Issuance: 100_000, Net: -100_000},
				{Partner: "shops/b", PointsRedeemed: 85_000, Redemption: 68_000, Net: 68_000},
			}
			if !reflect.DeepEqual(res.Statements, want) {
				t.Errorf("statements:\n got %+v\nwant %+v", res.Statements, want)
			}
			wantTransfers := []Transfer{{From: "network", To: "shops/b", Amount: 68_000}, {From: "shops/a", To: "network", Amount: 100_000}}
			if !reflect.DeepEqual(res.Transfers, wantTransfers) {
				t.Errorf("transfers: got %+v, want %+v", res.Transfers, wantTransfers)
			}
			if res.Totals.NetworkMargin != 32_000 || res.Totals.NetVolume != 168_000 {
				t.Errorf("network keeps %d, net volume %d; want 32000 and 168000", res.Totals.NetworkMargin, res.Totals.NetVolume)
			}
			if res.Residual.Sign() != 0 {
				t.Errorf("residual %s, want 0", res.Residual.RatString())
			}
		})
	}
}

// exampleEntries: the example with a return, a third partner whose
// amounts need rounding, and referral commissions with a clawback.
func exampleEntries() []Entry {
	return []Entry{
		{Kind: Issued, Partner: "shops/a", Points: 100_000},
		{Kind: Returned, Partner: "shops/a", Points: 4_000},
		{Kind: Redeemed, Partner: "shops/b", Points: 85_000},
		{Kind: Issued, Partner: "shops/c", Points: 1_001},
		{Kind: Redeemed, Partner: "shops/c", Points: 333},
		// b owes c: 5 % of 49.99 EUR, a flat 1.00 EUR, and a clawback of 30 % of the first.
		{Kind: Commission, Partner: "shops/b", Referrer: "shops/c", Micros: 249_950_000},
		{Kind: Commission, Partner: "shops/b", Referrer: "shops/c", Micros: 100_000_000},
		{Kind: Commission, Partner: "shops/b", Referrer: "shops/c", Micros: -74_985_000},
	}
}

// Hand-computed: a owes (100,000 − 4,000) × 0.01 = 960.00; b is owed 85,000 ×
// 0.008 = 680.00 and owes c 2.74965 EUR of commissions, rounded once to 2.75; c
// owes 1,001 × 0.012 = 12.012 → 12.01 and is owed 333 × 0.009 = 2.997 → 3.00.
// Nets: a −960.00, b +677.25, c +3.00 − 12.01 + 2.75 = −6.26. The residual is
// (0.002 − 0.003 − 0.00035) = −0.00135 EUR.
func TestReturnsCommissionsAndRounding(t *testing.T) {
	wantStatements := []Statement{
		{Partner: "shops/a", PointsIssued: 100_000, PointsReturned: 4_000, Issuance: 96_000, Net: -96_000},
		{Partner: "shops/b", PointsRedeemed: 85_000, Redemption: 68_000, CommissionsOwed: 275, Net: 67_725},
		{Partner: "shops/c", PointsIssued: 1_001, PointsRedeemed: 333, Issuance: 1_201, Redemption: 300, CommissionsEarned: 275, Net: -626},
	}
	tests := []struct {
		netting   Netting
		transfers []Transfer
		volume    int64
	}{
		{Multilateral, []Transfer{{"network", "shops/b", 67_725}, {"shops/a", "network", 96_000}, {"shops/c", "network", 626}}, 164_351},
		{Bilateral, []Transfer{{"network", "shops/b", 68_000}, {"shops/a", "network", 96_000}, {"shops/b", "shops/c", 275},
			{"shops/c", "network", 901}}, 165_176},
	}
	for _, tt := range tests {
		t.Run(string(tt.netting), func(t *testing.T) {
			res := settle(t, exampleTerms(tt.netting, 0), exampleEntries(), nil)
			if !reflect.DeepEqual(res.Statements, wantStatements) {
				t.Errorf("statements:\n got %+v\nwant %+v", res.Statements, wantStatements)
			}
			if !reflect.DeepEqual(res.Transfers, tt.transfers) {
				t.Errorf("transfers:\n got %+v\nwant %+v", res.Transfers, tt.transfers)
			}
			wantTotals := Totals{PointsIssued: 101_001, PointsReturned: 4_000, PointsRedeemed: 85_333, Issuance: 97_201, Redemption: 68_300,
				Commissions: 275, NetworkMargin: 28_901, NetVolume: tt.volume}
			if res.Totals != wantTotals {
				t.Errorf("totals:\n got %+v\nwant %+v", res.Totals, wantTotals)
			}
			if got, _ := money.FormatExact(res.Residual); got != "-0.00135" {
				t.Errorf("residual %s, want -0.00135", got)
			}
		})
	}
}

// c's position of −6.26 EUR is under a 10.00 EUR minimum: it is carried to the
// next period. In bilateral mode the network takes over the commission b owes c:
// b pays it to the network, and it is part of c's carried position.
func TestMinimumTransferCarries(t *testing.T) {
	for _, netting := range []Netting{Multilateral, Bilateral} {
		t.Run(string(netting), func(t *testing.T) {
			res := settle(t, exampleTerms(netting, 1_000), exampleEntries(), nil)
			c := res.Statements[2]
			if c.Net != -626 || c.CarriedOut != -626 || c.Settled() != 0 {
				t.Errorf("c: net %d, carried out %d; want −626 carried", c.Net, c.CarriedOut)
			}
			want := []Transfer{{"network", "shops/b", 67_725}, {"shops/a", "network", 96_000}}
			if !reflect.DeepEqual(res.Transfers, want) {
				t.Errorf("transfers:\n got %+v\nwant %+v", res.Transfers, want)
			}
			if res.Totals.CarriedOut != -626 {
				t.Errorf("carried out in total %d, want −626", res.Totals.CarriedOut)
			}
			// A position of exactly the minimum is paid.
			at := settle(t, exampleTerms(netting, 626), exampleEntries(), nil)
			if at.Statements[2].CarriedOut != 0 || flows(at.Transfers)["shops/c"] != -626 {
				t.Errorf("a net of exactly the minimum: %+v, transfers %+v", at.Statements[2], at.Transfers)
			}
			// Next period c redeems 2,000 points (18.00 EUR): with the −6.26 EUR
			// carried in, it is owed 11.74 EUR, over the minimum.
			next := settle(t, exampleTerms(netting, 1_000), []Entry{{Kind: Redeemed, Partner: "shops/c", Points: 2_000}},
				map[string]int64{"shops/c": c.CarriedOut})
			nc := next.Statements[2]
			if nc.CarriedIn != -626 || nc.Net != 1_174 || nc.CarriedOut != 0 {
				t.Errorf("next period c: %+v; want carried in −626, net 1174", nc)
			}
			if !reflect.DeepEqual(next.Transfers, []Transfer{{"network", "shops/c", 1_174}}) {
				t.Errorf("next period transfers %+v", next.Transfers)
			}
		})
	}
}

// Rounding is by magnitude: a period where returns exceed issuance owes the
// partner, and Floor rounds that credit towards zero as it does a debt.
func TestRoundingModesTreatCreditsLikeDebts(t *testing.T) {
	tests := []struct {
		mode money.RoundingMode
		want int64
	}{{money.Floor, -399}, {money.Ceiling, -400}, {money.HalfUp, -400}, {money.HalfEven, -400}}
	for _, tt := range tests {
		terms := exampleTerms(Multilateral, 0)
		terms.Rounding = tt.mode
		// 333 points returned at 1.2 ct: −3.996 EUR of issuance.
		res := settle(t, terms, []Entry{{Kind: Returned, Partner: "shops/c", Points: 333}}, nil)
		if got := res.Statements[2].Issuance; got != tt.want {
			t.Errorf("%s: issuance %d, want %d", tt.mode, got, tt.want)
		}
		terms.Partners["shops/c"] = Prices{Issuance: price("0.012"), Redemption: price("0.012")}
		pos := settle(t, terms, []Entry{{Kind: Redeemed, Partner: "shops/c", Points: 333}}, nil)
		if got := pos.Statements[2].Redemption; got != -tt.want {
			t.Errorf("%s: redemption %d, want %d", tt.mode, got, -tt.want)
		}
	}
}

// The same entries in any order give the same result, byte for byte.
func TestDeterministic(t *testing.T) {
	entries := exampleEntries()
	first := settle(t, exampleTerms(Bilateral, 0), entries, nil)
	for i := range 20 {
		shuffled := append([]Entry(nil), entries...)
		for j := range shuffled {
			k := (j*7 + i*3) % len(shuffled)
			shuffled[j], shuffled[k] = shuffled[k], shuffled[j]
		}
		again := settle(t, exampleTerms(Bilateral, 0), shuffled, nil)
		if again.Checksum != first.Checksum || !reflect.DeepEqual(again, first) {
			t.Fatalf("order %d: a different result\n%+v\n%+v", i, again, first)
		}
	}
	other := settle(t, exampleTerms(Bilateral, 0), entries[:len(entries)-1], nil)
	if other.Checksum == first.Checksum {
		t.Error("different entries gave the same checksum")
	}
	if len(first.Checksum) != 64 {
		t.Errorf("checksum %q is not a SHA-256 in hex", first.Checksum)
	}
}

func TestBadInputIsRefused(t *testing.T) {
	if _, err := New(Terms{Currency: money.MustCurrency("EUR"), Rounding: money.HalfEven, Netting: "Sideways",
		Partners: exampleTerms(Bilateral, 0).Partners}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Sideways") {
		t.Errorf("bad netting: %v", err)
	}
	terms := exampleTerms(Bilateral, 0)
	terms.Partners["network"] = Prices{Issuance: price("0.01"), Redemption: price("0.01")}
	if _, err := New(terms); !errors.Is(err, ErrInvalid) {
		t.Errorf("a partner named network: %v", err)
	}
	a, err := New(exampleTerms(Bilateral, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		e    Entry
		says string
	}{
		{Entry{Kind: Issued, Partner: "shops/z", Points: 1}, `"shops/z" is not in the cooperation`},
		{Entry{Kind: Issued, Partner: "shops/a", Points: -1}, "never negative"},
		{Entry{Kind: Commission, Partner: "shops/a", Referrer: "shops/a", Micros: 1}, "owe itself"},
		{Entry{Kind: Commission, Partner: "shops/a", Referrer: "shops/z", Micros: 1}, `referrer "shops/z"`},
		{Entry{Kind: 99, Partner: "shops/a"}, "kind 99"},
	} {
		if err := a.Add(tt.e); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%+v: got %v, want an error saying %q", tt.e, err, tt.says)
		}
	}
	if err := a.Add(Entry{Kind: Issued, Partner: "shops/a", Points: 1 << 62}); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(Entry{Kind: Issued, Partner: "shops/a", Points: 1 << 62}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("points beyond 64 bits: %v", err)
	}
}

// Commission sums spill into a big integer rather than overflow.
func TestMicrosSumSpills(t *testing.T) {
	var m microsSum
	const maxInt64 = 1<<63 - 1
	m.add(maxInt64)
	m.add(maxInt64)
	m.add(-maxInt64)
	m.add(5)
	want := new(big.Int).Add(big.NewInt(maxInt64), big.NewInt(5))
	if m.value().Cmp(want) != 0 {
		t.Errorf("sum %s, want %s", m.value(), want)
	}
}

// A partner's tier discounts are an informational line of its statement (issue
// 16): summed per partner and in the totals, never part of Net nor a transfer,
// and a period without any settles (and checksums) as before.
func TestTierDiscountsAreInformational(t *testing.T) {
	terms := exampleTerms(Multilateral, 0)
	delete(terms.Partners, "shops/c")
	plain := []Entry{{Kind: Issued, Partner: "shops/a", Points: 1_000}, {Kind: Redeemed, Partner: "shops/b", Points: 500}}
	withDiscounts := []Entry{
		{Kind: Issued, Partner: "shops/a", Points: 600, TierDiscount: 500},
		{Kind: Issued, Partner: "shops/a", Points: 400, TierDiscount: 51},
		{Kind: Redeemed, Partner: "shops/b", Points: 500},
	}
	before, after := settle(t, terms, plain, nil), settle(t, terms, withDiscounts, nil)
	if after.Statements[0].TierDiscounts != 551 || after.Statements[1].TierDiscounts != 0 || after.Totals.TierDiscounts != 551 {
		t.Fatalf("tier discounts: %+v, totals %+v", after.Statements, after.Totals)
	}
	if after.Statements[0].Net != before.Statements[0].Net || !reflect.DeepEqual(after.Transfers, before.Transfers) {
		t.Fatalf("tier discounts moved money: %+v against %+v", after, before)
	}
	if after.Checksum == before.Checksum {
		t.Fatal("the tier discounts are not in the checksum")
	}
	again := settle(t, terms, plain, nil)
	if again.Checksum != before.Checksum {
		t.Fatal("a period without tier discounts checksums differently")
	}
	a, _ := New(terms)
	if err := a.Add(Entry{Kind: Issued, Partner: "shops/a", Points: 1, TierDiscount: -1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a negative tier discount: %v", err)
	}
}

// A membership fee a partner collected at its till is owed to the network (issue
// 16): part of the partner's net and of the transfers under both nettings, the
// network's margin, and a refund takes it back. a issues 1,000 points (10.00)
// and sold two fees of 89.90, one refunded: it owes 10.00 + 89.90 = 99.90.
func TestMembershipFeesAreOwedToTheNetwork(t *testing.T) {
	for _, netting := range []Netting{Multilateral, Bilateral} {
		t.Run(string(netting), func(t *testing.T) {
			terms := exampleTerms(netting, 0)
			delete(terms.Partners, "shops/c")
			res := settle(t, terms, []Entry{
				{Kind: Issued, Partner: "shops/a", Points: 1_000},
				{Kind: Fee, Partner: "shops/a", Amount: 8_990},
				{Kind: Fee, Partner: "shops/a", Amount: 8_990},
				{Kind: Fee, Partner: "shops/a", Amount: -8_990},
				{Kind: Redeemed, Partner: "shops/b", Points: 500},
			}, nil)
			a := res.Statements[0]
			if a.MembershipFees != 8_990 || a.Net != -(1_000+8_990) {
				t.Fatalf("a's statement: %+v", a)
			}
			want := []Transfer{{From: "network", To: "shops/b", Amount: 400}, {From: "shops/a", To: "network", Amount: 9_990}}
			if !reflect.DeepEqual(res.Transfers, want) {
				t.Fatalf("transfers: %+v, want %+v", res.Transfers, want)
			}
			if res.Totals.MembershipFees != 8_990 || res.Totals.NetworkMargin != 1_000-400+8_990 {
				t.Fatalf("totals: %+v", res.Totals)
			}
		})
	}
}

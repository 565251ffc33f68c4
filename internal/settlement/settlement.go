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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/treue-dev/treue/internal/money"
)

// Network names the network's clearing account in transfers.
const Network = "network"

// microsPerMinor is how many millionths of a minor unit a commission counts in.
const microsPerMinor = 1_000_000

// Netting is how the obligations of a period become transfers.
type Netting string

const (
	// Bilateral nets the obligations of each pair of parties.
	Bilateral Netting = "Bilateral"
	// Multilateral nets each partner against the network as central counterparty.
	Multilateral Netting = "Multilateral"
)

// ErrInvalid is wrapped by every error about bad terms or entries.
var ErrInvalid = errors.New("invalid settlement input")

// Prices are a partner's prices per point, in the currency's major unit.
type Prices struct {
	// Issuance is what the partner pays the network per point it issues.
	Issuance *big.Rat
	// Redemption is what the network pays the partner per point it redeems.
	Redemption *big.Rat
}

// Terms are the cooperation's terms for one period.
type Terms struct {
	Currency money.Currency
	Rounding money.RoundingMode
	Netting  Netting
	// MinimumTransfer in minor units; a partner whose net position is smaller is
	// carried to the next period. 0 transfers every amount.
	MinimumTransfer int64
	// Partners by key ("namespace/name"), with their prices.
	Partners map[string]Prices
}

// Kind says what an entry counts.
type Kind int

const (
	// Issued points: the partner's customers earned them at the partner.
	Issued Kind = iota + 1
	// Returned points: a return took back points the partner had issued.
	Returned
	// Redeemed points: the partner took them as payment.
	Redeemed
	// Commission the partner (the referee) owes a referrer for a referred sale;
	// negative for a cancel or clawback.
	Commission
	// Fee is a membership fee the partner collected at its till (Amount in minor
	// units, negative for a refund): the partner owes it to the network.
	Fee
)

// Entry is one ledger entry of the period as settlement sees it.
type Entry struct {
	Kind Kind
	// Partner the entry belongs to; for a commission, the referee that owes it.
	Partner string
	// Points issued, returned or redeemed; never negative.
	Points int64
	// Referrer a commission is owed to.
	Referrer string
	// Micros of a commission, in millionths of a minor unit.
	Micros int64
	// TierDiscount is, on a purchase (Issued), what the member's tier took off
	// the amount at the partner, in minor units.
	TierDiscount int64
	// Amount of a Fee, in minor units.
	Amount int64
}

// Statement is one partner's position. Amounts are in minor units; positive ones
// are owed to the partner.
type Statement struct {
	Partner        string `json:"partner"`
	PointsIssued   int64  `json:"pointsIssued"`
	PointsReturned int64  `json:"pointsReturned"`
	PointsRedeemed int64  `json:"pointsRedeemed"`
	// Issuance the partner owes for its points issued less returned.
	Issuance int64 `json:"issuance"`
	// Redemption owed to the partner for its points redeemed.
	Redemption        int64 `json:"redemption"`
	CommissionsEarned int64 `json:"commissionsEarned"`
	CommissionsOwed   int64 `json:"commissionsOwed"`
	CarriedIn         int64 `json:"carriedIn"`
	// MembershipFees the partner collected at its till for the network, less the
	// fees refunded: it owes them.
	MembershipFees int64 `json:"membershipFees,omitempty"`
	// Net position: Redemption − Issuance + CommissionsEarned − CommissionsOwed +
	// CarriedIn − MembershipFees. The partner receives it (pays it when
	// negative), or, when it is smaller than the minimum transfer, carries it out.
	Net        int64 `json:"net"`
	CarriedOut int64 `json:"carriedOut"`
	// TierDiscounts the partner granted its customers for their tier in the
	// period, in minor units: informational, not part of Net nor a transfer (the
	// partner gave them at its till).
	TierDiscounts int64 `json:"tierDiscounts,omitempty"`
}

// Settled is what the period's transfers pay the partner (negative: what the
// partner pays).
func (s Statement) Settled() int64 { return s.Net - s.CarriedOut }

// Transfer is one payment; Amount is positive.
type Transfer struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

// Totals sum the period.
type Totals struct {
	PointsIssued   int64 `json:"pointsIssued"`
	PointsReturned int64 `json:"pointsReturned"`
	PointsRedeemed int64 `json:"pointsRedeemed"`
	Issuance       int64 `json:"issuance"`
	Redemption     int64 `json:"redemption"`
	Commissions    int64 `json:"commissions"`
	// NetworkMargin is what the network keeps: issuance less redemption, and the
	// membership fees.
	NetworkMargin int64 `json:"networkMargin"`
	CarriedIn     int64 `json:"carriedIn"`
	CarriedOut    int64 `json:"carriedOut"`
	// NetVolume is the sum of the transfers.
	NetVolume int64 `json:"netVolume"`
	// TierDiscounts granted by every partner: informational.
	TierDiscounts int64 `json:"tierDiscounts,omitempty"`
	// MembershipFees collected by every partner for the network.
	MembershipFees int64 `json:"membershipFees,omitempty"`
}

// Result is a settled period.
type Result struct {
	Currency   money.Currency
	Netting    Netting
	Statements []Statement
	Transfers  []Transfer
	Totals     Totals
	// Residual is the exact total less the rounded total of every rounded line,
	// in the major unit; it may have more decimal places than the currency.
	Residual *big.Rat
	// Checksum is the SHA-256 of the canonical statements, transfers and
	// residual: the same input gives the same checksum.
	Checksum string
}

type tally struct {
	issued, returned, redeemed, carriedIn, tierDiscounts, fees int64
}

type pair struct{ referee, referrer string }

// Accumulator sums a period's entries and settles them. It is not safe for
// concurrent use.
type Accumulator struct {
	terms       Terms
	partners    map[string]*tally
	commissions map[pair]*microsSum
}

// microsSum sums micros in an int64 and spills into a big.Int only when the
// int64 would overflow.
type microsSum struct {
	small int64
	big   *big.Int
}

func (m *microsSum) add(v int64) {
	s := m.small + v
	if (v > 0 && s < m.small) || (v < 0 && s > m.small) {
		if m.big == nil {
			m.big = new(big.Int)
		}
		m.big.Add(m.big, big.NewInt(m.small))
		s = v
	}
	m.small = s
}

func (m *microsSum) value() *big.Int {
	v := big.NewInt(m.small)
	if m.big != nil {
		v.Add(v, m.big)
	}
	return v
}

// New checks the terms and starts an empty period.
func New(terms Terms) (*Accumulator, error) {
	if terms.Currency.Code == "" {
		return nil, fmt.Errorf("%w: no currency", ErrInvalid)
	}
	if _, err := money.ParseRoundingMode(string(terms.Rounding)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if terms.Netting != Bilateral && terms.Netting != Multilateral {
		return nil, fmt.Errorf("%w: netting %q: want Bilateral or Multilateral", ErrInvalid, terms.Netting)
	}
	if terms.MinimumTransfer < 0 {
		return nil, fmt.Errorf("%w: a negative minimum transfer", ErrInvalid)
	}
	if len(terms.Partners) == 0 {
		return nil, fmt.Errorf("%w: no partners", ErrInvalid)
	}
	a := &Accumulator{terms: terms, partners: map[string]*tally{}, commissions: map[pair]*microsSum{}}
	for key, p := range terms.Partners {
		if key == "" || key == Network {
			return nil, fmt.Errorf("%w: partner key %q is reserved or empty", ErrInvalid, key)
		}
		if p.Issuance == nil || p.Redemption == nil || p.Issuance.Sign() < 0 || p.Redemption.Sign() < 0 {
			return nil, fmt.Errorf("%w: partner %s needs issuance and redemption prices of zero or more", ErrInvalid, key)
		}
		a.partners[key] = &tally{}
	}
	return a, nil
}

func addChecked(sum *int64, v int64, what, partner string) error {
	s, ok := money.AddInt64(*sum, v)
	if !ok {
		return fmt.Errorf("%w: %s of %s overflow 64 bits", ErrInvalid, what, partner)
	}
	*sum = s
	return nil
}

// Add counts one entry.
func (a *Accumulator) Add(e Entry) error {
	t, ok := a.partners[e.Partner]
	if !ok {
		return fmt.Errorf("%w: partner %q is not in the cooperation", ErrInvalid, e.Partner)
	}
	if e.Points < 0 || e.TierDiscount < 0 {
		return fmt.Errorf("%w: %d points, %d tier discount for %s; points and discounts are never negative", ErrInvalid, e.Points, e.TierDiscount, e.Partner)
	}
	switch e.Kind {
	case Issued:
		return errors.Join(addChecked(&t.issued, e.Points, "points issued", e.Partner),
			addChecked(&t.tierDiscounts, e.TierDiscount, "tier discounts", e.Partner))
	case Returned:
		return addChecked(&t.returned, e.Points, "points returned", e.Partner)
	case Redeemed:
		return addChecked(&t.redeemed, e.Points, "points redeemed", e.Partner)
	case Fee:
		return addChecked(&t.fees, e.Amount, "membership fees", e.Partner)
	case Commission:
		if _, ok := a.partners[e.Referrer]; !ok {
			return fmt.Errorf("%w: referrer %q of a commission owed by %s is not in the cooperation", ErrInvalid, e.Referrer, e.Partner)
		}
		if e.Referrer == e.Partner {
			return fmt.Errorf("%w: %s cannot owe itself a commission", ErrInvalid, e.Partner)
		}
		k := pair{e.Partner, e.Referrer}
		sum, ok := a.commissions[k]
		if !ok {
			sum = &microsSum{}
			a.commissions[k] = sum
		}
		sum.add(e.Micros)
		return nil
	}
	return fmt.Errorf("%w: entry kind %d", ErrInvalid, e.Kind)
}

// CarryIn adds an amount (minor units, positive when owed to the partner) the
// partner carried out of an earlier period.
func (a *Accumulator) CarryIn(partner string, minor int64) error {
	t, ok := a.partners[partner]
	if !ok {
		return fmt.Errorf("%w: partner %q is not in the cooperation", ErrInvalid, partner)
	}
	return addChecked(&t.carriedIn, minor, "amounts carried in", partner)
}

// rounder rounds exact amounts once each and keeps the residual.
type rounder struct {
	mode     money.RoundingMode
	residual *big.Rat // minor units
}

// round rounds an exact amount in minor units by its magnitude, so that the
// modes treat debts and credits alike: Floor towards zero, Ceiling away from it.
func (r *rounder) round(exact *big.Rat, what string) (int64, error) {
	v, err := money.RoundInt64(new(big.Rat).Abs(exact), r.mode)
	if err != nil {
		return 0, fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
	}
	if exact.Sign() < 0 {
		v = -v
	}
	r.residual.Add(r.residual, exact)
	r.residual.Sub(r.residual, new(big.Rat).SetInt64(v))
	return v, nil
}

// Settle computes the statements and transfers of the period.
func (a *Accumulator) Settle() (*Result, error) {
	c := a.terms.Currency
	minorPerMajor := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Exponent)), nil))
	r := &rounder{mode: a.terms.Rounding, residual: new(big.Rat)}
	keys := make([]string, 0, len(a.partners))
	for k := range a.partners {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	index := make(map[string]int, len(keys))
	res := &Result{Currency: c, Netting: a.terms.Netting, Statements: make([]Statement, len(keys))}
	tot := &res.Totals
	for i, k := range keys {
		t, prices := a.partners[k], a.terms.Partners[k]
		index[k] = i
		s := Statement{Partner: k, PointsIssued: t.issued, PointsReturned: t.returned, PointsRedeemed: t.redeemed, CarriedIn: t.carriedIn,
			TierDiscounts: t.tierDiscounts, MembershipFees: t.fees}
		netIssued := new(big.Rat).SetInt64(t.issued)
		netIssued.Sub(netIssued, new(big.Rat).SetInt64(t.returned))
		var err error
		if s.Issuance, err = r.round(netIssued.Mul(netIssued, prices.Issuance).Mul(netIssued, minorPerMajor), "issuance of "+k); err != nil {
			return nil, err
		}
		redeemed := new(big.Rat).SetInt64(t.redeemed)
		if s.Redemption, err = r.round(redeemed.Mul(redeemed, prices.Redemption).Mul(redeemed, minorPerMajor), "redemption of "+k); err != nil {
			return nil, err
		}
		res.Statements[i] = s
	}
	// Commissions, rounded once per pair and period, in a fixed order.
	pairs := make([]pair, 0, len(a.commissions))
	for p := range a.commissions {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		if n := strings.Compare(x.referee, y.referee); n != 0 {
			return n
		}
		return strings.Compare(x.referrer, y.referrer)
	})
	owed := make(map[pair]int64, len(pairs))
	for _, p := range pairs {
		v, err := r.round(new(big.Rat).SetFrac(a.commissions[p].value(), big.NewInt(microsPerMinor)), "commission of "+p.referee+" to "+p.referrer)
		if err != nil {
			return nil, err
		}
		if v == 0 {
			continue
		}
		owed[p] = v
		referee, referrer := &res.Statements[index[p.referee]], &res.Statements[index[p.referrer]]
		if err := errors.Join(addChecked(&referee.CommissionsOwed, v, "commissions owed", p.referee),
			addChecked(&referrer.CommissionsEarned, v, "commissions earned", p.referrer),
			addChecked(&tot.Commissions, v, "commissions", "the network")); err != nil {
			return nil, err
		}
	}
	carried := map[string]bool{}
	for i := range res.Statements {
		s := &res.Statements[i]
		net := int64(0)
		for _, v := range []int64{s.Redemption, -s.Issuance, s.CommissionsEarned, -s.CommissionsOwed, s.CarriedIn, -s.MembershipFees} {
			if err := addChecked(&net, v, "the net position", s.Partner); err != nil {
				return nil, err
			}
		}
		s.Net = net
		if net != 0 && abs(net) < a.terms.MinimumTransfer {
			s.CarriedOut = net
			carried[s.Partner] = true
		}
		for _, f := range []struct {
			sum *int64
			v   int64
		}{{&tot.PointsIssued, s.PointsIssued}, {&tot.PointsReturned, s.PointsReturned}, {&tot.PointsRedeemed, s.PointsRedeemed},
			{&tot.Issuance, s.Issuance}, {&tot.Redemption, s.Redemption}, {&tot.CarriedIn, s.CarriedIn}, {&tot.CarriedOut, s.CarriedOut},
			{&tot.TierDiscounts, s.TierDiscounts}, {&tot.MembershipFees, s.MembershipFees}} {
			if err := addChecked(f.sum, f.v, "the totals", "the network"); err != nil {
				return nil, err
			}
		}
	}
	tot.NetworkMargin = tot.Issuance - tot.Redemption + tot.MembershipFees
	if a.terms.Netting == Multilateral {
		res.Transfers = multilateral(res.Statements)
	} else {
		res.Transfers = bilateral(res.Statements, owed, carried)
	}
	for _, t := range res.Transfers {
		if err := addChecked(&tot.NetVolume, t.Amount, "the net volume", "the network"); err != nil {
			return nil, err
		}
	}
	res.Residual = r.residual.Quo(r.residual, minorPerMajor)
	sum, err := checksum(res)
	if err != nil {
		return nil, err
	}
	res.Checksum = sum
	return res, nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// multilateral pays each partner's position through the network.
func multilateral(statements []Statement) []Transfer {
	var out []Transfer
	for _, s := range statements {
		switch v := s.Settled(); {
		case v > 0:
			out = append(out, Transfer{From: Network, To: s.Partner, Amount: v})
		case v < 0:
			out = append(out, Transfer{From: s.Partner, To: Network, Amount: -v})
		}
	}
	sortTransfers(out)
	return out
}

// ledger of obligations between parties, netted per pair: owes[{a, b}] > 0
// means a owes b, with a < b.
type obligations map[[2]string]int64

func (o obligations) add(debtor, creditor string, v int64) {
	if debtor > creditor {
		debtor, creditor, v = creditor, debtor, -v
	}
	o[[2]string{debtor, creditor}] += v
}

// bilateral nets each pair of parties. A carried partner's obligations to other
// partners are taken over by the network, and its position with the network
// waits for the next period.
func bilateral(statements []Statement, owed map[pair]int64, carried map[string]bool) []Transfer {
	o := obligations{}
	for _, s := range statements {
		o.add(s.Partner, Network, s.Issuance+s.MembershipFees)
		o.add(Network, s.Partner, s.Redemption+s.CarriedIn)
	}
	for p, v := range owed {
		if carried[p.referee] || carried[p.referrer] {
			// The network takes the commission over: it is carried with the
			// carried partner's position, and the other is paid all the same.
			o.add(p.referee, Network, v)
			o.add(Network, p.referrer, v)
			continue
		}
		o.add(p.referee, p.referrer, v)
	}
	var out []Transfer
	for k, v := range o {
		if carried[k[0]] || carried[k[1]] {
			continue // only pairs with the network are left for a carried partner
		}
		switch {
		case v > 0:
			out = append(out, Transfer{From: k[0], To: k[1], Amount: v})
		case v < 0:
			out = append(out, Transfer{From: k[1], To: k[0], Amount: -v})
		}
	}
	sortTransfers(out)
	return out
}

func sortTransfers(ts []Transfer) {
	slices.SortFunc(ts, func(x, y Transfer) int {
		if n := strings.Compare(x.From, y.From); n != 0 {
			return n
		}
		return strings.Compare(x.To, y.To)
	})
}

// checksum hashes a canonical form: the statements and transfers in their sorted
// order, the totals, and the residual as an exact decimal.
func checksum(res *Result) (string, error) {
	residual, err := money.FormatExact(res.Residual)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(struct {
		Currency   string      `json:"currency"`
		Netting    Netting     `json:"netting"`
		Statements []Statement `json:"statements"`
		Transfers  []Transfer  `json:"transfers"`
		Totals     Totals      `json:"totals"`
		Residual   string      `json:"residual"`
	}{res.Currency.Code, res.Netting, res.Statements, res.Transfers, res.Totals, residual})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

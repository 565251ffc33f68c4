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
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// The property test drives random sequences of operations through a ledger and a
// small in-memory model of the same rules, and after every step checks that the
// balances agree and the invariants hold. The program has short periods, so that
// pending, expiry and returns all happen within a few hundred steps.

type modelLot struct {
	id                int
	earnID            int64
	points, remaining int64
	earnedAt          time.Time
	pendingUntil      time.Time
	expiresAt         time.Time
}

type modelEarn struct {
	member, partner        string
	points, paid, returned int64
}

type model struct {
	p     *rules.Program
	lots  map[string][]*modelLot
	earns map[int64]*modelEarn
	next  int
}

func (m *model) credit(member string, earnID, points int64, now time.Time, pending bool) {
	if points <= 0 {
		return
	}
	terms := m.p.LotTermsAt(now)
	if !pending {
		terms.PendingUntil = now
	}
	m.next++
	m.lots[member] = append(m.lots[member], &modelLot{
		id: m.next, earnID: earnID, points: points, remaining: points,
		earnedAt: now, pendingUntil: terms.PendingUntil, expiresAt: *terms.ExpiresAt,
	})
}

func (m *model) balance(member string, now time.Time) (available, pending int64) {
	for _, lt := range m.lots[member] {
		switch {
		case !now.Before(lt.expiresAt):
		case now.Before(lt.pendingUntil):
			pending += lt.remaining
		default:
			available += lt.remaining
		}
	}
	return
}

// ordered is the ledger's spending order: soonest expiry, oldest, first created.
func (m *model) ordered(member string) []*modelLot {
	lots := slices.Clone(m.lots[member])
	slices.SortStableFunc(lots, func(a, b *modelLot) int {
		if c := a.expiresAt.Compare(b.expiresAt); c != 0 {
			return c
		}
		if c := a.earnedAt.Compare(b.earnedAt); c != 0 {
			return c
		}
		return a.id - b.id
	})
	return lots
}

func (m *model) spend(lots []*modelLot, points int64) {
	for _, lt := range lots {
		n := min(lt.remaining, points)
		lt.remaining -= n
		points -= n
	}
}

func (m *model) redeem(member string, points int64, now time.Time) bool {
	if avail, _ := m.balance(member, now); avail < points {
		return false
	}
	var spendable []*modelLot
	for _, lt := range m.ordered(member) {
		if lt.remaining > 0 && !now.Before(lt.pendingUntil) && now.Before(lt.expiresAt) {
			spendable = append(spendable, lt)
		}
	}
	m.spend(spendable, points)
	return true
}

func (m *model) reverse(earnID, amount int64, now time.Time) {
	e := m.earns[earnID]
	// Computed apart from the ledger's own arithmetic, so that a mistake there shows.
	share := func(returned int64) int64 {
		v := new(big.Int).Mul(big.NewInt(e.points), big.NewInt(returned))
		return v.Quo(v, big.NewInt(e.paid)).Int64()
	}
	points := share(e.returned+amount) - share(e.returned)
	e.returned += amount
	var own, pending, avail []*modelLot
	for _, lt := range m.ordered(e.member) {
		switch {
		case lt.remaining <= 0 || !now.Before(lt.expiresAt):
		case lt.earnID == earnID && now.Before(lt.pendingUntil):
			own = append(own, lt)
		case now.Before(lt.pendingUntil):
			pending = append(pending, lt)
		default:
			avail = append(avail, lt)
		}
	}
	m.spend(append(append(own, pending...), avail...), points) // the rest is written off
}

func propertyProgram(t testing.TB) *rules.Program {
	c := stadtBonusConfig()
	c.Tiers = nil
	c.Earning.CategoryMultipliers = nil
	c.PendingPeriod = "P7D"
	c.Expiry = rules.ExpiryConfig{Policy: "Rolling", After: "P2M"}
	return mustProgram(t, c)
}

func TestPropertyLedgerAgreesWithModel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
				runProperty(t, open, seed, 150, false)
			})
		}
	})
}

// The same run with amounts and points drawn near the bounds of one write and of
// int64 (issue 16): what is beyond accrualapi.MaxAmount or MaxPoints is refused
// with ErrOutOfRange and changes nothing, what is within them is booked exactly,
// and every balance and the program's totals keep reading.
func TestPropertyNearTheBounds(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open opener) {
		for seed := uint64(11); seed <= 12; seed++ {
			t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
				runProperty(t, open, seed, 120, true)
			})
		}
	})
}

// near draws a value around bound: just below it, at it, just beyond it, near
// int64's maximum, or small.
func (r *propertyRun) near(bound int64) int64 {
	k := r.rng.Int64N(1000)
	switch r.rng.IntN(6) {
	case 0:
		return bound - k
	case 1:
		return bound
	case 2:
		return bound + 1 + k
	case 3:
		return math.MaxInt64 - k
	default:
		return 1 + k
	}
}

// propertyRun is one random run: the ledger, the model, and what was sent.
type propertyRun struct {
	t        *testing.T
	e        *env
	m        *model
	rng      *rand.Rand
	step     int
	key      int
	earnIDs  []int64
	replays  []func() (bool, error)
	members  []string
	partners []string
	// nearBounds draws amounts and points near the bounds (near).
	nearBounds bool
}

func (r *propertyRun) nextKey() string { r.key++; return fmt.Sprintf("k%d", r.key) }

func (r *propertyRun) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("step %d: "+format, append([]any{r.step}, args...)...)
}

func runProperty(t *testing.T, open opener, seed uint64, steps int, nearBounds bool) {
	program := propertyProgram(t)
	r := &propertyRun{
		t: t, e: open(t, program, nil), rng: rand.New(rand.NewPCG(seed, seed*7919)),
		m:        &model{p: program, lots: map[string][]*modelLot{}, earns: map[int64]*modelEarn{}},
		members:  []string{"m0", "m1", "m2"},
		partners: []string{baecker, drucker, grafik}, nearBounds: nearBounds,
	}
	for _, member := range r.members {
		r.e.enroll(t, member)
		r.m.credit(member, 0, program.SignupBonus, r.e.clock.Now(), false)
	}
	for r.step = 0; r.step < steps; r.step++ {
		member := r.members[r.rng.IntN(len(r.members))]
		partner := r.partners[r.rng.IntN(len(r.partners))]
		var desc string
		switch op := r.rng.IntN(100); {
		case op < 35:
			desc = r.earn(member, partner)
		case op < 55:
			desc = r.redeem(member, partner)
		case op < 70 && len(r.earnIDs) > 0:
			desc = r.reverse()
		case op < 78:
			desc = r.adjust(member)
		case op < 84:
			desc = r.expire()
		case op < 90 && len(r.replays) > 0:
			if ok, err := r.replays[r.rng.IntN(len(r.replays))](); err != nil || !ok {
				r.fatalf("a replay was not answered from the original: %v", err)
			}
			desc = "replay"
		default:
			r.e.clock.Advance(time.Duration(r.rng.Int64N(int64(20 * 24 * time.Hour))))
			desc = "advance to " + r.e.clock.Now().Format(time.DateTime)
		}
		r.check(desc)
	}
}

func (r *propertyRun) earn(member, partner string) string {
	now := r.e.clock.Now()
	amount := 1 + r.rng.Int64N(60000)
	if r.nearBounds {
		amount = r.near(accrualapi.MaxAmount)
	}
	req := EarnRequest{Meta: Meta{Actor: partner, Key: r.nextKey()}, Member: member, Partner: partner, Amount: amount, Currency: "EUR"}
	res, err := r.e.Earn(r.e.ctx, req)
	if amount > accrualapi.MaxAmount {
		if !errors.Is(err, ErrOutOfRange) {
			r.fatalf("earn %d beyond the largest amount: %+v, %v", amount, res, err)
		}
		return fmt.Sprintf("earn %s %d (refused)", member, amount)
	}
	if err != nil {
		r.fatalf("earn: %v", err)
	}
	if want := amount / 200; res.Points != want {
		r.fatalf("earned %d, want %d", res.Points, want)
	}
	r.m.earns[res.EntryID] = &modelEarn{member: member, partner: partner, points: res.Points, paid: amount}
	r.m.credit(member, res.EntryID, res.Points, now, true)
	r.earnIDs = append(r.earnIDs, res.EntryID)
	r.replays = append(r.replays, func() (bool, error) {
		again, err := r.e.Earn(r.e.ctx, req)
		return again.Replayed && again.EntryID == res.EntryID, err
	})
	return fmt.Sprintf("earn %s %d", member, amount)
}

func (r *propertyRun) redeem(member, partner string) string {
	points := 1 + r.rng.Int64N(400)
	if r.nearBounds {
		points = r.near(accrualapi.MaxPoints)
	}
	req := RedeemRequest{Meta: Meta{Actor: partner, Key: r.nextKey()}, Member: member, Partner: partner, Points: points}
	res, err := r.e.Redeem(r.e.ctx, req)
	if points > accrualapi.MaxPoints {
		if !errors.Is(err, ErrOutOfRange) {
			r.fatalf("redeem %d beyond the bound: %+v, %v", points, res, err)
		}
		return fmt.Sprintf("redeem %s %d (refused)", member, points)
	}
	ok := r.m.redeem(member, points, r.e.clock.Now())
	switch {
	case ok && err != nil:
		r.fatalf("redeem %d refused: %v", points, err)
	case !ok && !errors.Is(err, ErrInsufficientPoints):
		r.fatalf("redeem %d beyond the balance: %+v, %v", points, res, err)
	case ok:
		r.replays = append(r.replays, func() (bool, error) {
			again, err := r.e.Redeem(r.e.ctx, req)
			return again.Replayed && again.EntryID == res.EntryID, err
		})
	}
	return fmt.Sprintf("redeem %s %d (ok %v)", member, points, ok)
}

func (r *propertyRun) reverse() string {
	id := r.earnIDs[r.rng.IntN(len(r.earnIDs))]
	ea := r.m.earns[id]
	left := ea.paid - ea.returned
	amount := 1 + r.rng.Int64N(max(left, 1)+left/4) // sometimes more than is left
	if r.nearBounds && r.rng.IntN(2) == 0 {
		amount = r.near(accrualapi.MaxAmount)
	}
	req := ReverseRequest{Meta: Meta{Actor: ea.partner, Key: r.nextKey()}, Partner: ea.partner, EarnID: id, Amount: amount}
	res, err := r.e.Reverse(r.e.ctx, req)
	switch {
	case amount > accrualapi.MaxAmount:
		if !errors.Is(err, ErrOutOfRange) {
			r.fatalf("returning %d, beyond the largest amount: %+v, %v", amount, res, err)
		}
	case amount > left:
		if !errors.Is(err, ErrReturnExceedsEarn) {
			r.fatalf("returning %d of %d left: %+v, %v", amount, left, res, err)
		}
	case err != nil:
		r.fatalf("return: %v", err)
	default:
		r.m.reverse(id, amount, r.e.clock.Now())
		r.replays = append(r.replays, func() (bool, error) {
			again, err := r.e.Reverse(r.e.ctx, req)
			return again.Replayed && again.EntryID == res.EntryID, err
		})
	}
	return fmt.Sprintf("return %d of earn %d", amount, id)
}

func (r *propertyRun) adjust(member string) string {
	now := r.e.clock.Now()
	points := r.rng.Int64N(200) - 60
	if r.nearBounds {
		points = r.near(accrualapi.MaxPoints)
		if r.rng.IntN(3) == 0 {
			points = -points
		}
	}
	if points == 0 {
		points = 1
	}
	_, err := r.e.Adjust(r.e.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: r.nextKey()}, Member: member, Points: points, Reason: "property"})
	switch avail, _ := r.m.balance(member, now); {
	case points > accrualapi.MaxPoints || points < -accrualapi.MaxPoints:
		if !errors.Is(err, ErrOutOfRange) {
			r.fatalf("adjust %d beyond the bound: %v", points, err)
		}
	case points > 0:
		if err != nil {
			r.fatalf("adjust +%d: %v", points, err)
		}
		r.m.credit(member, 0, points, now, false)
	case avail >= -points:
		if err != nil {
			r.fatalf("adjust %d: %v", points, err)
		}
		r.m.redeem(member, -points, now)
	case !errors.Is(err, ErrInsufficientPoints):
		r.fatalf("adjust %d beyond the balance: %v", points, err)
	}
	return fmt.Sprintf("adjust %s %d", member, points)
}

func (r *propertyRun) expire() string {
	now := r.e.clock.Now()
	if _, err := r.e.Expire(r.e.ctx, now); err != nil {
		r.fatalf("expire: %v", err)
	}
	for _, lots := range r.m.lots {
		for _, lt := range lots {
			if !now.Before(lt.expiresAt) {
				lt.remaining = 0
			}
		}
	}
	return "expire"
}

// check compares every member's balance with the model and the invariants.
func (r *propertyRun) check(desc string) {
	now := r.e.clock.Now()
	for _, member := range r.members {
		avail, pending := r.m.balance(member, now)
		b := r.e.balance(r.t, member)
		if b.Available != avail || b.Pending != pending {
			r.fatalf("after %s: %s has %d available, %d pending; the model says %d, %d",
				desc, member, b.Available, b.Pending, avail, pending)
		}
		if b.Available < 0 {
			r.fatalf("after %s: %s went negative under Forbid: %d", desc, member, b.Available)
		}
	}
	// The program's totals: every unexpired point a member holds, pending or not.
	var outstanding int64
	for _, lots := range r.m.lots {
		for _, lt := range lots {
			if lt.remaining > 0 && now.Before(lt.expiresAt) {
				outstanding += lt.remaining
			}
		}
	}
	st, err := r.e.Stats(r.e.ctx)
	if err != nil || st.PointsOutstanding != outstanding {
		r.fatalf("after %s: stats %+v, %v; the model says %d points outstanding", desc, st, err, outstanding)
	}
	checkInvariants(r.t, r.e)
}

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
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/rules"
)

// The contract suite: every test runs against every backend. PostgreSQL comes from
// TREUE_TEST_POSTGRES_DSN; each test gets a schema of its own (internal/pgtest). In
// CI a missing or unreachable server fails the suite; elsewhere it skips with a
// message.

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func (c *testClock) AdvanceDays(n int)       { c.mu.Lock(); c.t = c.t.AddDate(0, 0, n); c.mu.Unlock() }

type env struct {
	*Ledger
	clock *testClock
	ctx   context.Context
	dsn   string
}

type opener func(t testing.TB, program *rules.Program, referrals map[string]*rules.Referral) *env

// backends are the stores, each with one transaction per write and with group
// commit: every test runs on all four.
func backends() map[string]opener {
	return map[string]opener{
		"sqlite": func(t testing.TB, p *rules.Program, r map[string]*rules.Referral) *env {
			return openSQLite(t, p, r, false)
		},
		"sqlite/group-commit": func(t testing.TB, p *rules.Program, r map[string]*rules.Referral) *env {
			return openSQLite(t, p, r, true)
		},
		"postgres": func(t testing.TB, p *rules.Program, r map[string]*rules.Referral) *env {
			return openPostgres(t, p, r, false)
		},
		"postgres/group-commit": func(t testing.TB, p *rules.Program, r map[string]*rules.Referral) *env {
			return openPostgres(t, p, r, true)
		},
	}
}

func forEachBackend(t *testing.T, test func(t *testing.T, open opener)) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) { test(t, open) })
	}
}

// allSinks is the contract suite's one sink, which takes every event: every
// write's events are in the outbox.
var allSinks = []SinkFilter{{Name: "all"}}

func newEnv(t testing.TB, backend Backend, dsn string, program *rules.Program, referrals map[string]*rules.Referral, groupCommit bool) *env {
	t.Helper()
	return newEnvWith(t, backend, dsn, program, referrals, groupCommit, allSinks)
}

func newEnvWith(t testing.TB, backend Backend, dsn string, program *rules.Program, referrals map[string]*rules.Referral, groupCommit bool,
	sinks []SinkFilter) *env {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	l, err := Open(ctx, Options{Backend: backend, DSN: dsn, Program: program, Referrals: referrals, Clock: clock, GroupCommit: groupCommit, Sinks: sinks})
	if err != nil {
		t.Fatalf("opening the %s ledger: %v", backend, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return &env{Ledger: l, clock: clock, ctx: ctx, dsn: dsn}
}

func openSQLite(t testing.TB, program *rules.Program, referrals map[string]*rules.Referral, groupCommit bool) *env {
	return newEnv(t, SQLite, filepath.Join(t.TempDir(), "ledger.db"), program, referrals, groupCommit)
}

func openPostgres(t testing.TB, program *rules.Program, referrals map[string]*rules.Referral, groupCommit bool) *env {
	t.Helper()
	return newEnv(t, PostgreSQL, pgtest.ForTest(t, "t"), program, referrals, groupCommit)
}

// stadtBonus is the sample program: 1 point per 2.00 EUR, 14 days pending, lots
// expiring after 36 months, 50 points at signup.
func stadtBonusConfig() rules.Config {
	return rules.Config{
		Currency: "EUR", TimeZone: "Europe/Berlin",
		Earning: rules.EarningConfig{
			BaseRate: rules.EarnRateConfig{Points: 1, Per: "2.00"}, Rounding: "Floor",
			CategoryMultipliers: []rules.CategoryMultiplierConfig{{Category: "bakery", Multiplier: "2"}},
			SignupBonus:         50, BirthdayBonus: 100,
		},
		PendingPeriod: "P14D",
		Tiers: &rules.TiersConfig{
			Levels: []rules.TierLevelConfig{
				{Name: "Bronze", Threshold: 0}, {Name: "Silber", Threshold: 1000, EarnMultiplier: "1.25"},
				{Name: "Gold", Threshold: 5000, EarnMultiplier: "1.5"},
			},
			Window: rules.WindowConfig{Type: "Rolling", Period: "P12M"},
		},
		Expiry:     rules.ExpiryConfig{Policy: "Rolling", After: "P36M"},
		Redemption: rules.RedemptionConfig{PointValue: "0.01", MinimumPoints: 1},
		Returns:    rules.ReturnsConfig{ClawbackOrder: "PendingFirst", NegativeBalance: "Forbid"},
		Membership: rules.MembershipConfig{Type: "Free"},
	}
}

// grafikReferral is the sample referral agreement (Grafik refers customers to the
// print shop, 3 % commission, 14 days held) with the discount and guards given.
func grafikReferral(t testing.TB, discount rules.DiscountConfig, guards rules.GuardsConfig) *rules.Referral {
	t.Helper()
	ref, err := rules.CompileReferral(money.MustCurrency("EUR"), rules.ReferralConfig{
		ID: "stadtbonus/grafik-empfiehlt-druck", Referrer: grafik, Referee: drucker, Discount: discount,
		Commission: rules.CommissionConfig{Type: "Percent", Percent: "3"}, HoldingPeriod: "P14D", Guards: guards,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func mustProgram(t testing.TB, c rules.Config) *rules.Program {
	t.Helper()
	p, err := rules.Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) enroll(t testing.TB, member string) {
	t.Helper()
	if _, err := e.Enroll(e.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "enroll-" + member}, Member: member}); err != nil {
		t.Fatalf("enrolling %s: %v", member, err)
	}
}

// earn reports a purchase of the test member "anna".
func (e *env) earn(t testing.TB, key, partner string, amount int64) EarnResult {
	t.Helper()
	res, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: partner, Key: key}, Member: "anna", Partner: partner, Amount: amount, Currency: "EUR"})
	if err != nil {
		t.Fatalf("earning %s: %v", key, err)
	}
	return res
}

func (e *env) balance(t testing.TB, member string) Balance {
	t.Helper()
	b, err := e.Balance(e.ctx, member, 30)
	if err != nil {
		t.Fatalf("balance of %s: %v", member, err)
	}
	return b
}

func expectBalance(t testing.TB, got Balance, available, pending int64) {
	t.Helper()
	if got.Available != available || got.Pending != pending {
		t.Fatalf("balance: %d available, %d pending; want %d, %d", got.Available, got.Pending, available, pending)
	}
}

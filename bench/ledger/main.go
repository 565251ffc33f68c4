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

// Command ledger measures the points ledger's write throughput on SQLite and
// PostgreSQL: earnings and redemptions spread over many members, and aimed at one
// hot member, by concurrent clients, with one transaction per write and with
// group commit. Each figure is printed beside a floor measured
// in the same run on the same database: a bare transaction that inserts one row
// and commits, which is what a durable write costs at all. `make bench-ledger`.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/treue-dev/treue/bench/internal/load"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/rules"
)

// currency is the benchmark program's.
const currency = "EUR"

type options struct {
	duration    time.Duration
	concurrency int
	members     int
	backends    string
	postgresDSN string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "How long each case runs.")
	flag.IntVar(&o.concurrency, "concurrency", 16, "Concurrent clients.")
	flag.IntVar(&o.members, "members", 1000, "Members the many-members cases spread over.")
	flag.StringVar(&o.backends, "backends", "sqlite,postgres", "Backends to measure.")
	flag.StringVar(&o.postgresDSN, "postgres-dsn", os.Getenv(pgtest.EnvDSN), "PostgreSQL to measure on (a schema of its own is created and dropped).")
	flag.Parse()
	if err := run(context.Background(), o); err != nil {
		fmt.Fprintf(os.Stderr, "bench-ledger: %v\n", err)
		os.Exit(1)
	}
}

type result struct {
	backend, name string
	ops           int64
	elapsed       time.Duration
	p50, p99      time.Duration
}

func (r result) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func run(ctx context.Context, o options) error {
	fmt.Printf("ledger write throughput: %d concurrent clients, %s per case, %d members\n\n", o.concurrency, o.duration, o.members)
	fmt.Printf("%-9s %-22s %10s %10s %10s %8s\n", "backend", "case", "ops/s", "p50", "p99", "÷ floor")
	for _, b := range strings.Split(o.backends, ",") {
		backend := ledger.Backend(strings.TrimSpace(b))
		results, err := measure(ctx, o, backend)
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
		floor := results[0].perSecond()
		for _, r := range results {
			fmt.Printf("%-9s %-22s %10.0f %10s %10s %8.2f\n", r.backend, r.name, r.perSecond(),
				r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.perSecond()/floor)
		}
	}
	return nil
}

func measure(ctx context.Context, o options, backend ledger.Backend) ([]result, error) {
	dsn, cleanup, err := prepare(backend, o.postgresDSN)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	program, err := rules.Compile(rules.Config{
		Currency:      currency,
		Earning:       rules.EarningConfig{BaseRate: rules.EarnRateConfig{Points: 1, Per: "1.00"}},
		PendingPeriod: "P0D", // earned points are spendable at once, so redemptions have something to take
		Expiry:        rules.ExpiryConfig{Policy: "Rolling", After: "P36M"},
		Redemption:    rules.RedemptionConfig{PointValue: "0.01"},
	})
	if err != nil {
		return nil, err
	}
	l, err := ledger.Open(ctx, ledger.Options{Backend: backend, DSN: dsn, Program: program})
	if err != nil {
		return nil, err
	}
	defer func() { _ = l.Close() }()
	// The same store again, writing through group commit.
	grouped, err := ledger.Open(ctx, ledger.Options{Backend: backend, DSN: dsn, Program: program, GroupCommit: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = grouped.Close() }()

	members := make([]string, o.members)
	for i := range members {
		members[i] = fmt.Sprintf("member-%05d", i)
	}
	if err := load.Parallel(o.concurrency, len(members), func(i int) error {
		_, err := l.Enroll(ctx, ledger.EnrollRequest{Meta: ledger.Meta{Actor: "admin", Key: members[i]}, Member: members[i]})
		return err
	}); err != nil {
		return nil, fmt.Errorf("enrolling: %w", err)
	}

	floor, err := floorCase(ctx, o, backend, dsn)
	if err != nil {
		return nil, err
	}
	out := []result{floor}
	var seq atomic.Int64
	earnOn := func(l *ledger.Ledger, member string) error {
		_, err := l.Earn(ctx, ledger.EarnRequest{
			Meta: ledger.Meta{Actor: "p", Key: fmt.Sprintf("k%d", seq.Add(1))}, Member: member, Partner: "p", Amount: 5000, Currency: currency,
		})
		return err
	}
	redeemOn := func(l *ledger.Ledger, member string) error {
		_, err := l.Redeem(ctx, ledger.RedeemRequest{
			Meta: ledger.Meta{Actor: "p", Key: fmt.Sprintf("k%d", seq.Add(1))}, Member: member, Partner: "p", Points: 1,
		})
		if errors.Is(err, ledger.ErrInsufficientPoints) {
			return nil // a member the earnings did not reach: still a whole transaction
		}
		return err
	}
	anyMember := func() string { return members[mrand.IntN(len(members))] }
	hot := members[0]
	cases := []struct {
		name string
		op   func(worker int) error
	}{
		{"earn, many members", func(int) error { return earnOn(l, anyMember()) }},
		{"earn, one hot member", func(int) error { return earnOn(l, hot) }},
		{"redeem, many members", func(int) error { return redeemOn(l, anyMember()) }},
		{"redeem, one hot member", func(int) error { return redeemOn(l, hot) }},
		{"earn, many, grouped", func(int) error { return earnOn(grouped, anyMember()) }},
		{"earn, hot, grouped", func(int) error { return earnOn(grouped, hot) }},
		{"redeem, many, grouped", func(int) error { return redeemOn(grouped, anyMember()) }},
		{"redeem, hot, grouped", func(int) error { return redeemOn(grouped, hot) }},
	}
	for _, c := range cases {
		r, err := timed(ctx, o, c.op)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		r.backend, r.name = string(backend), c.name
		out = append(out, r)
	}
	return out, nil
}

// floorCase measures the cheapest durable write: BEGIN; INSERT one row; COMMIT,
// with the same driver settings and concurrency as the ledger.
func floorCase(ctx context.Context, o options, backend ledger.Backend, dsn string) (result, error) {
	driver, full := "pgx", dsn
	if backend == ledger.SQLite {
		driver, full = "sqlite", dsn+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(30000)"
	}
	db, err := sql.Open(driver, full)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS bench_floor (k TEXT PRIMARY KEY, v BIGINT)"); err != nil {
		return result{}, err
	}
	insert := "INSERT INTO bench_floor (k, v) VALUES ($1, $2)"
	if backend == ledger.SQLite {
		insert = "INSERT INTO bench_floor (k, v) VALUES (?1, ?2)"
	}
	var seq atomic.Int64
	r, err := timed(ctx, o, func(int) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		n := seq.Add(1)
		if _, err := tx.ExecContext(ctx, insert, fmt.Sprint(n), n); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
	r.backend, r.name = string(backend), "floor: one-row commit"
	return r, err
}

// timed runs op from concurrent clients for the duration and collects latencies.
func timed(ctx context.Context, o options, op func(worker int) error) (result, error) {
	deadline := time.Now().Add(o.duration)
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if err := op(w); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return result{}, firstErr
	}
	r := result{ops: int64(len(all)), elapsed: elapsed}
	r.p50, r.p99 = load.Percentiles(all)
	return r, nil
}

// prepare gives the backend a fresh store: a temporary SQLite file, or a
// PostgreSQL schema of its own.
func prepare(backend ledger.Backend, postgresDSN string) (dsn string, cleanup func(), err error) {
	switch backend {
	case ledger.SQLite:
		dir, err := os.MkdirTemp("", "bench-ledger-")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, "ledger.db"), func() { _ = os.RemoveAll(dir) }, nil
	case ledger.PostgreSQL:
		return pgtest.Schema(postgresDSN, "bench")
	}
	return "", nil, fmt.Errorf("unknown backend %q", backend)
}

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
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// Options open a ledger.
type Options struct {
	Backend Backend
	// DSN is a file path (SQLite) or a connection string (PostgreSQL).
	DSN string
	// Program is the compiled rules every write follows.
	Program *rules.Program
	// Referrals are the program's referral agreements, by ID.
	Referrals map[string]*rules.Referral
	// Clock defaults to the wall clock.
	Clock Clock
	// MaxOpenConns bounds the connection pool; 0 keeps the default of the backend.
	MaxOpenConns int
	// GroupCommit batches concurrent writes into one transaction each: every
	// write still succeeds or fails on its own (a savepoint each), and is
	// answered only once its batch has committed. Throughput is then not bound by
	// one commit (one fsync) per write.
	GroupCommit bool
	// MaxBatch bounds a batch; 0 means 256.
	MaxBatch int
	// Committers is the number of group-commit lanes; 0 means 1 on SQLite (one
	// writer at a time) and 8 on PostgreSQL.
	Committers int
	// Sinks are where events go: every change that makes an event some sink
	// takes writes it into the outbox, with its deliveries (outbox.go). None
	// writes no events.
	Sinks []SinkFilter

	// seams is nil but in this package's tests (seams_test.go).
	seams seams
}

// seams are where this package's tests reach inside a ledger: to compare the
// batched path with single writes, to line a batch up, to break a batched run.
// Their implementation is in a _test.go file; a ledger opened anywhere else has
// none, and every call below is behind a nil check.
type seams interface {
	// singleWritesOnly runs every write of a batch on its own.
	singleWritesOnly() bool
	// holdBatches is a channel the committers wait on before each batch.
	holdBatches() chan struct{}
	// afterPlan runs after a batched run's writes; an error fails the run.
	afterPlan() error
}

// Ledger is the store of record of one program.
type Ledger struct {
	db        *sql.DB // writes (and reads that must see the latest write)
	rdb       *sql.DB // reads; the same pool on PostgreSQL
	batch     *batcher
	d         dialect
	program   *rules.Program
	referrals map[string]*rules.Referral
	clock     Clock
	// stmts and rstmts cache prepared statements of db and rdb; nil on PostgreSQL.
	stmts, rstmts *stmtCache
	seams         seams
	// sinks are where the events of writes go; none writes no events.
	sinks []SinkFilter
	// watchTiers says whether members' tiers are reviewed (review.go).
	watchTiers bool
}

// Open connects to the store and applies the schema migrations it lacks.
func Open(ctx context.Context, o Options) (*Ledger, error) {
	if o.Program == nil {
		return nil, errors.New("opening the ledger: no program rules")
	}
	db, rdb, d, err := openDB(o.Backend, o.DSN)
	if err != nil {
		return nil, err
	}
	closeAll := func() {
		_ = db.Close()
		if rdb != db {
			_ = rdb.Close()
		}
	}
	if o.MaxOpenConns > 0 && d.backend == PostgreSQL {
		db.SetMaxOpenConns(o.MaxOpenConns)
	}
	if err := db.PingContext(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("connecting to the %s ledger: %w", o.Backend, err)
	}
	if err := migrate(ctx, db, d); err != nil {
		closeAll()
		return nil, err
	}
	l := &Ledger{db: db, rdb: rdb, d: d, program: o.Program, referrals: o.Referrals, clock: o.Clock, seams: o.seams, sinks: o.Sinks}
	if d.backend == SQLite {
		l.stmts, l.rstmts = newStmtCache(db), newStmtCache(rdb)
	}
	if o.GroupCommit {
		lanes := o.Committers
		if lanes <= 0 && d.backend == PostgreSQL {
			lanes = 8
		}
		var hold chan struct{}
		if o.seams != nil {
			hold = o.seams.holdBatches()
		}
		l.batch = newBatcher(l, o.MaxBatch, lanes, hold)
	}
	if l.clock == nil {
		l.clock = SystemClock{}
	}
	if l.referrals == nil {
		l.referrals = map[string]*rules.Referral{}
	}
	if err := l.watch(ctx); err != nil {
		closeAll()
		return nil, fmt.Errorf("preparing the time-driven events: %w", err)
	}
	return l, nil
}

// Close closes the connections.
func (l *Ledger) Close() error {
	if l.batch != nil {
		l.batch.close() // commits what was submitted before
	}
	err := errors.Join(l.stmts.close(), l.rstmts.close(), l.db.Close())
	if l.rdb != l.db {
		err = errors.Join(err, l.rdb.Close())
	}
	return err
}

// Ping checks that the store answers; the service's readiness probe uses it.
func (l *Ledger) Ping(ctx context.Context) error { return l.db.PingContext(ctx) }

// Backend says which store this is.
func (l *Ledger) Backend() Backend { return l.d.backend }

// tx wraps a database transaction with the dialect's placeholders and, where
// the store gains from it, prepared statements.
type tx struct {
	*sql.Tx
	d     dialect
	stmts *stmtCache
}

// stmt is q prepared for this transaction, or nil to run it unprepared.
func (t tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if s := t.stmts.get(q); s != nil {
		return t.StmtContext(ctx, s)
	}
	return nil
}

func (t tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.d.rebind(q)
	if s := t.stmt(ctx, q); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.ExecContext(ctx, q, args...)
}

func (t tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.d.rebind(q)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.QueryRowContext(ctx, q, args...)
}

func (t tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = t.d.rebind(q)
	if s := t.stmt(ctx, q); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.QueryContext(ctx, q, args...)
}

// inTx runs fn in a transaction and commits, running it again when the database
// aborted it for a conflict with another transaction. fn must do all of its
// reading and writing through the transaction: no check outside it, then act.
func (l *Ledger) inTx(ctx context.Context, fn func(tx) error) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		err = l.tryTx(ctx, fn)
		if err == nil || !isRetryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
	return err
}

// inReadTx runs fn in a transaction on the read pool: one consistent snapshot,
// without taking SQLite's write lock.
func (l *Ledger) inReadTx(ctx context.Context, fn func(tx) error) error {
	sqlTx, err := l.rdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	err = fn(tx{Tx: sqlTx, d: l.d, stmts: l.rstmts})
	_ = sqlTx.Rollback()
	l.rstmts.prepare(ctx)
	return err
}

func (l *Ledger) tryTx(ctx context.Context, fn func(tx) error) error {
	sqlTx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := tx{Tx: sqlTx, d: l.d, stmts: l.stmts}
	if err := fn(t); err != nil {
		_ = sqlTx.Rollback()
		l.stmts.prepare(ctx)
		return err
	}
	err = sqlTx.Commit()
	l.stmts.prepare(ctx)
	return err
}

// replay looks up an earlier write under the same actor and key. It returns true
// with out filled from the stored result when the request is the same, and
// ErrIdempotencyConflict when it is not.
func replay(ctx context.Context, t tx, m Meta, hash string, out any) (bool, error) {
	var storedHash, result string
	err := t.queryRow(ctx, `SELECT request_hash, result FROM entries WHERE actor = $1 AND idem_key = $2`, m.Actor, m.Key).Scan(&storedHash, &result)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := storedAnswer(m, hash, storedHash, result, out); err != nil {
		return false, err
	}
	return true, nil
}

// storedAnswer fills out from the stored result of a write under m's key, or
// refuses a different request under that key.
func storedAnswer(m Meta, hash, storedHash, result string, out any) error {
	if storedHash != hash {
		return fmt.Errorf("%w: key %q of %s", ErrIdempotencyConflict, m.Key, m.Actor)
	}
	if err := json.Unmarshal([]byte(result), out); err != nil {
		return fmt.Errorf("reading the stored result of key %q: %w", m.Key, err)
	}
	return nil
}

// write runs one idempotent write, fingerprinted by its record (see accrualapi's
// idempotency.go, which defines the records and stored results of the API's
// writes): a replay returns the stored result; otherwise
// fn does the work in the same transaction and returns the entry to record. With
// group commit on, the write waits for the batch it joins to commit. The work runs
// on a context the caller cannot cancel halfway: a client that gives up may find
// its write committed, and gets it back by retrying with the same key.
func write[R any](ctx context.Context, l *Ledger, kind, member string, m Meta, record any, res *R, replayed *bool,
	fn func(ctx context.Context, t tx, now time.Time) (*newEntry, error)) error {
	return writeWith(ctx, l, kind, member, m, record, res, replayed, nil, fn)
}

// writeWith is write with the write as the batched path plans it (batchplan.go), when
// it can take that path.
func writeWith[R any](ctx context.Context, l *Ledger, kind, member string, m Meta, record any, res *R, replayed *bool,
	fast *fastWrite, fn func(ctx context.Context, t tx, now time.Time) (*newEntry, error)) error {
	if m.Actor == "" || m.Key == "" || len(m.Key) > 255 {
		return fmt.Errorf("%w: every write needs an actor and an idempotency key of at most 255 characters", ErrInvalid)
	}
	hash, err := accrualapi.Fingerprint(kind, record)
	if err != nil {
		return err
	}
	work := context.WithoutCancel(ctx)
	attempt := func(t tx) error {
		*replayed = false
		ok, err := replay(work, t, m, hash, res)
		if err != nil || ok {
			*replayed = ok
			return err
		}
		e, err := fn(work, t, l.clock.Now())
		if err != nil {
			return err
		}
		e.kind, e.actor, e.key, e.hash, e.sinks = kind, m.Actor, m.Key, hash, l.sinks
		e.review = l.watchTiers && (e.review || tierKinds[kind])
		return e.insert(work, t, res)
	}
	// After a unique violation another writer has committed the same key between
	// our look-up and our insert: its result is the answer.
	fallback := func(t tx) error {
		ok, err := replay(work, t, m, hash, res)
		if err == nil && !ok {
			err = fmt.Errorf("%w: key %q vanished", ErrInvalid, m.Key)
		}
		*replayed = ok
		return err
	}
	if l.batch != nil {
		if fast != nil {
			fast.meta, fast.hash, fast.member, fast.res, fast.replayed = m, hash, member, res, replayed
		}
		return l.batch.submit(ctx, member, attempt, fallback, fast)
	}
	err = l.inTx(work, attempt)
	if err != nil && isUniqueViolation(err) {
		err = l.inTx(work, fallback)
	}
	return err
}

// micros stores an instant; fromMicros reads one back in UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

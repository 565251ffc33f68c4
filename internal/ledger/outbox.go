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
	"slices"
	"strings"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
)

// The transactional outbox (issue 18). An event is a row of the outbox written
// in the transaction of the change it tells of, on the single-write path
// (newEntry.insert) and the batched one (writePlan), so there is never one
// without the other: a savepoint that rolls a write back takes its events with
// it. With it go its deliveries, one row per sink that may see it (the sinks
// are the ledger's, from its options); an event no sink takes is not written.
// The dispatcher (in the service) sends each sink its deliveries, deletes a
// delivery once made and counts it per sink.
//
// Order: every write that makes an event holds its member's row lock when it
// inserts the event (the batched path inserts a lane's writes in order, and a
// member's writes always take the same lane), so a member's events get
// increasing row ids in the order their changes committed. A sink is sent a
// subject's events in row order, one at a time; different subjects go in
// parallel. Delivery state is kept per delivery, never as a cursor, so a
// transaction that commits a lower id late is not skipped.

// outboxEvent is an event about to be written.
type outboxEvent struct {
	// id is the CloudEvent id, derived from what caused the event: unique, and
	// the same however often the cause is looked at (a sweep run twice).
	id, typ, subject string
	// audience is which partners' sinks it reaches (accrualapi.Audience).
	audience string
	at       int64
	data     []byte
}

// entryEvent is the event of a journal entry: its type and audience, and as
// data the entry and the answer its write got.
func entryEvent(typ, audience string, e Entry, result []byte) (outboxEvent, error) {
	data, err := json.Marshal(accrualapi.EntryEvent{Entry: e.Wire(), Result: result})
	if err != nil {
		return outboxEvent{}, err
	}
	return outboxEvent{id: fmt.Sprintf("entry-%d", e.ID), typ: typ, subject: e.Member, audience: audience,
		at: micros(e.CreatedAt), data: data}, nil
}

// dataEvent is an event with data of its own.
func dataEvent(id, typ, subject, audience string, at time.Time, data any) (outboxEvent, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return outboxEvent{}, err
	}
	return outboxEvent{id: id, typ: typ, subject: subject, audience: audience, at: micros(at), data: b}, nil
}

const outboxColumns = "outbox (event_id, type, subject, audience, created_at, data)"

// deliveriesOf lists the deliveries of the event in outbox row id: one per sink
// that takes it.
func deliveriesOf(sinks []SinkFilter, row int64, e outboxEvent) [][]any {
	var out [][]any
	for _, s := range sinks {
		if s.takes(e.typ, e.audience) {
			out = append(out, []any{s.Name, row, e.subject, e.at})
		}
	}
	return out
}

const deliveryColumns = "deliveries (sink, event_row, subject, next_at)"

// taken keeps the events some sink takes.
func taken(sinks []SinkFilter, events []outboxEvent) []outboxEvent {
	out := events[:0:0]
	for _, e := range events {
		for _, s := range sinks {
			if s.takes(e.typ, e.audience) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// insertEvents writes the events some sink takes into the outbox, in order,
// with their deliveries, and returns how many it wrote. An event whose id is
// stored already is not written again (a time-driven event found twice, a
// report repeated).
func insertEvents(ctx context.Context, t tx, sinks []SinkFilter, events []outboxEvent) (int, error) {
	var deliveries [][]any
	written := 0
	for _, e := range taken(sinks, events) {
		var row int64
		err := t.queryRow(ctx, `INSERT INTO `+outboxColumns+` VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING RETURNING id`,
			e.id, e.typ, e.subject, e.audience, e.at, string(e.data)).Scan(&row)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return written, fmt.Errorf("writing event %s: %w", e.id, err)
		}
		written++
		deliveries = append(deliveries, deliveriesOf(sinks, row, e)...)
	}
	return written, insertRows(ctx, t, deliveryColumns, deliveries)
}

// insertEventRows writes the events of a batched run with multi-row statements;
// their ids are new (entries of this run), so none can be there already.
func insertEventRows(ctx context.Context, t tx, sinks []SinkFilter, events []outboxEvent) error {
	events = taken(sinks, events)
	if len(events) == 0 {
		return nil
	}
	ids, err := newIDSource(ctx, t, "outbox", len(events))
	if err != nil {
		return err
	}
	rows := make([][]any, 0, len(events))
	var deliveries [][]any
	for _, e := range events {
		row := ids.next()
		rows = append(rows, []any{row, e.id, e.typ, e.subject, e.audience, e.at, string(e.data)})
		deliveries = append(deliveries, deliveriesOf(sinks, row, e)...)
	}
	if err := insertRows(ctx, t, "outbox (id, event_id, type, subject, audience, created_at, data)", rows); err != nil {
		return err
	}
	return insertRows(ctx, t, deliveryColumns, deliveries)
}

// inDispatchTx runs a transaction of the dispatcher's. On PostgreSQL it commits
// without waiting for the WAL flush: losing its last moments to a crash only
// sends some events again (a delivery not recorded as made), which
// at-least-once delivery allows; it spares the writers' group commits an fsync
// per round.
func (l *Ledger) inDispatchTx(ctx context.Context, fn func(tx) error) error {
	return l.inTx(ctx, func(t tx) error {
		if t.d.backend == PostgreSQL {
			if _, err := t.exec(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
				return err
			}
		}
		return fn(t)
	})
}

// Delivery states: a delivery made is deleted.
const (
	deliveryPending = 0
	deliveryDead    = 2
)

// SinkFilter is what the ledger needs to know of a sink.
type SinkFilter struct {
	// Name is unique among the program's sinks.
	Name string
	// Partner is the partner id whose sink it is, "" for a program sink.
	Partner string
	// Types the sink takes; empty takes every type.
	Types []string
}

func (s SinkFilter) takes(typ, audience string) bool {
	if !accrualapi.Reaches(audience, s.Partner) {
		return false
	}
	if len(s.Types) == 0 {
		return true
	}
	for _, t := range s.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Delivery is one event on its way to one sink.
type Delivery struct {
	Row      int64
	ID       string
	Type     string
	Subject  string
	Time     time.Time
	Data     []byte
	Attempts int
	// FirstFailed is when its first attempt failed; zero before.
	FirstFailed time.Time
	LastError   string
}

const deliverySelect = `o.id, o.event_id, o.type, o.subject, o.created_at, o.data, d.attempts, d.first_failed_at, d.last_error`

func scanDeliveries(rows *sql.Rows) ([]Delivery, error) {
	var out []Delivery
	for rows.Next() {
		var d Delivery
		var at, failed int64
		var data string
		if err := rows.Scan(&d.Row, &d.ID, &d.Type, &d.Subject, &at, &data, &d.Attempts, &failed, &d.LastError); err != nil {
			_ = rows.Close()
			return nil, err
		}
		d.Time, d.Data = fromMicros(at), []byte(data)
		if failed != 0 {
			d.FirstFailed = fromMicros(failed)
		}
		out = append(out, d)
	}
	return out, closeRows(rows)
}

// DueDeliveries lists, in row order, up to limit deliveries to sink that may be
// attempted at now: pending, past their back-off, and each the first pending
// one of its subject, so that a subject's events go one after the other in
// their order.
func (l *Ledger) DueDeliveries(ctx context.Context, sink string, now time.Time, limit int) ([]Delivery, error) {
	rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT `+deliverySelect+`
		FROM deliveries d JOIN outbox o ON o.id = d.event_row
		WHERE d.sink = $1 AND d.state = 0 AND d.next_at <= $2
		AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.sink = d.sink AND p.subject = d.subject AND p.state = 0 AND p.event_row < d.event_row)
		ORDER BY d.event_row LIMIT $3`), sink, micros(now), limit)
	if err != nil {
		return nil, err
	}
	return scanDeliveries(rows)
}

// DeliveryOutcome is what one attempt of a delivery came to.
type DeliveryOutcome struct {
	Row int64
	// Err is empty when the sink took the event.
	Err string
	// Dead parks a failed delivery: it is not attempted again until replayed.
	Dead bool
	// NextAt is when a failed delivery is attempted again.
	NextAt time.Time
}

// RecordDeliveries stores the outcomes of attempts made at now, in one
// transaction: the deliveries made are deleted (one statement per chunk of
// rows) and counted, each failure is recorded with a statement of its own.
func (l *Ledger) RecordDeliveries(ctx context.Context, sink string, now time.Time, outcomes []DeliveryOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	var delivered []any
	for _, o := range outcomes {
		if o.Err == "" {
			delivered = append(delivered, o.Row)
		}
	}
	return l.inDispatchTx(ctx, func(t tx) error {
		var made int64
		for chunk := range slices.Chunk(delivered, maxShape) {
			q := newQuery(t.d)
			res, err := t.exec(ctx, `DELETE FROM deliveries WHERE sink = `+q.arg(sink)+` AND state = 0 AND event_row IN (`+q.list(padded(chunk))+`)`, q.args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			made += n
		}
		if made > 0 {
			if _, err := t.exec(ctx, `INSERT INTO sink_counters (sink, delivered) VALUES ($1, $2)
				ON CONFLICT (sink) DO UPDATE SET delivered = sink_counters.delivered + excluded.delivered`, sink, made); err != nil {
				return err
			}
		}
		for _, o := range outcomes {
			if o.Err == "" {
				continue
			}
			state := deliveryPending
			if o.Dead {
				state = deliveryDead
			}
			if _, err := t.exec(ctx, `UPDATE deliveries SET state = $1, attempts = attempts + 1, next_at = $2, last_error = $3,
				first_failed_at = CASE WHEN first_failed_at = 0 THEN $4 ELSE first_failed_at END, tried_at = $4
				WHERE sink = $5 AND event_row = $6 AND state = 0`, state, micros(o.NextAt), truncate(o.Err, 1000), micros(now), sink, o.Row); err != nil {
				return err
			}
		}
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// DeadDeliveries lists up to limit parked deliveries of sink, oldest first.
func (l *Ledger) DeadDeliveries(ctx context.Context, sink string, limit int) ([]Delivery, error) {
	rows, err := l.rdb.QueryContext(ctx, l.d.rebind(`SELECT `+deliverySelect+`
		FROM deliveries d JOIN outbox o ON o.id = d.event_row
		WHERE d.sink = $1 AND d.state = 2 ORDER BY d.event_row LIMIT $2`), sink, limit)
	if err != nil {
		return nil, err
	}
	return scanDeliveries(rows)
}

// ReplayDead puts parked deliveries of sink back to pending, due at now with
// their attempts reset: the event ids given, or every one when ids is empty.
// It returns how many it put back.
func (l *Ledger) ReplayDead(ctx context.Context, sink string, ids []string, now time.Time) (int64, error) {
	var n int64
	err := l.inTx(ctx, func(t tx) error {
		q := `UPDATE deliveries SET state = 0, attempts = 0, first_failed_at = 0, next_at = $1, tried_at = 0
			WHERE sink = $2 AND state = 2`
		args := []any{micros(now), sink}
		if len(ids) > 0 {
			b := newQuery(t.d)
			b.args = args
			q += ` AND event_row IN (SELECT id FROM outbox WHERE event_id IN (` + b.list(toAny(ids)) + `))`
			args = b.args
		}
		res, err := t.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func toAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// SinkStats is where a sink's deliveries stand.
type SinkStats struct {
	// Delivered counts every delivery made.
	Delivered, Pending, Dead int64
	// OldestPending is when the oldest pending event was written; zero when
	// none is pending.
	OldestPending time.Time
	// LastError is the error of the latest failed attempt still pending or dead.
	LastError string
	// FailingSince is when the oldest pending delivery first failed; zero when
	// none of them failed.
	FailingSince time.Time
}

// DeliveryStats reads every sink's figures.
func (l *Ledger) DeliveryStats(ctx context.Context) (map[string]SinkStats, error) {
	out := map[string]SinkStats{}
	err := l.inReadTx(ctx, func(t tx) error {
		// Counted from deliveries alone (the table the dispatcher churns is read
		// once); the oldest pending event is the one of the lowest row.
		rows, err := t.query(ctx, `SELECT sink, state, COUNT(*), MIN(event_row), MIN(CASE WHEN first_failed_at > 0 THEN first_failed_at END)
			FROM deliveries GROUP BY sink, state`)
		if err != nil {
			return err
		}
		oldestRow := map[string]int64{}
		for rows.Next() {
			var sink string
			var state int
			var n, first int64
			var failed sql.NullInt64
			if err := rows.Scan(&sink, &state, &n, &first, &failed); err != nil {
				_ = rows.Close()
				return err
			}
			s := out[sink]
			if state == deliveryDead {
				s.Dead = n
			} else {
				s.Pending, oldestRow[sink] = n, first
				if failed.Valid {
					s.FailingSince = fromMicros(failed.Int64)
				}
			}
			out[sink] = s
		}
		if err := closeRows(rows); err != nil {
			return err
		}
		for sink, s := range out {
			if row, ok := oldestRow[sink]; ok {
				var at int64
				if err := t.queryRow(ctx, `SELECT created_at FROM outbox WHERE id = $1`, row).Scan(&at); err != nil {
					return err
				}
				s.OldestPending = fromMicros(at)
			}
			// The latest error, from the index of failed deliveries.
			err := t.queryRow(ctx, `SELECT last_error FROM deliveries WHERE sink = $1 AND last_error <> '' ORDER BY tried_at DESC LIMIT 1`,
				sink).Scan(&s.LastError)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			out[sink] = s
		}
		rows, err = t.query(ctx, `SELECT sink, delivered FROM sink_counters`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var sink string
			var n int64
			if err := rows.Scan(&sink, &n); err != nil {
				_ = rows.Close()
				return err
			}
			s := out[sink]
			s.Delivered = n
			out[sink] = s
		}
		return closeRows(rows)
	})
	return out, err
}

// PruneEvents deletes the events written before before that have no delivery
// left; first the deliveries of such old events to sinks that are no longer
// the ledger's (a sink removed from the configuration gets nothing more).
// Pending and dead deliveries to the ledger's sinks, and their events, stay.
// It returns the events deleted.
func (l *Ledger) PruneEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := l.inDispatchTx(ctx, func(t tx) error {
		q := newQuery(t.d)
		gone := `DELETE FROM deliveries WHERE event_row IN (SELECT id FROM outbox WHERE created_at < ` + q.arg(micros(before)) + `)`
		if len(l.sinks) > 0 {
			names := make([]string, 0, len(l.sinks))
			for _, s := range l.sinks {
				names = append(names, s.Name)
			}
			gone += ` AND sink NOT IN (` + q.list(names) + `)`
		}
		if _, err := t.exec(ctx, gone, q.args...); err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM outbox WHERE created_at < $1
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_row = outbox.id)`, micros(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// dispatchLockKey is the PostgreSQL advisory lock the dispatching replica
// holds, with the ledger's schema as its second key: programs that share a
// database in schemas of their own dispatch each on its own.
const dispatchLockKey = 7236062

// ErrDispatchTaken is returned when another replica dispatches.
var ErrDispatchTaken = errors.New("another replica dispatches the events")

// DispatchLock is the right to dispatch the program's events. On PostgreSQL it
// is a session advisory lock, held on a connection of its own: a replica that
// dies or loses its database connection loses the lock with it, and the next
// replica to try takes over where the deliveries stand. On SQLite the ledger
// is one process's file and the lock is that process's.
type DispatchLock struct {
	conn *sql.Conn
}

// TryLockDispatch takes the dispatch lock, or returns ErrDispatchTaken.
func (l *Ledger) TryLockDispatch(ctx context.Context) (*DispatchLock, error) {
	if l.d.backend != PostgreSQL {
		return &DispatchLock{}, nil
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, hashtext(current_schema()))`, dispatchLockKey).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if !ok {
		_ = conn.Close()
		return nil, ErrDispatchTaken
	}
	return &DispatchLock{conn: conn}, nil
}

// Held checks that the lock's connection is alive (and with it the lock).
func (d *DispatchLock) Held(ctx context.Context) bool {
	if d.conn == nil {
		return true
	}
	return d.conn.PingContext(ctx) == nil
}

// Release gives the lock up.
func (d *DispatchLock) Release() {
	if d.conn == nil {
		return
	}
	_, _ = d.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, dispatchLockKey)
	_ = d.conn.Close()
}

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
	"errors"
	"fmt"
	"time"

	"github.com/treue-dev/treue/internal/rules"
)

// lockMember locks a member's row until the transaction ends, so that every
// write to one member's lots is serialised; writes to other members go on. On
// SQLite the write transaction itself is exclusive.
func lockMember(ctx context.Context, t tx, member string) error {
	var id string
	err := t.queryRow(ctx, `SELECT id FROM members WHERE id = $1`+t.d.forUpdate, member).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w %q", ErrUnknownMember, member)
	}
	return err
}

// lot is one credit of points.
type lot struct {
	id, entryID          int64
	partner              string
	points, remaining    int64
	earnedAt, pendingEnd time.Time
	expiresAt            *time.Time
}

func (lt lot) pending(now time.Time) bool { return now.Before(lt.pendingEnd) }
func (lt lot) expired(now time.Time) bool { return lt.expiresAt != nil && !now.Before(*lt.expiresAt) }

// memberLots reads a member's lots that still hold points (or debt), soonest
// expiring first, lots that never expire last, then oldest first.
func memberLots(ctx context.Context, t tx, member string) ([]lot, error) {
	rows, err := t.query(ctx, `SELECT id, entry_id, partner_id, points, remaining, earned_at, pending_until, expires_at
		FROM lots WHERE member_id = $1 AND remaining <> 0
		ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, earned_at, id`, member)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []lot
	for rows.Next() {
		var lt lot
		var earned, pend int64
		var exp sql.NullInt64
		if err := rows.Scan(&lt.id, &lt.entryID, &lt.partner, &lt.points, &lt.remaining, &earned, &pend, &exp); err != nil {
			return nil, err
		}
		lt.earnedAt, lt.pendingEnd = fromMicros(earned), fromMicros(pend)
		if exp.Valid {
			e := fromMicros(exp.Int64)
			lt.expiresAt = &e
		}
		out = append(out, lt)
	}
	return out, rows.Err()
}

// take consumes points from a lot for an entry.
func take(ctx context.Context, t tx, entryID, lotID, points int64) error {
	if points == 0 {
		return nil
	}
	if _, err := t.exec(ctx, `UPDATE lots SET remaining = remaining - $1 WHERE id = $2`, points, lotID); err != nil {
		return err
	}
	_, err := t.exec(ctx, `INSERT INTO consumptions (entry_id, lot_id, points) VALUES ($1, $2, $3)`, entryID, lotID, points)
	return err
}

// spend consumes up to points from the lots, in order, and returns how many it
// took.
func spend(ctx context.Context, t tx, entryID int64, lots []lot, points int64) (int64, error) {
	var taken int64
	for _, lt := range lots {
		if taken == points {
			break
		}
		n := min(lt.remaining, points-taken)
		if n <= 0 {
			continue
		}
		if err := take(ctx, t, entryID, lt.id, n); err != nil {
			return taken, err
		}
		taken += n
	}
	return taken, nil
}

// available filters the lots a member can spend at now.
func available(lots []lot, now time.Time) []lot {
	var out []lot
	for _, lt := range lots {
		if lt.remaining > 0 && !lt.pending(now) && !lt.expired(now) {
			out = append(out, lt)
		}
	}
	return out
}

// credit writes a new lot of points for an entry. Debt the member owes (negative
// lots, under the Allow policy) is repaid from it first: the new lot is consumed
// and the debt lot "consumed" by the negative amount, so that for every lot
// remaining = points - consumptions.
func (l *Ledger) credit(ctx context.Context, t tx, entryID int64, member, partner string, points int64, earnedAt time.Time, terms rules.LotTerms) error {
	if points <= 0 {
		return nil
	}
	var exp sql.NullInt64
	if terms.ExpiresAt != nil {
		exp = sql.NullInt64{Int64: micros(*terms.ExpiresAt), Valid: true}
	}
	if terms.ExpiresOnInactivity {
		at, _ := l.program.InactivityExpiry(earnedAt)
		exp = sql.NullInt64{Int64: micros(at), Valid: true}
		// Every earning extends every lot that has not expired yet.
		if _, err := t.exec(ctx, `UPDATE lots SET expires_at = $1 WHERE member_id = $2 AND remaining > 0 AND expires_at > $3`,
			exp.Int64, member, micros(earnedAt)); err != nil {
			return err
		}
	}
	var lotID int64
	if err := t.queryRow(ctx, `INSERT INTO lots (member_id, entry_id, partner_id, points, remaining, earned_at, pending_until, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id`,
		member, entryID, partner, points, micros(earnedAt), micros(terms.PendingUntil), exp).Scan(&lotID); err != nil {
		return err
	}
	if !l.program.AllowNegativeBalance {
		return nil // no member can owe points
	}
	lots, err := memberLots(ctx, t, member)
	if err != nil {
		return err
	}
	left := points
	for _, debt := range lots {
		if debt.remaining >= 0 || left == 0 {
			continue
		}
		n := min(-debt.remaining, left)
		if err := take(ctx, t, entryID, lotID, n); err != nil {
			return err
		}
		if err := take(ctx, t, entryID, debt.id, -n); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// debt records points a member owes after a clawback under the Allow policy.
func debt(ctx context.Context, t tx, entryID int64, member string, points int64, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO lots (member_id, entry_id, partner_id, points, remaining, earned_at, pending_until, expires_at)
		VALUES ($1, $2, '', $3, $3, $4, $4, NULL)`, member, entryID, -points, micros(at))
	return err
}

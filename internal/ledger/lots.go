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
	"math"
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

// neverExpires is the expires_at of a lot that does not expire: it sorts last in
// the spending order, which an index on (member, expires_at) then serves as is.
const neverExpires int64 = math.MaxInt64

// expiryMicros is how expires_at stores an expiry, nil for never.
func expiryMicros(at *time.Time) int64 {
	if at == nil {
		return neverExpires
	}
	return micros(*at)
}

const lotColumns = `SELECT id, entry_id, partner_id, points, remaining, earned_at, pending_until, expires_at FROM lots`

// spendingOrder is soonest expiring first, lots that never expire last, then
// oldest first: the order of the lots_spend index.
const spendingOrder = ` ORDER BY expires_at, earned_at, id`

// memberLots reads all of a member's lots that still hold points (or debt), in
// spending order.
func memberLots(ctx context.Context, t tx, member string) ([]lot, error) {
	var out []lot
	err := eachLot(ctx, t, `WHERE member_id = $1 AND remaining <> 0`, []any{member}, func(lt lot) bool {
		out = append(out, lt)
		return true
	})
	return out, err
}

// eachLot streams lots in spending order until fn returns false.
func eachLot(ctx context.Context, t tx, where string, args []any, fn func(lot) bool) error {
	rows, err := t.query(ctx, lotColumns+" "+where+spendingOrder, args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var lt lot
		var earned, pend, exp int64
		if err := rows.Scan(&lt.id, &lt.entryID, &lt.partner, &lt.points, &lt.remaining, &earned, &pend, &exp); err != nil {
			return err
		}
		lt.earnedAt, lt.pendingEnd = fromMicros(earned), fromMicros(pend)
		if exp != neverExpires {
			e := fromMicros(exp)
			lt.expiresAt = &e
		}
		if !fn(lt) {
			return rows.Close()
		}
	}
	return rows.Err()
}

// spendable reads the available lots a debit of points takes, in spending order,
// stopping as soon as they cover it and the debt the member owes (zero or
// negative), which counts against them first.
func (l *Ledger) spendable(ctx context.Context, t tx, member string, points int64, now time.Time) (lots []lot, owed int64, err error) {
	if l.program.AllowNegativeBalance {
		if err := t.queryRow(ctx, `SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE member_id = $1 AND remaining <> 0 AND remaining < 0`, member).
			Scan(&owed); err != nil {
			return nil, 0, err
		}
	}
	need := points - owed
	var have int64
	// "remaining <> 0" repeats the partial index's condition, which SQLite's
	// planner needs to see to use lots_spend for "remaining > 0".
	err = eachLot(ctx, t, `WHERE member_id = $1 AND remaining <> 0 AND remaining > 0 AND pending_until <= $2 AND expires_at > $2`,
		[]any{member, micros(now)}, func(lt lot) bool {
			lots = append(lots, lt)
			have += lt.remaining
			return have < need
		})
	return lots, owed, err
}

// covers says whether lots, less the debt owed, hold points.
func covers(lots []lot, owed, points int64) bool {
	have := owed
	for _, lt := range lots {
		have += lt.remaining
	}
	return have >= points
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

// spend consumes up to points from the lots, in order.
func spend(ctx context.Context, t tx, entryID int64, lots []lot, points int64) error {
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
			return err
		}
		taken += n
	}
	return nil
}

// credit writes a new lot of points for an entry. Debt the member owes (negative
// lots, under the Allow policy) is repaid from it first: the new lot is consumed
// and the debt lot "consumed" by the negative amount, so that for every lot
// remaining = points - consumptions.
func (l *Ledger) credit(ctx context.Context, t tx, entryID int64, member, partner string, points int64, earnedAt time.Time, terms rules.LotTerms) error {
	if points <= 0 {
		return nil
	}
	exp := expiryMicros(terms.ExpiresAt)
	if terms.ExpiresOnInactivity {
		at, _ := l.program.InactivityExpiry(earnedAt)
		exp = micros(at)
		// Every earning extends every lot that has not expired yet (debt, with a
		// negative remainder, never expires).
		if _, err := t.exec(ctx, `UPDATE lots SET expires_at = $1 WHERE member_id = $2 AND remaining > 0 AND expires_at > $3`,
			exp, member, micros(earnedAt)); err != nil {
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
	var debts []lot
	if err := eachLot(ctx, t, `WHERE member_id = $1 AND remaining <> 0 AND remaining < 0`, []any{member}, func(lt lot) bool {
		debts = append(debts, lt)
		return true
	}); err != nil {
		return err
	}
	left := points
	for _, debt := range debts {
		if left == 0 {
			break
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
		VALUES ($1, $2, '', $3, $3, $4, $4, $5)`, member, entryID, -points, micros(at), neverExpires)
	return err
}

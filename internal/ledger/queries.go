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

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/rules"
)

// balanceOf sums lots at now. Debt (negative lots) lowers what is available.
// Every sum is checked: with one write bounded by accrualapi.MaxPoints it takes
// billions of writes to reach int64's bounds, and then the read fails rather than
// show a wrapped balance.
func balanceOf(lots []lot, now time.Time) (Balance, error) {
	var b Balance
	var ok bool
	for _, lt := range lots {
		switch {
		case lt.expired(now):
			continue
		case lt.remaining < 0 || !lt.pending(now):
			b.Available, ok = money.AddInt64(b.Available, lt.remaining)
		default:
			b.Pending, ok = money.AddInt64(b.Pending, lt.remaining)
		}
		if !ok {
			return b, fmt.Errorf("%w: the member's points do not fit in 64 bits", ErrOverflow)
		}
	}
	return b, nil
}

// Balance reads a member's points now, and how many of them expire within the
// given number of days. Pending and expiry take effect at their timestamps, not
// when a sweep runs.
func (l *Ledger) Balance(ctx context.Context, member string, expiringWithinDays int) (Balance, error) {
	var b Balance
	err := l.inReadTx(ctx, func(t tx) error {
		if err := lockMemberShared(ctx, t, member); err != nil {
			return err
		}
		now := l.clock.Now()
		lots, err := memberLots(ctx, t, member)
		if err != nil {
			return err
		}
		if b, err = balanceOf(lots, now); err != nil {
			return err
		}
		b.ExpiringBy = now.AddDate(0, 0, expiringWithinDays)
		var ok bool
		for _, lt := range lots {
			if lt.remaining > 0 && !lt.expired(now) && lt.expiresAt != nil && lt.expiresAt.Before(b.ExpiringBy) {
				if b.Expiring, ok = money.AddInt64(b.Expiring, lt.remaining); !ok {
					return fmt.Errorf("%w: the member's expiring points do not fit in 64 bits", ErrOverflow)
				}
			}
		}
		return nil
	})
	return b, err
}

// lockMemberShared checks that a member exists, without locking.
func lockMemberShared(ctx context.Context, t tx, member string) error {
	var id string
	err := t.queryRow(ctx, `SELECT id FROM members WHERE id = $1`, member).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w %q", ErrUnknownMember, member)
	}
	return err
}

// Tier computes a member's tier now from the purchases in their history.
func (l *Ledger) Tier(ctx context.Context, member string) (rules.TierStatus, error) {
	var st rules.TierStatus
	err := l.inReadTx(ctx, func(t tx) error {
		if err := lockMemberShared(ctx, t, member); err != nil {
			return err
		}
		activity, membership, err := l.tierInputs(ctx, t, member)
		if err != nil {
			return err
		}
		st = l.program.TierAt(l.clock.Now(), activity, membership)
		return nil
	})
	return st, err
}

// tierInputs reads what counts towards a member's tier: each purchase (its points
// or what was paid) and each return (the points it took back, or the amount), and
// the paid membership. Bonuses, adjustments and redemptions do not count.
func (l *Ledger) tierInputs(ctx context.Context, t tx, member string) ([]rules.Activity, rules.MembershipState, error) {
	var m rules.MembershipState
	if l.program.Tiers == nil {
		return nil, m, nil
	}
	var paidUntil int64
	if err := t.queryRow(ctx, `SELECT paid_until FROM members WHERE id = $1`, member).Scan(&paidUntil); err != nil {
		return nil, m, err
	}
	if paidUntil > 0 {
		m.PaidUntil = fromMicros(paidUntil)
	}
	var since int64 // all history, unless the rules say older activity cannot matter
	if horizon, ok := l.program.ActivityHorizon(l.clock.Now()); ok {
		since = micros(horizon)
	}
	rows, err := t.query(ctx, `SELECT e.created_at, e.kind, e.points, e.amount, COALESCE(p.points, 0)
		FROM entries e LEFT JOIN postings p ON p.entry_id = e.id AND p.account = 'issuance:' || e.partner_id
		WHERE e.member_id = $1 AND e.kind IN ($2, $3) AND e.created_at >= $4 ORDER BY e.id`, member, KindEarn, KindReverse, since)
	if err != nil {
		return nil, m, err
	}
	defer func() { _ = rows.Close() }()
	var out []rules.Activity
	for rows.Next() {
		var at, points, amount, issuance int64
		var kind string
		if err := rows.Scan(&at, &kind, &points, &amount, &issuance); err != nil {
			return nil, m, err
		}
		out = append(out, l.activityOf(kind, at, points, amount, issuance))
	}
	return out, m, rows.Err()
}

// History pages through a member's entries, newest first. before is the id the
// page starts below (0 for the newest); next is the cursor of the following page,
// 0 when there is none.
func (l *Ledger) History(ctx context.Context, member string, before int64, limit int) (entries []Entry, next int64, err error) {
	return l.history(ctx, member, "", before, limit)
}

// PartnerHistory is History as a partner sees it: only the entries made at its
// own tills (its purchases, returns and the redemptions at them), nothing of
// another partner's, of the program's bonuses or of the admin's adjustments.
func (l *Ledger) PartnerHistory(ctx context.Context, member, partner string, before int64, limit int) (entries []Entry, next int64, err error) {
	if partner == "" {
		return nil, 0, fmt.Errorf("%w: no partner", ErrInvalid)
	}
	return l.history(ctx, member, partner, before, limit)
}

func (l *Ledger) history(ctx context.Context, member, partner string, before int64, limit int) (entries []Entry, next int64, err error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	err = l.inReadTx(ctx, func(t tx) error {
		if err := lockMemberShared(ctx, t, member); err != nil {
			return err
		}
		q := entryColumns + ` FROM entries WHERE member_id = $1 AND id < $2 AND kind <> $3 ORDER BY id DESC LIMIT $4`
		args := []any{member, before, KindReferralCode, limit + 1}
		if partner != "" {
			q = entryColumns + ` FROM entries WHERE member_id = $1 AND id < $2 AND kind <> $3 AND partner_id = $5 ORDER BY id DESC LIMIT $4`
			args = append(args, partner)
		}
		rows, err := t.query(ctx, q, args...)
		if err != nil {
			return err
		}
		entries, err = scanEntries(rows)
		return err
	})
	if len(entries) > limit {
		entries, next = entries[:limit], entries[limit-1].ID
	}
	return entries, next, err
}

// PartnerEntries pages through a partner's entries made in [from, to), oldest
// first, for settlement. after is the id the page starts above (0 at first).
func (l *Ledger) PartnerEntries(ctx context.Context, partner string, from, to time.Time, after int64, limit int) (entries []Entry, next int64, err error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := l.rdb.QueryContext(ctx, l.d.rebind(entryColumns+` FROM entries
		WHERE partner_id = $1 AND created_at >= $2 AND created_at < $3 AND id > $4 AND kind IN ($5, $6, $7, $8, $9)
		ORDER BY id LIMIT $10`), partner, micros(from), micros(to), after, KindEarn, KindRedeem, KindReverse, KindMembershipFee, KindMembershipEnd, limit+1)
	if err != nil {
		return nil, 0, err
	}
	entries, err = scanEntries(rows)
	if len(entries) > limit {
		entries, next = entries[:limit], entries[limit-1].ID
	}
	return entries, next, err
}

// MarkResult is how many rows a mark request newly marked, and whether the
// answer is a replay of the original one.
type MarkResult struct {
	Marked   int
	Replayed bool
}

// MarkSettled records that a settlement settled the entries. Marking an entry
// again with the same settlement changes nothing; an entry settled by another
// settlement is refused, and then nothing is marked. The request is idempotent
// under meta: a retry with the same key and ids gets the original count, the same
// key with other ids is ErrIdempotencyConflict.
func (l *Ledger) MarkSettled(ctx context.Context, meta Meta, settlement string, ids []int64) (MarkResult, error) {
	return l.markSettled(ctx, meta, "entries", ErrUnknownEntry, settlement, ids)
}

// MarkCommissionsSettled is MarkSettled for commission lines.
func (l *Ledger) MarkCommissionsSettled(ctx context.Context, meta Meta, settlement string, ids []int64) (MarkResult, error) {
	return l.markSettled(ctx, meta, "commissions", ErrUnknownCommission, settlement, ids)
}

// markSettled marks rows of table (entries or commissions, never input).
func (l *Ledger) markSettled(ctx context.Context, meta Meta, table string, unknown error, settlement string, ids []int64) (MarkResult, error) {
	var res MarkResult
	if settlement == "" {
		return res, fmt.Errorf("%w: no settlement id", ErrInvalid)
	}
	if meta.Actor == "" || meta.Key == "" || len(meta.Key) > 255 {
		return res, fmt.Errorf("%w: every write needs an actor and an idempotency key of at most 255 characters", ErrInvalid)
	}
	hash, err := accrualapi.Fingerprint("settlement_mark", accrualapi.MarkRecord{Table: table, Settlement: settlement, IDs: ids})
	if err != nil {
		return res, err
	}
	err = l.inTx(ctx, func(t tx) error {
		res = MarkResult{}
		// Claim the key first: a concurrent request with the same key waits here
		// for this one's outcome (PostgreSQL) or runs after it (SQLite).
		claimed, err := t.exec(ctx, `INSERT INTO settlement_marks (actor, idem_key, request_hash, marked, created_at)
			VALUES ($1, $2, $3, 0, $4) ON CONFLICT (actor, idem_key) DO NOTHING`, meta.Actor, meta.Key, hash, micros(l.clock.Now()))
		if err != nil {
			return err
		}
		if n, err := claimed.RowsAffected(); err != nil || n == 0 {
			var stored string
			var marked int
			if err := t.queryRow(ctx, `SELECT request_hash, marked FROM settlement_marks WHERE actor = $1 AND idem_key = $2`,
				meta.Actor, meta.Key).Scan(&stored, &marked); err != nil {
				return err
			}
			if stored != hash {
				return fmt.Errorf("%w: %q", ErrIdempotencyConflict, meta.Key)
			}
			res = MarkResult{Marked: marked, Replayed: true}
			return nil
		}
		for _, id := range ids {
			var current sql.NullString
			err := t.queryRow(ctx, `SELECT settlement_id FROM `+table+` WHERE id = $1`+t.d.forUpdate, id).Scan(&current)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %d", unknown, id)
			}
			if err != nil {
				return err
			}
			switch {
			case current.Valid && current.String == settlement:
			case current.Valid:
				return fmt.Errorf("%w: %d belongs to %s", ErrAlreadySettled, id, current.String)
			default:
				if _, err := t.exec(ctx, `UPDATE `+table+` SET settlement_id = $1 WHERE id = $2`, settlement, id); err != nil {
					return err
				}
				res.Marked++
			}
		}
		_, err = t.exec(ctx, `UPDATE settlement_marks SET marked = $1 WHERE actor = $2 AND idem_key = $3`, res.Marked, meta.Actor, meta.Key)
		return err
	})
	return res, err
}

// Commission is one line of a referral commission as settlement sees it: an
// accrual, the cancel of one inside the holding period (due with it, so that the
// two net out), or a clawback after it (due when written).
type Commission struct {
	ID         int64
	Kind       string
	Referral   string
	Referrer   string
	Referee    string
	Micros     int64
	DueAt      time.Time
	EarnID     int64
	Settlement string
}

// PartnerCommissions pages through the commissions a referee owes that fall due
// in [from, to), in id order. after is the id the page starts above (0 at first).
func (l *Ledger) PartnerCommissions(ctx context.Context, referee string, from, to time.Time, after int64, limit int) (
	out []Commission, next int64, err error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := l.rdb.QueryContext(ctx, l.d.rebind(`SELECT id, kind, referral_id, referrer, referee, micros, confirms_at, earn_id,
		COALESCE(settlement_id, '') FROM commissions
		WHERE referee = $1 AND confirms_at >= $2 AND confirms_at < $3 AND id > $4 ORDER BY id LIMIT $5`),
		referee, micros(from), micros(to), after, limit+1)
	if err != nil {
		return nil, 0, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var c Commission
		var due int64
		if err := rows.Scan(&c.ID, &c.Kind, &c.Referral, &c.Referrer, &c.Referee, &c.Micros, &due, &c.EarnID, &c.Settlement); err != nil {
			return nil, 0, err
		}
		c.DueAt = fromMicros(due)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(out) > limit {
		out, next = out[:limit], out[limit-1].ID
	}
	return out, next, nil
}

const entryColumns = `SELECT id, kind, member_id, partner_id, created_at, points, amount, COALESCE(related_id, 0), reason,
	COALESCE(settlement_id, ''), discount`

func scanEntries(rows *sql.Rows) ([]Entry, error) {
	defer func() { _ = rows.Close() }()
	var out []Entry
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Member, &e.Partner, &at, &e.Points, &e.Amount, &e.RelatedID, &e.Reason, &e.Settlement, &e.Discount); err != nil {
			return nil, err
		}
		e.CreatedAt = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

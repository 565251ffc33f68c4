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
	"slices"
	"time"

	"github.com/treue-dev/treue/internal/rules"
)

// The bulk reads of a batched run (batchplan.go): what every write of the run
// needs, read with one statement per kind of state for the whole run.

// fastReplays reads the stored writes under the run's keys, one statement per
// actor (the unique index is on actor, then key).
func (l *Ledger) fastReplays(ctx context.Context, t tx, run []*job) (map[idemKey]stored, error) {
	byActor := map[string][]string{}
	var actors []string
	for _, j := range run {
		a := j.fast.meta.Actor
		if _, ok := byActor[a]; !ok {
			actors = append(actors, a)
		}
		byActor[a] = append(byActor[a], j.fast.meta.Key)
	}
	out := map[idemKey]stored{}
	for _, actor := range actors {
		q := newQuery(t.d)
		where := "actor = " + q.arg(actor) + " AND idem_key IN (" + q.in(byActor[actor]) + ")"
		rows, err := t.query(ctx, "SELECT idem_key, request_hash, result FROM entries WHERE "+where, q.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var key string
			var s stored
			if err := rows.Scan(&key, &s.hash, &s.result); err != nil {
				_ = rows.Close()
				return nil, err
			}
			out[idemKey{actor, key}] = s
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fastMembers reads (and on PostgreSQL locks, in id order, as the batch's other
// writes do) every member of the run, and what the run's writes need of each.
func (l *Ledger) fastMembers(ctx context.Context, t tx, run []*job, now time.Time) (map[string]*fastMember, error) {
	var all, earning, redeeming []string
	seen, seenEarn, seenRedeem := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, j := range run {
		m := j.fast.member
		if !seen[m] {
			seen[m] = true
			all = append(all, m)
		}
		if j.fast.earn != nil && !seenEarn[m] {
			seenEarn[m] = true
			earning = append(earning, m)
		}
		if j.fast.redeem != nil && !seenRedeem[m] {
			seenRedeem[m] = true
			redeeming = append(redeeming, m)
		}
	}
	slices.Sort(all)
	members := map[string]*fastMember{}
	q := newQuery(t.d)
	rows, err := t.query(ctx, "SELECT id, paid_until FROM members WHERE id IN ("+q.in(all)+") ORDER BY id"+t.d.forUpdate, q.args...)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var paid int64
		if err := rows.Scan(&id, &paid); err != nil {
			_ = rows.Close()
			return nil, err
		}
		members[id] = &fastMember{paidUntil: paid}
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	if err := l.fastTierInputs(ctx, t, members, earning, now); err != nil {
		return nil, err
	}
	if err := l.fastEarnedToday(ctx, t, members, earning, now); err != nil {
		return nil, err
	}
	need := map[string]int64{}
	for _, j := range run {
		if j.fast.redeem != nil {
			need[j.fast.member] += j.fast.redeem.Points
		}
	}
	return members, l.fastLots(ctx, t, members, redeeming, need, now)
}

// fastTierInputs reads what tierInputs reads, for several members. The horizon
// is the one of the run's start: a later write's horizon is no earlier, and
// activity older than its own horizon cannot change its tier.
func (l *Ledger) fastTierInputs(ctx context.Context, t tx, members map[string]*fastMember, ids []string, now time.Time) error {
	if l.program.Tiers == nil || len(ids) == 0 {
		return nil
	}
	var since int64
	if horizon, ok := l.program.ActivityHorizon(now); ok {
		since = micros(horizon)
	}
	q := newQuery(t.d)
	query := `SELECT e.member_id, e.created_at, e.kind, e.points, e.amount, COALESCE(p.points, 0)
		FROM entries e LEFT JOIN postings p ON p.entry_id = e.id AND p.account = 'issuance:' || e.partner_id
		WHERE e.member_id IN (` + q.in(ids) + `) AND e.kind IN (` + q.arg(KindEarn) + `, ` + q.arg(KindReverse) + `)
		AND e.created_at >= ` + q.arg(since) + ` ORDER BY e.member_id, e.id`
	rows, err := t.query(ctx, query, q.args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var member, kind string
		var at, points, amount, issuance int64
		if err := rows.Scan(&member, &at, &kind, &points, &amount, &issuance); err != nil {
			_ = rows.Close()
			return err
		}
		m := members[member]
		if m == nil {
			continue
		}
		m.activity = append(m.activity, l.activityOf(kind, at, points, amount, issuance))
	}
	return closeRows(rows)
}

// activityOf is one row of tier history as the rules count it.
func (l *Ledger) activityOf(kind string, at, points, amount, issuance int64) rules.Activity {
	a := rules.Activity{At: fromMicros(at)}
	switch {
	case l.program.Basis == rules.BasisAmountSpent && kind == KindEarn:
		a.Amount = amount
	case l.program.Basis == rules.BasisAmountSpent:
		a.Amount = -amount
	case kind == KindEarn:
		a.Amount = points
	default:
		a.Amount = -issuance // the points the return took back
	}
	return a
}

// fastEarnedToday reads the earnings that count against a daily cap: those
// since the start of the run's first day, a superset of each write's own day.
func (l *Ledger) fastEarnedToday(ctx context.Context, t tx, members map[string]*fastMember, ids []string, now time.Time) error {
	if l.program.MaxPerMemberPerDay <= 0 || len(ids) == 0 {
		return nil
	}
	q := newQuery(t.d)
	query := `SELECT member_id, created_at, points FROM entries WHERE member_id IN (` + q.in(ids) + `) AND kind = ` +
		q.arg(KindEarn) + ` AND created_at >= ` + q.arg(micros(l.program.DayStart(now)))
	rows, err := t.query(ctx, query, q.args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var member string
		var at, points int64
		if err := rows.Scan(&member, &at, &points); err != nil {
			_ = rows.Close()
			return err
		}
		if m := members[member]; m != nil {
			m.earnsAt, m.earnsPts = append(m.earnsAt, at), append(m.earnsPts, points)
		}
	}
	return closeRows(rows)
}

// fastLots reads, for each member who redeems in the run, the lots holding
// points in spending order, as far as they cover what the run redeems of the
// member: a member who has earned often has many lots, and a redemption takes
// only the first few. One statement per such member, stopped as soon as it has
// read enough (as the single write's own read stops).
func (l *Ledger) fastLots(ctx context.Context, t tx, members map[string]*fastMember, ids []string, need map[string]int64, now time.Time) error {
	at := micros(now)
	for _, id := range ids {
		m := members[id]
		if m == nil {
			continue
		}
		var have int64
		var last *fastLot
		truncated := false
		err := eachLot(ctx, t, `WHERE member_id = $1 AND remaining <> 0 AND remaining > 0`, []any{id}, func(lt lot) bool {
			if have >= need[id] {
				truncated = true
				return false
			}
			last = &fastLot{id: lt.id, entryID: lt.entryID, partner: lt.partner, points: lt.points, remaining: lt.remaining,
				earnedAt: micros(lt.earnedAt), pendingUntil: micros(lt.pendingEnd), expiresAt: expiryMicros(lt.expiresAt)}
			m.lots = append(m.lots, last)
			if last.spendable(at) {
				have += last.remaining
			}
			return true
		})
		if err != nil {
			return err
		}
		if truncated {
			m.cutoff = last
		}
	}
	return nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	return errors.Join(err, rows.Close())
}

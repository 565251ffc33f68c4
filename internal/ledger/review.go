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
	"slices"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
)

// Time-driven events other than expiry and its reminders (issue 18): a tier
// that changes, a paid membership that runs out, a commission whose holding
// period ends. None of them is a journal entry, so each is written by a review
// or a sweep, in the transaction that records it as announced, with the
// member's row locked so that it takes its place in her order of events; and
// each only while some sink takes its type (nothing is computed for nobody).
//
// Tiers are computed from activity, never stored, so a member's tier as last
// announced is kept beside her (members.tier_level), with when she is next due
// for a review (members.review_at): a write that may change her tier (a
// purchase that lifts it, a return, a fee paid or ended) sets it to now, in its
// own transaction; a review sets it to the instant her tier would fall if
// nothing else happened (rules.Program.TierDropsAt), or to none. A purchase
// that does not lift the tier leaves that instant as it is: more activity
// never makes a tier fall sooner, so a review then is early, never late. Reviews run every
// second on the dispatching replica, and on any replica they are safe: the
// member's row lock and the due time re-read under it make each change
// announced once.

// review_at values a review recognises: after a write that may change the tier,
// and for every member when the ledger starts watching tiers.
const (
	reviewAfterWrite = 0
	reviewResync     = 1
)

// tierKinds are the writes that may change a tier, besides a purchase: a
// purchase can only lift it, which its decision tells (rules'
// TierRisesWith), so that only a purchase that does marks its member.
var tierKinds = map[string]bool{KindReverse: true, KindMembershipFee: true, KindMembershipEnd: true}

// markSlack is how far behind its now a marked sweep leaves its mark: another
// replica's clock, or a transaction that commits late, may put what comes due
// a little behind it. Looking at it twice announces nothing twice: an event's
// id is stored once.
const markSlack = 10 * time.Minute

// Names in sweep_marks.
const (
	markTiers       = "tiers"
	markMemberships = "memberships-expired"
	markCommissions = "commissions-confirmed"
)

// takesAny says whether some sink takes events of type typ (about someone):
// an event every partner may see is one any sink's audience reaches.
func (l *Ledger) takesAny(typ string) bool {
	return slices.ContainsFunc(l.sinks, func(s SinkFilter) bool { return s.takes(typ, accrualapi.AudienceEveryone) })
}

// watch decides at start-up what the time-driven events need. Tiers start to
// be watched by reviewing every member once (her level, where not known, is
// then recorded without an event); a marked sweep whose events nobody takes
// forgets its mark, so that when a sink takes them again it starts from then,
// not with a flood of old news.
func (l *Ledger) watch(ctx context.Context) error {
	l.watchTiers = l.program.Tiers != nil && l.takesAny(accrualapi.EventTierChanged)
	var forget, start []any
	for mark, taken := range map[string]bool{
		markMemberships: l.program.Membership.Paid && l.takesAny(accrualapi.EventMembershipExpired),
		markCommissions: l.takesAny(accrualapi.EventCommissionConfirmed),
	} {
		if taken {
			start = append(start, mark)
		} else {
			forget = append(forget, mark)
		}
	}
	if !l.watchTiers {
		forget = append(forget, markTiers)
	}
	now := micros(l.clock.Now())
	return l.inTx(ctx, func(t tx) error {
		if len(forget) > 0 {
			q := newQuery(l.d)
			if _, err := t.exec(ctx, `DELETE FROM sweep_marks WHERE name IN (`+q.list(forget)+`)`, q.args...); err != nil {
				return err
			}
		}
		// A sweep starts from when its events are first taken.
		for _, mark := range start {
			if _, err := t.exec(ctx, `INSERT INTO sweep_marks (name, at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, mark, now); err != nil {
				return err
			}
		}
		if !l.watchTiers {
			return nil
		}
		res, err := t.exec(ctx, `INSERT INTO sweep_marks (name, at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, markTiers, now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = t.exec(ctx, `UPDATE members SET review_at = $1`, reviewResync)
		return err
	})
}

// ReviewMembers reviews up to limit members due for a review at the ledger's
// now, and returns how many it reviewed and how many tier changes it wrote.
func (l *Ledger) ReviewMembers(ctx context.Context, limit int) (reviewed, changed int, err error) {
	if !l.watchTiers {
		return 0, 0, nil
	}
	rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT id FROM members WHERE review_at IS NOT NULL AND review_at <= $1
		ORDER BY review_at LIMIT $2`), micros(l.clock.Now()), limit)
	if err != nil {
		return 0, 0, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return 0, 0, err
		}
		ids = append(ids, id)
	}
	if err := closeRows(rows); err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		ok, err := l.reviewMember(ctx, id)
		if err != nil {
			return reviewed, changed, fmt.Errorf("reviewing the tier of %q: %w", id, err)
		}
		reviewed++
		if ok {
			changed++
		}
	}
	return reviewed, changed, nil
}

// reviewMember computes a member's tier now, records it and when it may fall
// next, and writes its event when it differs from the one announced. It says
// whether it wrote one.
func (l *Ledger) reviewMember(ctx context.Context, id string) (bool, error) {
	changed := false
	err := l.inTx(ctx, func(t tx) error {
		changed = false
		if err := lockMember(ctx, t, id); err != nil {
			return err
		}
		now := l.clock.Now()
		var level, due sql.NullInt64
		var pinned, changes int64
		if err := t.queryRow(ctx, `SELECT tier_level, tier_pinned, tier_changes, review_at FROM members WHERE id = $1`, id).
			Scan(&level, &pinned, &changes, &due); err != nil {
			return err
		}
		if !due.Valid || due.Int64 > micros(now) {
			return nil // reviewed already, by another replica or round
		}
		activity, membership, err := l.tierInputs(ctx, t, id)
		if err != nil {
			return err
		}
		st := l.program.TierAt(now, activity, membership)
		var next sql.NullInt64
		if at, ok := l.program.TierDropsAt(now, activity, membership); ok {
			next = sql.NullInt64{Int64: micros(at), Valid: true}
		}
		isPinned := int64(0)
		if st.Pinned {
			isPinned = 1
		}
		announce := level.Valid && int(level.Int64) != st.Level
		if announce {
			changes++
		}
		if _, err := t.exec(ctx, `UPDATE members SET tier_level = $1, tier_pinned = $2, tier_changes = $3, review_at = $4 WHERE id = $5`,
			st.Level, isPinned, changes, next, id); err != nil {
			return err
		}
		if !announce {
			return nil
		}
		data := accrualapi.TierChanged{Member: id, From: l.tierName(int(level.Int64)), To: st.Name, Qualifying: st.Qualifying, Pinned: st.Pinned,
			At: fromMicros(micros(now))}
		data.Direction, data.Reason = tierReason(int(level.Int64), st.Level, pinned == 1, st.Pinned, due.Int64)
		ev, err := dataEvent(fmt.Sprintf("member-%s-tier-%d", id, changes), accrualapi.EventTierChanged, id, accrualapi.AudienceEveryone, now, data)
		if err != nil {
			return err
		}
		_, err = insertEvents(ctx, t, l.sinks, []outboxEvent{ev})
		changed = true
		return err
	})
	return changed, err
}

func (l *Ledger) tierName(level int) string {
	if level < 0 || level >= len(l.program.Tiers) {
		return ""
	}
	return l.program.Tiers[level].Name
}

// tierReason names why a tier went from one level to another: a fee that pins
// it or activity, up; a fee that stopped pinning it, a return (a write's
// review), or time (a window, a grace period, a review of the policy's), down.
func tierReason(from, to int, wasPinned, pinned bool, due int64) (direction, reason string) {
	switch {
	case to > from && pinned && !wasPinned:
		return accrualapi.TierUp, accrualapi.TierMembershipPaid
	case to > from:
		return accrualapi.TierUp, accrualapi.TierQualified
	case wasPinned && !pinned:
		return accrualapi.TierDown, accrualapi.TierMembershipLapsed
	case due == reviewAfterWrite:
		return accrualapi.TierDown, accrualapi.TierReturned
	}
	return accrualapi.TierDown, accrualapi.TierWindowEnded
}

// markedSweep runs a sweep over what came due after its mark and by the
// ledger's now, then moves the mark to now less markSlack. Its mark is set
// when the ledger opens with a sink that takes its events (watch); without one
// it starts markSlack before now.
func (l *Ledger) markedSweep(ctx context.Context, name string, run func(from, to int64) (int, error)) (int, error) {
	now := micros(l.clock.Now())
	from := now - markSlack.Microseconds()
	err := l.db.QueryRowContext(ctx, l.d.rebind(`SELECT at FROM sweep_marks WHERE name = $1`), name).Scan(&from)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	n, err := run(from, now)
	if err != nil {
		return n, err
	}
	mark := max(from, now-markSlack.Microseconds())
	_, err = l.db.ExecContext(ctx, l.d.rebind(`INSERT INTO sweep_marks (name, at) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET at = CASE WHEN sweep_marks.at > excluded.at THEN sweep_marks.at ELSE excluded.at END`), name, mark)
	return n, err
}

// AnnounceExpiredMemberships writes an event for each paid membership whose
// period ran out since the last sweep without a renewal (and not by an
// admin's lapse, which has its own event), and returns how many it wrote.
func (l *Ledger) AnnounceExpiredMemberships(ctx context.Context) (int, error) {
	if !l.program.Membership.Paid || !l.takesAny(accrualapi.EventMembershipExpired) {
		return 0, nil
	}
	return l.markedSweep(ctx, markMemberships, func(from, to int64) (int, error) {
		rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT id, paid_until FROM members WHERE paid_until > $1 AND paid_until <= $2
			ORDER BY paid_until, id`), from, to)
		if err != nil {
			return 0, err
		}
		type ended struct {
			member string
			until  int64
		}
		var due []ended
		for rows.Next() {
			var e ended
			if err := rows.Scan(&e.member, &e.until); err != nil {
				_ = rows.Close()
				return 0, err
			}
			due = append(due, e)
		}
		if err := closeRows(rows); err != nil {
			return 0, err
		}
		return announceEach(ctx, l, due, func(e ended) string { return e.member }, func(t tx, e ended) (*outboxEvent, error) {
			var until, lapsed int64
			if err := t.queryRow(ctx, `SELECT paid_until FROM members WHERE id = $1`, e.member).Scan(&until); err != nil {
				return nil, err
			}
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM entries WHERE member_id = $1 AND kind = $2 AND created_at = $3`,
				e.member, KindMembershipEnd, e.until).Scan(&lapsed); err != nil {
				return nil, err
			}
			if until != e.until || lapsed > 0 {
				return nil, nil // renewed since, or ended by a lapse
			}
			ev, err := dataEvent(fmt.Sprintf("member-%s-membership-expired-%d", e.member, e.until), accrualapi.EventMembershipExpired,
				e.member, accrualapi.AudienceEveryone, fromMicros(e.until), accrualapi.MembershipExpired{Member: e.member, PaidUntil: fromMicros(e.until)})
			return &ev, err
		})
	})
}

// ConfirmCommissions writes an event for each commission whose holding period
// ended since the last sweep with something left of it (a cancel inside the
// period takes back part or all of it), and returns how many it wrote. The
// event carries the accrual with what was confirmed as its micros.
func (l *Ledger) ConfirmCommissions(ctx context.Context) (int, error) {
	if !l.takesAny(accrualapi.EventCommissionConfirmed) {
		return 0, nil
	}
	return l.markedSweep(ctx, markCommissions, func(from, to int64) (int, error) {
		rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT c.id, c.referral_id, c.referrer, c.referee, c.micros, c.confirms_at, c.earn_id, e.member_id
			FROM commissions c JOIN entries e ON e.id = c.earn_id WHERE c.kind = $1 AND c.confirms_at > $2 AND c.confirms_at <= $3
			ORDER BY c.confirms_at, c.id`), CommissionAccrual, from, to)
		if err != nil {
			return 0, err
		}
		type due struct {
			c      accrualapi.Commission
			member string
		}
		var dues []due
		for rows.Next() {
			var d due
			var at int64
			if err := rows.Scan(&d.c.ID, &d.c.Referral, &d.c.Referrer, &d.c.Referee, &d.c.Micros, &at, &d.c.EarnID, &d.member); err != nil {
				_ = rows.Close()
				return 0, err
			}
			d.c.Kind, d.c.DueAt = CommissionAccrual, fromMicros(at)
			dues = append(dues, d)
		}
		if err := closeRows(rows); err != nil {
			return 0, err
		}
		return announceEach(ctx, l, dues, func(d due) string { return d.member }, func(t tx, d due) (*outboxEvent, error) {
			var cancelled int64
			if err := t.queryRow(ctx, `SELECT COALESCE(SUM(micros), 0) FROM commissions WHERE earn_id = $1 AND kind = $2`,
				d.c.EarnID, CommissionCancel).Scan(&cancelled); err != nil {
				return nil, err
			}
			c := d.c
			c.Micros += cancelled // cancels are negative
			if c.Micros <= 0 {
				return nil, nil
			}
			ev, err := dataEvent(fmt.Sprintf("commission-%d-confirmed", c.ID), accrualapi.EventCommissionConfirmed, d.member,
				accrualapi.Audience(c.Referrer, c.Referee), c.DueAt, accrualapi.CommissionEvent{Commission: c})
			return &ev, err
		})
	})
}

// announceEach writes the event of each item that came due, in a transaction
// of its own with the item's member locked (so that it takes its place in her
// order); event decides under the lock what to write, nil for nothing. It
// returns the events written.
func announceEach[T any](ctx context.Context, l *Ledger, items []T, member func(T) string, event func(t tx, item T) (*outboxEvent, error)) (int, error) {
	written := 0
	for _, item := range items {
		n := 0 // set by the attempt that commits
		err := l.inTx(ctx, func(t tx) error {
			n = 0
			if err := lockMember(ctx, t, member(item)); err != nil {
				return err
			}
			ev, err := event(t, item)
			if err != nil || ev == nil {
				return err
			}
			n, err = insertEvents(ctx, t, l.sinks, []outboxEvent{*ev})
			return err
		})
		if err != nil {
			return written, fmt.Errorf("announcing a time-driven event of %q: %w", member(item), err)
		}
		written += n
	}
	return written, nil
}

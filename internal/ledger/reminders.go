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
	"fmt"
	"slices"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/period"
)

// Expiry reminders (issue 18): before a lot expires, at offsets the program
// declares (say P30D and P7D), its member's sinks hear that its points will
// expire. Each reminder is sent once per lot, offset and expiry date, however
// often the sweep runs and on however many replicas: expiry_reminders records
// it, in the transaction of its event.

type reminderLot struct {
	id, points          int64
	member, partner     string
	earnedAt, expiresAt int64
}

// RemindExpiring writes the expiry reminders due at the ledger's now: for every
// lot that holds points and expires within an offset's reach, one event, with
// the nearest offset whose window has opened (a lot found inside the P7D window
// is not also reminded of P30D; both count as sent). It returns the reminders
// written.
func (l *Ledger) RemindExpiring(ctx context.Context, offsets []period.Period) (int, error) {
	if len(l.sinks) == 0 || len(offsets) == 0 {
		return 0, nil
	}
	now := l.clock.Now()
	local := now.In(l.program.Location)
	offsets = slices.Clone(offsets)
	slices.SortFunc(offsets, func(a, b period.Period) int { return a.AddTo(local).Compare(b.AddTo(local)) })
	horizon := offsets[len(offsets)-1].AddTo(local)
	lots, err := l.lotsExpiringBy(ctx, now, horizon)
	if err != nil || len(lots) == 0 {
		return 0, err
	}
	sent, err := l.remindersSent(ctx, lots)
	if err != nil {
		return 0, err
	}
	written := 0
	for _, lt := range lots {
		expires := fromMicros(lt.expiresAt)
		var open []period.Period
		for _, o := range offsets {
			if !o.SubtractFrom(expires.In(l.program.Location)).After(now) {
				open = append(open, o)
			}
		}
		if len(open) == 0 || sent[reminderKey{lt.id, open[0].String(), lt.expiresAt}] {
			continue
		}
		ok, err := l.remind(ctx, lt, open)
		if err != nil {
			return written, fmt.Errorf("reminding of lot %d of %q: %w", lt.id, lt.member, err)
		}
		if ok {
			written++
		}
	}
	return written, nil
}

type reminderKey struct {
	lot       int64
	before    string
	expiresAt int64
}

// lotsExpiringBy reads the lots holding points that expire after now and by
// horizon.
func (l *Ledger) lotsExpiringBy(ctx context.Context, now, horizon time.Time) ([]reminderLot, error) {
	rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT id, member_id, partner_id, remaining, earned_at, expires_at FROM lots
		WHERE remaining > 0 AND expires_at > $1 AND expires_at <= $2 ORDER BY member_id, id`), micros(now), micros(horizon))
	if err != nil {
		return nil, err
	}
	var out []reminderLot
	for rows.Next() {
		var lt reminderLot
		if err := rows.Scan(&lt.id, &lt.member, &lt.partner, &lt.points, &lt.earnedAt, &lt.expiresAt); err != nil {
			_ = rows.Close()
			return nil, err
		}
		out = append(out, lt)
	}
	return out, closeRows(rows)
}

// remindersSent reads the reminders recorded for lots.
func (l *Ledger) remindersSent(ctx context.Context, lots []reminderLot) (map[reminderKey]bool, error) {
	sent := map[reminderKey]bool{}
	ids := make([]any, 0, len(lots))
	for _, lt := range lots {
		ids = append(ids, lt.id)
	}
	for chunk := range shapedChunks(ids) {
		q := newQuery(l.d)
		rows, err := l.db.QueryContext(ctx, `SELECT lot_id, before, expires_at FROM expiry_reminders WHERE lot_id IN (`+q.list(chunk)+`)`, q.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k reminderKey
			if err := rows.Scan(&k.lot, &k.before, &k.expiresAt); err != nil {
				_ = rows.Close()
				return nil, err
			}
			sent[k] = true
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return sent, nil
}

// remind records the open offsets of a lot as sent and, when the nearest was
// not sent yet, writes its event, with the member's row locked so that the
// event takes its place in the member's order. It says whether it wrote one.
func (l *Ledger) remind(ctx context.Context, lt reminderLot, open []period.Period) (bool, error) {
	wrote := false
	err := l.inTx(ctx, func(t tx) error {
		wrote = false
		if err := lockMember(ctx, t, lt.member); err != nil {
			return err
		}
		var remaining, expiresAt int64
		if err := t.queryRow(ctx, `SELECT remaining, expires_at FROM lots WHERE id = $1`, lt.id).Scan(&remaining, &expiresAt); err != nil {
			return err
		}
		if remaining <= 0 || expiresAt != lt.expiresAt {
			return nil // spent or moved since it was read: the next sweep sees it as it is
		}
		for i, o := range open {
			res, err := t.exec(ctx, `INSERT INTO expiry_reminders (lot_id, before, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				lt.id, o.String(), lt.expiresAt)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if i == 0 && n == 1 {
				wrote = true
			}
		}
		if !wrote {
			return nil
		}
		before := open[0].String()
		ev, err := dataEvent(fmt.Sprintf("lot-%d-expiring-%s-%d", lt.id, before, fromMicros(lt.expiresAt).Unix()), accrualapi.EventPointsExpiring,
			lt.member, accrualapi.Audience(lt.partner), l.clock.Now(), accrualapi.PointsExpiring{Member: lt.member, Partner: lt.partner, LotID: lt.id,
				Points: remaining, EarnedAt: fromMicros(lt.earnedAt), ExpiresAt: fromMicros(lt.expiresAt), Before: before})
		if err != nil {
			return err
		}
		_, err = insertEvents(ctx, t, l.sinks, []outboxEvent{ev})
		return err
	})
	return wrote, err
}

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
	"time"
)

// ReferralStats counts one referral agreement's activity.
type ReferralStats struct {
	CodesIssued          int64
	DiscountsGiven       int64
	CommissionsPending   int64
	CommissionsConfirmed int64
}

// Stats is what the operator shows on a program's status.
type Stats struct {
	Members           int64
	PointsOutstanding int64
	Referrals         map[string]ReferralStats
	At                time.Time
}

// Stats counts members, unexpired points and referral activity. A commission is
// pending until its holding period ends; one whose purchase was returned in full
// before that is counted in neither.
func (l *Ledger) Stats(ctx context.Context) (Stats, error) {
	now := micros(l.clock.Now())
	st := Stats{Referrals: map[string]ReferralStats{}, At: fromMicros(now)}
	err := l.inReadTx(ctx, func(t tx) error {
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM members`).Scan(&st.Members); err != nil {
			return err
		}
		if err := t.queryRow(ctx, `SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE remaining > 0 AND expires_at > $1`, now).
			Scan(&st.PointsOutstanding); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT referral_id, COUNT(*) FROM referral_codes GROUP BY referral_id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var n int64
			if err := rows.Scan(&id, &n); err != nil {
				_ = rows.Close()
				return err
			}
			r := st.Referrals[id]
			r.CodesIssued = n
			st.Referrals[id] = r
		}
		_ = rows.Close()
		// Per purchase: what is left of its commission after cancellations.
		rows, err = t.query(ctx, `SELECT referral_id, confirms_at, uncancelled FROM (
			SELECT referral_id, MAX(CASE WHEN kind = 'accrual' THEN confirms_at END) AS confirms_at,
				SUM(CASE WHEN kind <> 'clawback' THEN micros ELSE 0 END) AS uncancelled
			FROM commissions GROUP BY earn_id, referral_id) AS per_purchase`)
		if err != nil {
			return err
		}
		defer func() { _ = rows.Close() }()
		for rows.Next() {
			var id string
			var confirms, left int64
			if err := rows.Scan(&id, &confirms, &left); err != nil {
				return err
			}
			r := st.Referrals[id]
			r.DiscountsGiven++
			switch {
			case left <= 0:
			case confirms > now:
				r.CommissionsPending++
			default:
				r.CommissionsConfirmed++
			}
			st.Referrals[id] = r
		}
		return rows.Err()
	})
	return st, err
}

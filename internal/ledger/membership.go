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
	"time"

	"github.com/treue-dev/treue/internal/rules"
)

// PayMembershipFee records a paid fee: the membership runs one period past the
// later of now and its current end.
func (l *Ledger) PayMembershipFee(ctx context.Context, req MembershipFeeRequest) (MembershipResult, error) {
	var res MembershipResult
	if !l.program.Membership.Paid {
		return res, fmt.Errorf("%w: membership in this program is free", ErrInvalid)
	}
	if req.Amount != l.program.Membership.Fee {
		return res, fmt.Errorf("%w: the fee is %s %s, not %s", ErrInvalid,
			l.program.Currency.Format(l.program.Membership.Fee), l.program.Currency.Code, l.program.Currency.Format(req.Amount))
	}
	err := write(ctx, l, KindMembershipFee, req.Member, req.Meta, req, &res, &res.Replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		var paid int64
		if err := t.queryRow(ctx, `SELECT paid_until FROM members WHERE id = $1`, req.Member).Scan(&paid); err != nil {
			return nil, err
		}
		from := now
		if paid > 0 && fromMicros(paid).After(now) {
			from = fromMicros(paid)
		}
		res.PaidUntil = l.program.Membership.Period.AddTo(from.In(l.program.Location)).UTC()
		if _, err := t.exec(ctx, `UPDATE members SET paid_until = $1 WHERE id = $2`, micros(res.PaidUntil), req.Member); err != nil {
			return nil, err
		}
		return &newEntry{member: req.Member, createdAt: now, amount: req.Amount, setID: func(id int64) { res.EntryID = id }}, nil
	})
	return res, err
}

// LapseMembership ends a paid membership now (a refunded or failed fee).
func (l *Ledger) LapseMembership(ctx context.Context, req MembershipFeeRequest) (MembershipResult, error) {
	var res MembershipResult
	err := write(ctx, l, KindMembershipEnd, req.Member, req.Meta, req, &res, &res.Replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		res.PaidUntil = now
		if _, err := t.exec(ctx, `UPDATE members SET paid_until = $1 WHERE id = $2 AND paid_until > $1`, micros(now), req.Member); err != nil {
			return nil, err
		}
		return &newEntry{member: req.Member, createdAt: now, setID: func(id int64) { res.EntryID = id }}, nil
	})
	return res, err
}

// GrantBirthdayBonuses credits the birthday bonus to every member whose birthday
// of this calendar year (in the program's zone) has come and who has not had it
// this year. Each grant is idempotent under the key birthday:<member>:<year>, so a
// sweep that runs twice, or on two replicas, grants once. It returns the grants.
func (l *Ledger) GrantBirthdayBonuses(ctx context.Context) (int, error) {
	if l.program.BirthdayBonus <= 0 {
		return 0, nil
	}
	now := l.clock.Now()
	rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT id, birthday_month, birthday_day, birthday_granted_year FROM members
		WHERE birthday_month > 0 AND birthday_granted_year < $1`), now.In(l.program.Location).Year())
	if err != nil {
		return 0, err
	}
	type due struct {
		member string
		year   int
	}
	var dues []due
	for rows.Next() {
		var member string
		var month, day, granted int
		if err := rows.Scan(&member, &month, &day, &granted); err != nil {
			_ = rows.Close()
			return 0, err
		}
		if year, ok := l.program.BirthdayBonusDue(rules.Birthday{Month: time.Month(month), Day: day}, granted, now); ok {
			dues = append(dues, due{member, year})
		}
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	granted := 0
	for _, d := range dues {
		var res struct {
			EntryID int64 `json:"entryId"`
		}
		var replayed bool
		bonus := l.program.BirthdayBonus
		meta := Meta{Actor: System, Key: fmt.Sprintf("birthday:%s:%d", d.member, d.year)}
		err := write(ctx, l, KindBirthdayBonus, d.member, meta, d.year, &res, &replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
			if err := lockMember(ctx, t, d.member); err != nil {
				return nil, err
			}
			if _, err := t.exec(ctx, `UPDATE members SET birthday_granted_year = $1 WHERE id = $2`, d.year, d.member); err != nil {
				return nil, err
			}
			return &newEntry{
				member: d.member, createdAt: now, points: bonus,
				postings: []posting{{memberAccount(d.member), bonus}, {accountProgram, -bonus}},
				after: func(ctx context.Context, t tx, id int64) error {
					return l.credit(ctx, t, id, d.member, "", bonus, now, l.bonusTerms(now))
				},
				setID: func(id int64) { res.EntryID = id },
			}, nil
		})
		if err != nil {
			return granted, fmt.Errorf("granting the %d birthday bonus of %q: %w", d.year, d.member, err)
		}
		if !replayed {
			granted++
		}
	}
	return granted, nil
}

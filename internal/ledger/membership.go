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
	"github.com/treue-dev/treue/internal/rules"
)

// PayMembershipFee records a fee a member paid at a partner's till: the
// membership runs one period past the later of now and its current end, and the
// partner owes the fee to the network (settlement's membershipFees line).
func (l *Ledger) PayMembershipFee(ctx context.Context, req MembershipFeeRequest) (MembershipResult, error) {
	var res MembershipResult
	if !l.program.Membership.Paid {
		return res, fmt.Errorf("%w: membership in this program is free", ErrInvalid)
	}
	if req.Partner == "" {
		return res, fmt.Errorf("%w: a fee is paid at a partner's till", ErrInvalid)
	}
	if req.Amount != l.program.Membership.Fee {
		return res, fmt.Errorf("%w: the fee is %s %s, not %s", ErrInvalid,
			l.program.Currency.Format(l.program.Membership.Fee), l.program.Currency.Code, l.program.Currency.Format(req.Amount))
	}
	pay := func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
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
		return &newEntry{member: req.Member, partner: req.Partner, createdAt: now, amount: req.Amount,
			event: accrualapi.EventMembershipPaid, audience: accrualapi.Audience(req.Partner),
			setID: func(id int64) { res.EntryID = id }}, nil
	}
	err := write(ctx, l, KindMembershipFee, req.Member, req.Meta, req.record(), &res, &res.Replayed, pay)
	return res, err
}

// LapseMembership ends a paid membership now (a cancelled or failed fee). With
// Refund, the latest fee, if it paid for the current period and was not refunded
// yet, is refunded: the lapse entry carries it negated, against the partner that
// sold it, which then owes the network that much less.
func (l *Ledger) LapseMembership(ctx context.Context, req LapseRequest) (MembershipResult, error) {
	var res MembershipResult
	lapse := func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		e := &newEntry{member: req.Member, createdAt: now, setID: func(id int64) { res.EntryID = id },
			event: accrualapi.EventMembershipLapsed, audience: accrualapi.AudienceEveryone}
		if req.Refund {
			var paid int64
			if err := t.queryRow(ctx, `SELECT paid_until FROM members WHERE id = $1`, req.Member).Scan(&paid); err != nil {
				return nil, err
			}
			var feeID, fee int64
			var seller string
			err := t.queryRow(ctx, `SELECT id, partner_id, amount FROM entries WHERE member_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1`,
				req.Member, KindMembershipFee).Scan(&feeID, &seller, &fee)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && paid <= micros(now)) {
				return nil, fmt.Errorf("%w: %q has no current membership to refund", ErrInvalid, req.Member)
			}
			if err != nil {
				return nil, err
			}
			var refunded int64
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM entries WHERE related_id = $1 AND kind = $2`, feeID, KindMembershipEnd).Scan(&refunded); err != nil {
				return nil, err
			}
			if refunded > 0 {
				return nil, fmt.Errorf("%w: the fee of entry %d was refunded already", ErrInvalid, feeID)
			}
			e.partner, e.amount, e.relatedID, res.Refunded = seller, -fee, feeID, fee
		}
		res.PaidUntil = now
		if _, err := t.exec(ctx, `UPDATE members SET paid_until = $1 WHERE id = $2 AND paid_until > $1`, micros(now), req.Member); err != nil {
			return nil, err
		}
		return e, nil
	}
	err := write(ctx, l, KindMembershipEnd, req.Member, req.Meta, req.record(), &res, &res.Replayed, lapse)
	return res, err
}

// PaidUntil reads when a member's paid membership ends (or ended); zero if she
// never paid.
func (l *Ledger) PaidUntil(ctx context.Context, member string) (time.Time, error) {
	var paid int64
	err := l.rdb.QueryRowContext(ctx, l.d.rebind(`SELECT paid_until FROM members WHERE id = $1`), member).Scan(&paid)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("%w %q", ErrUnknownMember, member)
	}
	if err != nil || paid == 0 {
		return time.Time{}, err
	}
	return fromMicros(paid), nil
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
		var res accrualapi.BonusResult
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
				event:    accrualapi.EventBirthdayBonusGranted, audience: accrualapi.AudienceEveryone,
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

// Now is the ledger's time: what membership and expiry are judged against.
func (l *Ledger) Now() time.Time { return l.clock.Now() }

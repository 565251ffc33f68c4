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
	"math/bits"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// System is the actor of writes the ledger makes by itself (expiry, bonuses).
const System = "system"

// Enroll adds a member. Enrolling an existing member again with the same details
// changes nothing and says Created=false; with other details it is refused. A new
// member gets the program's signup bonus once.
func (l *Ledger) Enroll(ctx context.Context, req EnrollRequest) (EnrollResult, error) {
	var res EnrollResult
	if req.Member == "" || len(req.Member) > 200 {
		return res, fmt.Errorf("%w: the member id must be 1 to 200 characters", ErrInvalid)
	}
	var month, day int
	if b := req.Birthday; b != nil {
		if b.Month < time.January || b.Month > time.December || b.Day < 1 || b.Day > 31 {
			return res, fmt.Errorf("%w: birthday %d-%d is not a day of the year", ErrInvalid, b.Month, b.Day)
		}
		month, day = int(b.Month), b.Day
	}
	rec := req.record()
	err := write(ctx, l, KindSignupBonus, req.Member, req.Meta, rec, &res, &res.Replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		var m, d int
		err := t.queryRow(ctx, `SELECT birthday_month, birthday_day FROM members WHERE id = $1`, req.Member).Scan(&m, &d)
		switch {
		case err == nil && (m != month || d != day):
			return nil, fmt.Errorf("%w: %q was enrolled with another birthday", ErrMemberExists, req.Member)
		case err == nil:
			res.Created = false
		case errors.Is(err, sql.ErrNoRows):
			// A new member's tier is the one no activity gives (a level whose
			// threshold is 0), so that her first review announces only a change.
			level := l.program.TierAt(now, nil, rules.MembershipState{}).Level
			if _, err := t.exec(ctx, `INSERT INTO members (id, enrolled_at, birthday_month, birthday_day, tier_level) VALUES ($1, $2, $3, $4, $5)`,
				req.Member, micros(now), month, day, level); err != nil {
				return nil, err
			}
			res.Created = true
		default:
			return nil, err
		}
		e := &newEntry{member: req.Member, createdAt: now, setID: func(id int64) { res.EntryID = id }}
		if res.Created {
			e.event, e.audience = accrualapi.EventMemberEnrolled, accrualapi.AudienceEveryone
		}
		if res.Created && l.program.SignupBonus > 0 {
			bonus := l.program.SignupBonus
			res.SignupBonus = bonus
			e.points = bonus
			e.postings = []posting{{memberAccount(req.Member), bonus}, {accountProgram, -bonus}}
			e.after = func(ctx context.Context, t tx, id int64) error {
				return l.credit(ctx, t, id, req.Member, "", bonus, now, l.bonusTerms(now))
			}
		}
		return e, nil
	})
	return res, err
}

// Earn credits the points of a purchase at a partner, applying a referral code if
// one is given: the member pays the discounted amount, earns on that, and the
// referrer accrues its commission.
func (l *Ledger) Earn(ctx context.Context, req EarnRequest) (EarnResult, error) {
	var res EarnResult
	if req.Partner == "" {
		return res, fmt.Errorf("%w: an earning needs the partner", ErrInvalid)
	}
	if req.Currency != l.program.Currency.Code {
		return res, fmt.Errorf("%w: the program counts in %s, the purchase is in %q", ErrWrongCurrency, l.program.Currency.Code, req.Currency)
	}
	if err := checkAmount("amount", req.Amount); err != nil {
		return res, err
	}
	var fast *fastWrite
	if l.fastEarn(req) {
		fast = &fastWrite{earn: &req}
	}
	rec := req.record()
	err := writeWith(ctx, l, KindEarn, req.Member, req.Meta, rec, &res, &res.Replayed, fast, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		var snap earnSnapshot
		if req.ReferralCode != "" {
			var err error
			if snap.referral, err = l.prepareReferral(ctx, t, req, now); err != nil {
				return nil, err
			}
		}
		ref := snap.referral
		var err error
		if snap.activity, snap.membership, err = l.tierInputs(ctx, t, req.Member); err != nil {
			return nil, err
		}
		if l.program.MaxPerMemberPerDay > 0 {
			if err := t.queryRow(ctx, `SELECT COALESCE(SUM(points), 0) FROM entries WHERE member_id = $1 AND kind = $2 AND created_at >= $3`,
				req.Member, KindEarn, micros(l.program.DayStart(now))).Scan(&snap.earnedToday); err != nil {
				return nil, err
			}
		}
		d, err := l.decideEarn(req, snap, now)
		if err != nil {
			return nil, err
		}
		res = d.result
		if _, err := t.exec(ctx, `UPDATE members SET last_earned_at = $1 WHERE id = $2`, micros(now), req.Member); err != nil {
			return nil, err
		}
		e := &newEntry{
			member: req.Member, partner: req.Partner, createdAt: now,
			points: d.points, amount: res.AmountDue, discount: d.tierDiscount, postings: d.postings,
			event: accrualapi.EventPointsEarned, audience: accrualapi.Audience(req.Partner),
			setID: func(id int64) { res.EntryID = id }, review: d.tierRises,
		}
		e.after = func(ctx context.Context, t tx, id int64) error {
			if ref != nil {
				events, err := ref.record(ctx, t, id, req, now)
				if err != nil {
					return err
				}
				e.extra = append(e.extra, events...)
			}
			return l.credit(ctx, t, id, req.Member, req.Partner, d.points, now, d.terms)
		}
		return e, nil
	})
	return res, err
}

// earnResult is what an earning answers, but for its entry id and commission.
func (l *Ledger) earnResult(req EarnRequest, purchase rules.Purchase, earned rules.Earned, terms rules.LotTerms, now time.Time) EarnResult {
	res := EarnResult{EarnResult: accrualapi.EarnResult{
		Points: earned.Points, Capped: earned.Capped,
		Discount: purchase.Discount, AmountDue: req.Amount - purchase.Discount,
		PendingUntil: terms.PendingUntil, ExpiresAt: terms.ExpiresAt,
	}}
	if terms.ExpiresOnInactivity {
		at, _ := l.program.InactivityExpiry(now)
		res.ExpiresAt = &at
	}
	return res
}

// Redeem spends a member's available points at a partner, soonest-expiring lots
// first, and returns their money value.
func (l *Ledger) Redeem(ctx context.Context, req RedeemRequest) (RedeemResult, error) {
	var res RedeemResult
	if req.Partner == "" {
		return res, fmt.Errorf("%w: a redemption needs the partner", ErrInvalid)
	}
	if err := checkPoints(req.Points); err != nil {
		return res, err
	}
	if req.Points < l.program.MinimumRedemption {
		return res, fmt.Errorf("%w: %d points, the minimum is %d", ErrBelowMinimum, req.Points, l.program.MinimumRedemption)
	}
	value, err := l.program.RedemptionValueMinor(req.Points)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var fast *fastWrite
	if l.fastRedeem() {
		fast = &fastWrite{redeem: &req, value: value}
	}
	rec := req.record()
	err = writeWith(ctx, l, KindRedeem, req.Member, req.Meta, rec, &res, &res.Replayed, fast, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		lots, owed, err := l.spendable(ctx, t, req.Member, req.Points, now)
		if err != nil {
			return nil, err
		}
		holds := make([]int64, len(lots))
		for i, lt := range lots {
			holds[i] = lt.remaining
		}
		d, err := decideRedeem(req, value, holds, owed)
		if err != nil {
			return nil, err
		}
		res = d.result
		return &newEntry{
			member: req.Member, partner: req.Partner, createdAt: now,
			points: -req.Points, amount: value, postings: d.postings,
			event: accrualapi.EventPointsRedeemed, audience: accrualapi.Audience(req.Partner),
			after: func(ctx context.Context, t tx, id int64) error {
				for i, lt := range lots {
					if err := take(ctx, t, id, lt.id, d.takes[i]); err != nil {
						return err
					}
				}
				return nil
			},
			setID: func(id int64) { res.EntryID = id },
		}, nil
	})
	return res, err
}

// Reverse returns all or part of a purchase. The points the purchase earned are
// taken back in proportion to the amount returned (all of them once everything is
// returned), in the program's clawback order; what the member no longer has is
// owed (Allow) or written off (Forbid). A referral commission is cancelled inside
// its holding period and clawed back after it.
func (l *Ledger) Reverse(ctx context.Context, req ReverseRequest) (ReverseResult, error) {
	var res ReverseResult
	if req.Amount <= 0 {
		return res, fmt.Errorf("%w: the amount returned must be more than zero minor units", ErrInvalid)
	}
	if err := checkAmount("amount", req.Amount); err != nil {
		return res, err
	}
	err := write(ctx, l, KindReverse, "", req.Meta, req.record(), &res, &res.Replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		var member, partner, kind string
		var earnedPoints, paid int64
		err := t.queryRow(ctx, `SELECT member_id, partner_id, kind, points, amount FROM entries WHERE id = $1`, req.EarnID).
			Scan(&member, &partner, &kind, &earnedPoints, &paid)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && kind != KindEarn) {
			return nil, fmt.Errorf("%w: no earning %d", ErrUnknownEntry, req.EarnID)
		}
		if err != nil {
			return nil, err
		}
		if partner != req.Partner {
			return nil, fmt.Errorf("%w: earning %d was made at another partner", ErrWrongPartner, req.EarnID)
		}
		if err := lockMember(ctx, t, member); err != nil {
			return nil, err
		}
		var returned int64
		err = t.queryRow(ctx, `SELECT COALESCE(SUM(amount), 0) FROM entries WHERE related_id = $1 AND kind = $2`, req.EarnID, KindReverse).
			Scan(&returned)
		if err != nil {
			return nil, err
		}
		// Compared as what is left to return, never as a sum: returned+req.Amount
		// can overflow int64, and a wrapped sum once let any return through.
		if req.Amount > paid-returned {
			return nil, fmt.Errorf("%w: earning %d paid %d, %d returned already, %d more asked", ErrReturnExceedsEarn, req.EarnID, paid, returned, req.Amount)
		}
		// Cumulative, so that the parts of a purchase returned piece by piece add up
		// to exactly the points it earned.
		points := clawback(earnedPoints, paid, returned+req.Amount) - clawback(earnedPoints, paid, returned)
		lots, err := memberLots(ctx, t, member)
		if err != nil {
			return nil, err
		}
		order := l.clawbackOrder(lots, req.EarnID, now)
		var have int64
		for _, lt := range order {
			have += lt.remaining
		}
		res.Points = points
		res.ClawedBack = min(points, have)
		res.Shortfall = points - res.ClawedBack
		postings := []posting{{issuanceAccount(partner), points}, {memberAccount(member), -res.ClawedBack}}
		if res.Shortfall > 0 {
			if l.program.AllowNegativeBalance {
				postings[1].points -= res.Shortfall
				res.Owed = res.Shortfall
			} else {
				postings = append(postings, posting{accountWriteOff, -res.Shortfall})
				res.WrittenOff = res.Shortfall
			}
		}
		memberChange := -res.ClawedBack
		if l.program.AllowNegativeBalance {
			memberChange = -points
		}
		e := &newEntry{
			member: member, partner: partner, createdAt: now, relatedID: req.EarnID,
			points: memberChange, amount: req.Amount, postings: postings,
			event: accrualapi.EventPointsReturned, audience: accrualapi.Audience(partner),
			setID: func(id int64) { res.EntryID = id },
		}
		e.after = func(ctx context.Context, t tx, id int64) error {
			if err := spend(ctx, t, id, order, res.ClawedBack); err != nil {
				return err
			}
			if res.Shortfall > 0 && l.program.AllowNegativeBalance {
				if err := debt(ctx, t, id, member, res.Shortfall, now); err != nil {
					return err
				}
			}
			var events []outboxEvent
			var err error
			res.CommissionMicros, events, err = reverseCommission(ctx, t, id, req.EarnID, paid, returned, req.Amount, now)
			e.extra = append(e.extra, events...)
			return err
		}
		return e, nil
	})
	return res, err
}

// clawback is the part of points that returning returned of paid takes back.
func clawback(points, paid, returned int64) int64 {
	if paid <= 0 {
		return points
	}
	return mulDiv(points, returned, paid)
}

// clawbackOrder lists the lots a return takes points from: under PendingFirst the
// purchase's own lot, other pending lots, then available lots; under
// AvailableFirst the other way round. Expired lots are gone.
func (l *Ledger) clawbackOrder(lots []lot, earnID int64, now time.Time) []lot {
	var own, pending, avail []lot
	for _, lt := range lots {
		switch {
		case lt.remaining <= 0 || lt.expired(now):
		case lt.entryID == earnID && lt.pending(now):
			own = append(own, lt)
		case lt.pending(now):
			pending = append(pending, lt)
		default:
			avail = append(avail, lt)
		}
	}
	if l.program.ClawbackOrder == rules.ClawbackAvailableFirst {
		return append(append(avail, own...), pending...)
	}
	return append(append(own, pending...), avail...)
}

// Adjust corrects a member's points by hand. A credit is available at once; a
// debit takes available points and cannot take more than there are.
func (l *Ledger) Adjust(ctx context.Context, req AdjustRequest) (AdjustResult, error) {
	var res AdjustResult
	if req.Points == 0 || req.Reason == "" {
		return res, fmt.Errorf("%w: an adjustment needs points other than zero and a reason", ErrInvalid)
	}
	if err := checkPoints(req.Points); err != nil {
		return res, err
	}
	err := write(ctx, l, KindAdjust, req.Member, req.Meta, req.record(), &res, &res.Replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		res.Points = req.Points
		e := &newEntry{
			member: req.Member, createdAt: now, points: req.Points, reason: req.Reason,
			postings: []posting{{memberAccount(req.Member), req.Points}, {accountProgram, -req.Points}},
			event:    accrualapi.EventPointsAdjusted, // the program's sinks only: no partner made it
			setID:    func(id int64) { res.EntryID = id },
		}
		if req.Points > 0 {
			terms := l.bonusTerms(now)
			e.after = func(ctx context.Context, t tx, id int64) error {
				return l.credit(ctx, t, id, req.Member, "", req.Points, now, terms)
			}
			return e, nil
		}
		lots, owed, err := l.spendable(ctx, t, req.Member, -req.Points, now)
		if err != nil {
			return nil, err
		}
		if !covers(lots, owed, -req.Points) {
			return nil, fmt.Errorf("%w: %q has fewer than the %d points the adjustment takes", ErrInsufficientPoints, req.Member, -req.Points)
		}
		e.after = func(ctx context.Context, t tx, id int64) error {
			return spend(ctx, t, id, lots, -req.Points)
		}
		return e, nil
	})
	return res, err
}

// ExpireResult counts what Expire materialised.
type ExpireResult struct {
	Lots   int   `json:"lots"`
	Points int64 `json:"points"`
}

// Expire writes an expiry entry for every lot that expired by upTo and still held
// points. Expired points are already unavailable at their timestamp; this records
// them as breakage. Running it again finds nothing new.
func (l *Ledger) Expire(ctx context.Context, upTo time.Time) (ExpireResult, error) {
	var out ExpireResult
	rows, err := l.db.QueryContext(ctx, l.d.rebind(`SELECT id, member_id FROM lots WHERE expires_at <= $1 AND remaining > 0 ORDER BY id`), micros(upTo))
	if err != nil {
		return out, err
	}
	type expired struct {
		lot    int64
		member string
	}
	var due []expired
	for rows.Next() {
		var e expired
		if err := rows.Scan(&e.lot, &e.member); err != nil {
			_ = rows.Close()
			return out, err
		}
		due = append(due, e)
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return out, err
	}
	for _, e := range due {
		var res accrualapi.ExpiryResult
		var replayed bool
		meta := Meta{Actor: System, Key: fmt.Sprintf("expire:lot:%d", e.lot)}
		err := write(ctx, l, KindExpire, e.member, meta, e.lot, &res, &replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
			if err := lockMember(ctx, t, e.member); err != nil {
				return nil, err
			}
			var remaining int64
			var issuer string
			if err := t.queryRow(ctx, `SELECT remaining, partner_id FROM lots WHERE id = $1`, e.lot).Scan(&remaining, &issuer); err != nil {
				return nil, err
			}
			res.Points = remaining
			return &newEntry{
				member: e.member, createdAt: now, points: -remaining,
				// The partner that issued the lot hears of its expiry; a bonus
				// lot's only the program's sinks.
				event: accrualapi.EventPointsExpired, audience: accrualapi.Audience(issuer),
				postings: []posting{{memberAccount(e.member), -remaining}, {accountBreakage, remaining}},
				after: func(ctx context.Context, t tx, id int64) error {
					return take(ctx, t, id, e.lot, remaining)
				},
				setID: func(id int64) { res.EntryID = id },
			}, nil
		})
		if err != nil {
			return out, fmt.Errorf("expiring lot %d of %q: %w", e.lot, e.member, err)
		}
		if !replayed && res.Points > 0 {
			out.Lots++
			out.Points += res.Points
		}
	}
	return out, nil
}

// mulDiv is a×b/c rounded towards zero, for 0 <= b <= c and a >= 0, without
// overflow: the 128-bit product divided by c fits, as b/c <= 1.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(q)
}

// bonusTerms are the dates of points no purchase stands behind (bonuses, manual
// credits): they cannot be returned, so they are available at once, and expire
// like any other lot.
func (l *Ledger) bonusTerms(now time.Time) rules.LotTerms {
	terms := l.program.LotTermsAt(now)
	terms.PendingUntil = now
	return terms
}

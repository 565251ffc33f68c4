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
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// ErrReferralRefused wraps the rule a referral code broke (rules.ErrSelfReferral, ...).
var ErrReferralRefused = errors.New("referral code refused")

// Commission kinds. An accrual is confirmed at its confirms_at; a cancel carries
// the accrual's confirms_at, so that both fall into the same settlement period and
// net out; a clawback is due when it is written.
const (
	CommissionAccrual  = "accrual"
	CommissionCancel   = "cancel"
	CommissionClawback = "clawback"
)

// KindReferralCode is the entry that records a code's issue; it moves no points.
const KindReferralCode = "referral_code"

// IssueCodeRequest issues a referral code to a referrer's customer.
type IssueCodeRequest struct {
	Meta
	Referral string
	Member   string
}

func (r IssueCodeRequest) record() accrualapi.IssueCodeRecord {
	return accrualapi.IssueCodeRecord{Referral: r.Referral, Member: r.Member}
}

// ReferralCode is an issued code.
type ReferralCode struct {
	accrualapi.ReferralCode
	Replayed bool `json:"-"`
}

var codeAlphabet = base32.NewEncoding("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").WithPadding(base32.NoPadding)

// IssueCode gives a member a new code for a referral agreement.
func (l *Ledger) IssueCode(ctx context.Context, req IssueCodeRequest) (ReferralCode, error) {
	var res ReferralCode
	ref, ok := l.referrals[req.Referral]
	if !ok {
		return res, fmt.Errorf("%w: no referral agreement %q in this program", ErrInvalid, req.Referral)
	}
	rec := req.record()
	err := write(ctx, l, KindReferralCode, req.Member, req.Meta, rec, &res, &res.Replayed, func(ctx context.Context, t tx, now time.Time) (*newEntry, error) {
		if err := lockMember(ctx, t, req.Member); err != nil {
			return nil, err
		}
		random := make([]byte, 5)
		if _, err := rand.Read(random); err != nil {
			return nil, err
		}
		prefix := ref.CodePrefix
		if prefix == "" {
			prefix = "REF"
		}
		code := prefix + "-" + codeAlphabet.EncodeToString(random)
		res = ReferralCode{ReferralCode: accrualapi.ReferralCode{Code: code, Referral: req.Referral, Owner: req.Member, IssuedAt: now}}
		return &newEntry{
			member: req.Member, partner: ref.Referrer, createdAt: now, reason: res.Code,
			event: accrualapi.EventReferralCodeIssued, audience: accrualapi.Audience(ref.Referrer),
			after: func(ctx context.Context, t tx, _ int64) error {
				_, err := t.exec(ctx, `INSERT INTO referral_codes (code, referral_id, owner_member, issued_at) VALUES ($1, $2, $3, $4)`,
					res.Code, req.Referral, req.Member, micros(now))
				return err
			},
		}, nil
	})
	return res, err
}

// LookupCode reads a code and how often it was used.
func (l *Ledger) LookupCode(ctx context.Context, code string) (ReferralCode, error) {
	res := ReferralCode{ReferralCode: accrualapi.ReferralCode{Code: strings.ToUpper(code)}}
	var issued int64
	err := l.db.QueryRowContext(ctx, l.d.rebind(`SELECT referral_id, owner_member, issued_at,
		(SELECT COUNT(*) FROM commissions WHERE code = $1 AND kind = 'accrual') FROM referral_codes WHERE code = $1`), res.Code).
		Scan(&res.Referral, &res.Owner, &issued, &res.Uses)
	if errors.Is(err, sql.ErrNoRows) {
		return res, fmt.Errorf("%w %q", ErrUnknownCode, code)
	}
	res.IssuedAt = fromMicros(issued)
	return res, err
}

// referralUse is a code applied to a purchase: what the rules need to decide it
// (use), and once decided (decideEarn) its outcome, waiting for the entry's id.
type referralUse struct {
	code    string
	ref     *rules.Referral
	use     rules.ReferralUse
	outcome rules.ReferralOutcome
}

// apply decides the code on a purchase already discounted by before (the tier
// discount).
func (u *referralUse) apply(before int64) error {
	use := u.use
	use.DiscountedBefore = before
	out, err := u.ref.Apply(use)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrReferralRefused, err)
	}
	u.outcome = out
	return nil
}

// prepareReferral reads what deciding a code on a purchase needs, with the
// code's row locked (its use limit is shared by every member who uses it).
func (l *Ledger) prepareReferral(ctx context.Context, t tx, req EarnRequest, now time.Time) (*referralUse, error) {
	code := strings.ToUpper(req.ReferralCode)
	// The code's row is locked before its uses are counted: the use limit is a
	// counter shared by every member who uses the code, which no member's lock
	// covers, and on PostgreSQL several transactions (and replicas) count at once.
	// Under READ COMMITTED the count that follows the lock sees every use
	// committed before it. SQLite serialises write transactions anyway.
	var refID, owner string
	err := t.queryRow(ctx, `SELECT referral_id, owner_member FROM referral_codes WHERE code = $1`+t.d.forUpdate, code).Scan(&refID, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w %q", ErrUnknownCode, req.ReferralCode)
	}
	if err != nil {
		return nil, err
	}
	ref, ok := l.referrals[refID]
	if !ok {
		return nil, fmt.Errorf("%w %q: its agreement %s ended", ErrUnknownCode, req.ReferralCode, refID)
	}
	var prior, uses int64
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM entries WHERE member_id = $1 AND partner_id = $2 AND kind = $3`,
		req.Member, req.Partner, KindEarn).Scan(&prior); err != nil {
		return nil, err
	}
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM commissions WHERE code = $1 AND kind = $2`, code, CommissionAccrual).Scan(&uses); err != nil {
		return nil, err
	}
	return &referralUse{code: code, ref: ref, use: rules.ReferralUse{
		Partner: req.Partner, Amount: req.Amount, At: now, CodeOwner: owner, Member: req.Member,
		PriorPurchases: prior, PriorUses: uses,
	}}, nil
}

// record stores the commission a code's use accrues, and returns the events
// of the use: the code used, and the commission accrued, which the referrer and
// the referee (the till's partner) both hear of.
func (u *referralUse) record(ctx context.Context, t tx, earnID int64, req EarnRequest, now time.Time) ([]outboxEvent, error) {
	c := accrualapi.Commission{Kind: CommissionAccrual, Referral: u.ref.ID, Referrer: u.ref.Referrer, Referee: u.ref.Referee,
		Micros: u.outcome.CommissionMicros, DueAt: fromMicros(micros(u.outcome.ConfirmsAt)), EarnID: earnID}
	err := t.queryRow(ctx, `INSERT INTO commissions (entry_id, earn_id, referral_id, code, referrer, referee, micros, kind, confirms_at, created_at)
		VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		earnID, u.ref.ID, u.code, u.ref.Referrer, u.ref.Referee, u.outcome.CommissionMicros, CommissionAccrual,
		micros(u.outcome.ConfirmsAt), micros(now)).Scan(&c.ID)
	if err != nil {
		return nil, err
	}
	audience := accrualapi.Audience(u.ref.Referrer, u.ref.Referee)
	used, err := dataEvent(fmt.Sprintf("entry-%d-code", earnID), accrualapi.EventReferralCodeUsed, req.Member, audience, now,
		accrualapi.ReferralCodeUse{Code: u.code, Referral: u.ref.ID, Member: req.Member, Partner: req.Partner, EarnID: earnID,
			Discount: u.outcome.Discount, At: fromMicros(micros(now))})
	if err != nil {
		return nil, err
	}
	accrued, err := commissionEvent(earnID, c, req.Member, now)
	if err != nil {
		return nil, err
	}
	return []outboxEvent{used, accrued}, nil
}

// commissionEvent is the event of a commission written by entry entryID.
func commissionEvent(entryID int64, c accrualapi.Commission, member string, now time.Time) (outboxEvent, error) {
	typ := map[string]string{CommissionAccrual: accrualapi.EventCommissionAccrued,
		CommissionCancel: accrualapi.EventCommissionCancelled, CommissionClawback: accrualapi.EventCommissionClawedBack}[c.Kind]
	return dataEvent(fmt.Sprintf("entry-%d-commission", entryID), typ, member, accrualapi.Audience(c.Referrer, c.Referee), now,
		accrualapi.CommissionEvent{Commission: c})
}

// reverseCommission takes back the returned share of a purchase's commission:
// cancelled inside the holding period, clawed back after it. It returns the
// (negative) change in millionths of a minor unit.
// reverseCommission takes back the returned share of a purchase's commission:
// cancelled inside the holding period, clawed back after it. It returns the
// (negative) change in millionths of a minor unit, and the commission's event.
func reverseCommission(ctx context.Context, t tx, entryID, earnID, paid, returnedBefore, amount int64, now time.Time) (int64, []outboxEvent, error) {
	var refID, code, referrer, referee, member string
	var accrued, confirms int64
	err := t.queryRow(ctx, `SELECT c.referral_id, c.code, c.referrer, c.referee, c.micros, c.confirms_at, e.member_id
		FROM commissions c JOIN entries e ON e.id = c.earn_id WHERE c.earn_id = $1 AND c.kind = $2`,
		earnID, CommissionAccrual).Scan(&refID, &code, &referrer, &referee, &accrued, &confirms, &member)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	cut := clawback(accrued, paid, returnedBefore+amount) - clawback(accrued, paid, returnedBefore)
	if cut == 0 {
		return 0, nil, nil
	}
	kind := CommissionClawback
	if now.Before(fromMicros(confirms)) {
		kind = CommissionCancel
	} else {
		confirms = micros(now)
	}
	c := accrualapi.Commission{Kind: kind, Referral: refID, Referrer: referrer, Referee: referee, Micros: -cut,
		DueAt: fromMicros(confirms), EarnID: earnID}
	err = t.queryRow(ctx, `INSERT INTO commissions (entry_id, earn_id, referral_id, code, referrer, referee, micros, kind, confirms_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		entryID, earnID, refID, code, referrer, referee, -cut, kind, confirms, micros(now)).Scan(&c.ID)
	if err != nil {
		return 0, nil, err
	}
	ev, err := commissionEvent(entryID, c, member, now)
	if err != nil {
		return 0, nil, err
	}
	return -cut, []outboxEvent{ev}, nil
}

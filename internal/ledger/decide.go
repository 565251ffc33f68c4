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
	"fmt"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// The decisions of the two writes a till makes, earning and redeeming. Each is a
// pure function over what the write reads of its member; the single-write path
// (ops.go) and the batched path (batchplan.go) differ only in how they read that
// and how they write what the decision says.

// checkPoints refuses a write of more points, either way, than one write may move.
func checkPoints(points int64) error {
	if points > accrualapi.MaxPoints || points < -accrualapi.MaxPoints {
		return fmt.Errorf("%w: points: %d is beyond the %d one write may move", ErrOutOfRange, points, accrualapi.MaxPoints)
	}
	return nil
}

// checkAmount refuses an amount beyond the largest one write may carry.
func checkAmount(field string, amount int64) error {
	if amount > accrualapi.MaxAmount || amount < -accrualapi.MaxAmount {
		return fmt.Errorf("%w: %s: %d is beyond the largest amount, %d minor units", ErrOutOfRange, field, amount, accrualapi.MaxAmount)
	}
	return nil
}

// earnSnapshot is what an earning's decision reads of its member.
type earnSnapshot struct {
	// activity and membership are the member's tier inputs (tierInputs).
	activity   []rules.Activity
	membership rules.MembershipState
	// earnedToday is what the member earned since the start of the day, when the
	// program caps a day's points; 0 otherwise.
	earnedToday int64
	// referral is the code the purchase applies, read but not decided yet: its
	// discount applies after the tier's; nil without a code.
	referral *referralUse
}

// earnDecision is what an earning writes.
type earnDecision struct {
	// result is the answer, but for the entry id and the referral commission.
	result EarnResult
	// tierDiscount is the part of the result's discount the member's tier gave.
	tierDiscount int64
	// tierRises says the purchase lifts the member's tier (a review announces it).
	tierRises bool
	// points are the points of the new lot, terms its dates.
	points int64
	terms  rules.LotTerms
	// postings are the entry's: the member's account and the partner's issuance.
	postings []posting
}

// decideEarn decides an earning: the member's tier at now, the points of the
// purchase (after the referral discount, capped by the day's limit), and the
// dates of the lot they make.
//
// The member pays the amount less the tier's discount (a percentage of the
// amount) and then less the referral code's (a percentage of what is left, or a
// fixed amount up to it), each rounded half up; points are earned, and a
// referral commission accrues, on what she pays.
func (l *Ledger) decideEarn(req EarnRequest, m earnSnapshot, now time.Time) (earnDecision, error) {
	tier := l.program.TierAt(now, m.activity, m.membership)
	tierDiscount := l.program.TierDiscount(tier.Level, req.Amount)
	discount := tierDiscount
	if m.referral != nil {
		if err := m.referral.apply(tierDiscount); err != nil {
			return earnDecision{}, err
		}
		discount += m.referral.outcome.Discount
	}
	purchase := rules.Purchase{Amount: req.Amount, Lines: req.Lines, DefaultCategory: req.DefaultCategory, Discount: discount}
	earned, err := l.program.EarnPoints(purchase, tier.Level, m.earnedToday)
	if err != nil {
		return earnDecision{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if earned.Points > accrualapi.MaxPoints {
		return earnDecision{}, fmt.Errorf("%w: the purchase would earn %d points, more than the %d one write may move",
			ErrOutOfRange, earned.Points, accrualapi.MaxPoints)
	}
	terms := l.program.LotTermsAt(now)
	result := l.earnResult(req, purchase, earned, terms, now)
	result.TierDiscount = tierDiscount
	if m.referral != nil {
		result.CommissionMicros = m.referral.outcome.CommissionMicros
	}
	return earnDecision{
		result: result, tierDiscount: tierDiscount,
		tierRises: l.program.TierRisesWith(tier, l.activityOf(KindEarn, micros(now), earned.Points, result.AmountDue, 0).Amount),
		points:    earned.Points, terms: terms,
		postings: []posting{{memberAccount(req.Member), earned.Points}, {issuanceAccount(req.Partner), -earned.Points}},
	}, nil
}

// redeemDecision is what a redemption writes.
type redeemDecision struct {
	// result is the answer, but for the entry id.
	result RedeemResult
	// takes are the points taken from each spendable lot, in the order given.
	takes []int64
	// postings are the entry's: the member's account and the partner's redemption.
	postings []posting
}

// decideRedeem decides a redemption of req.Points worth value against the
// member's spendable lots (what each holds, soonest expiring first) and the
// debt the member owes (zero or negative): there must be enough, and the lots
// are taken in order.
func decideRedeem(req RedeemRequest, value int64, spendable []int64, owed int64) (redeemDecision, error) {
	have := owed
	for _, n := range spendable {
		have += n
	}
	if have < req.Points {
		return redeemDecision{}, fmt.Errorf("%w: %q has fewer than the %d points to redeem", ErrInsufficientPoints, req.Member, req.Points)
	}
	d := redeemDecision{takes: make([]int64, len(spendable)),
		postings: []posting{{memberAccount(req.Member), -req.Points}, {redemptionAccount(req.Partner), req.Points}}}
	d.result.Points, d.result.Value = req.Points, value
	left := req.Points
	for i, n := range spendable {
		if left == 0 {
			break
		}
		d.takes[i] = min(n, left)
		left -= d.takes[i]
	}
	return d, nil
}

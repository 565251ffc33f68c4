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
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// The batched write path. A till's two writes, earning and redeeming, are most of
// a program's traffic. Run one at a time, each costs about ten statements; in a
// group commit the committer then spends its time on statements, not on points.
// So a run of such writes in a batch is planned in memory instead: the state every
// write of the run needs (stored replays, members, tier history, spendable lots)
// is read with one statement per kind for the whole run, each write is computed
// against it in batch order exactly as it would be alone, and what they write is
// stored with one multi-row statement per table. A write the plan refuses (not
// enough points, an unknown member) fails alone and writes nothing, as before.
//
// What the plan does not cover goes the way it always went: referral purchases,
// inactivity expiry, negative balances, every other kind of write. If any
// statement of a run fails, the run is rolled back to its savepoint and each of
// its writes runs again on its own, so the batched path can only ever be a
// shortcut to the result the single-write path gives; a test compares the two.

// fastWrite is an earning or a redemption that can be planned in memory.
type fastWrite struct {
	meta     Meta
	hash     string
	member   string
	earn     *EarnRequest
	redeem   *RedeemRequest
	value    int64 // a redemption's money value, computed before it was queued
	res      any   // *EarnResult or *RedeemResult
	replayed *bool
}

// fastEarn says whether an earning can take the batched path.
func (l *Ledger) fastEarn(req EarnRequest) bool {
	return l.batch != nil && !l.singleWritesOnly() && req.ReferralCode == "" &&
		l.program.Expiry.Policy != rules.ExpiryInactivity && !l.program.AllowNegativeBalance
}

// fastRedeem says whether a redemption can take the batched path.
func (l *Ledger) fastRedeem() bool {
	return l.batch != nil && !l.singleWritesOnly() && !l.program.AllowNegativeBalance
}

func (l *Ledger) singleWritesOnly() bool { return l.seams != nil && l.seams.singleWritesOnly() }

// fastMember is what a run knows of one enrolled member: read once, then changed
// by each write of the run in turn.
type fastMember struct {
	paidUntil int64
	activity  []rules.Activity // tier inputs, when the program has tiers
	earnsAt   []int64          // created_at of earnings since the run's first day start,
	earnsPts  []int64          // and their points, when there is a daily cap
	lots      []*fastLot       // lots holding points, in spending order
	// cutoff, when the member has more lots than were read, is the last lot
	// read: lots sorting after it are not known.
	cutoff   *fastLot
	lastEarn int64 // 0 when no earning of the run touched it
	// tierRose says an earning of the run lifted the member's tier.
	tierRose bool
}

type fastLot struct {
	id, entryID                       int64
	partner                           string
	points, remaining                 int64
	earnedAt, pendingUntil, expiresAt int64
	fresh                             bool  // written by this run
	taken                             int64 // consumed by this run from a stored lot
}

// fastOutcome is one write's answer, applied only once the run's statements
// have all succeeded.
type fastOutcome struct {
	err      error
	result   any // the value to store in *res
	replayed bool
}

// planned is what a run writes.
type planned struct {
	entries      []plannedEntry
	postings     [][3]any
	consumptions [][3]any
}

// post adds an entry's postings; a posting of no points is not written, as
// newEntry.insert writes none.
func (p *planned) post(entryID int64, postings []posting) {
	for _, ps := range postings {
		if ps.points != 0 {
			p.postings = append(p.postings, [3]any{entryID, ps.account, ps.points})
		}
	}
}

type plannedEntry struct {
	id                    int64
	kind, member, partner string
	actor, key, hash      string
	createdAt             int64
	points, amount        int64
	discount              int64
	result                string
	// event and audience are the event the entry makes, as newEntry's.
	event, audience string
}

// stored is the entry as history reads it back.
func (e plannedEntry) stored() Entry {
	return Entry{ID: e.id, Kind: e.kind, Member: e.member, Partner: e.partner, CreatedAt: fromMicros(e.createdAt),
		Points: e.points, Amount: e.amount, Discount: e.discount}
}

type idemKey struct{ actor, key string }

type stored struct{ hash, result string }

// commitFast runs a run of fast writes in the batch transaction. It fills outs
// and returns nil when the run's statements succeeded; an error means nothing of
// the run was written (its savepoint is rolled back) and the caller should run
// each write on its own, or, when the error is retryable, the whole batch again.
func (l *Ledger) commitFast(ctx context.Context, t tx, run []*job, outs []fastOutcome) error {
	return savepoint(ctx, t, "fast", func() error { return l.planAndWrite(ctx, t, run, outs) }, nil)
}

func (l *Ledger) planAndWrite(ctx context.Context, t tx, run []*job, outs []fastOutcome) error {
	now0 := l.clock.Now()
	replays, err := l.fastReplays(ctx, t, run)
	if err != nil {
		return err
	}
	members, err := l.fastMembers(ctx, t, run, now0)
	if err != nil {
		return err
	}
	ids, err := newIDSource(ctx, t, "entries", len(run))
	if err != nil {
		return err
	}
	earns := 0
	for _, j := range run {
		if j.fast.earn != nil {
			earns++
		}
	}
	lotIDs, err := newIDSource(ctx, t, "lots", earns)
	if err != nil {
		return err
	}
	var p planned
	done := map[idemKey]stored{}
	for i, j := range run {
		fw := j.fast
		k := idemKey{fw.meta.Actor, fw.meta.Key}
		s, ok := done[k]
		if !ok {
			s, ok = replays[k]
		}
		if ok {
			outs[i] = fastReplay(fw, s)
			continue
		}
		m := members[fw.member]
		now := l.clock.Now()
		var e plannedEntry
		var res any
		if fw.earn != nil {
			res, e, err = l.planEarn(fw, m, now, ids, lotIDs, &p)
		} else {
			res, e, err = l.planRedeem(fw, m, now, ids, &p)
		}
		if errors.Is(err, errFastIncomplete) {
			return err
		}
		if err != nil {
			outs[i] = fastOutcome{err: err}
			continue
		}
		p.entries = append(p.entries, e)
		done[k] = stored{hash: fw.hash, result: e.result}
		outs[i] = fastOutcome{result: res}
	}
	if err := l.writePlan(ctx, t, p, members); err != nil {
		return err
	}
	if l.seams != nil {
		return l.seams.afterPlan()
	}
	return nil
}

// fastReplay answers a write whose key was used before: the stored result when
// the request is the same, a conflict when it is not.
func fastReplay(fw *fastWrite, s stored) fastOutcome {
	if fw.earn != nil {
		r := EarnResult{Replayed: true}
		if err := storedAnswer(fw.meta, fw.hash, s.hash, s.result, &r); err != nil {
			return fastOutcome{err: err}
		}
		return fastOutcome{result: r, replayed: true}
	}
	r := RedeemResult{Replayed: true}
	if err := storedAnswer(fw.meta, fw.hash, s.hash, s.result, &r); err != nil {
		return fastOutcome{err: err}
	}
	return fastOutcome{result: r, replayed: true}
}

func (l *Ledger) planEarn(fw *fastWrite, m *fastMember, now time.Time, ids, lotIDs *idSource, p *planned) (any, plannedEntry, error) {
	req := fw.earn
	if m == nil {
		return nil, plannedEntry{}, fmt.Errorf("%w %q", ErrUnknownMember, fw.member)
	}
	snap := earnSnapshot{activity: m.activity}
	if m.paidUntil > 0 {
		snap.membership.PaidUntil = fromMicros(m.paidUntil)
	}
	if l.program.MaxPerMemberPerDay > 0 {
		start := micros(l.program.DayStart(now))
		for i, at := range m.earnsAt {
			if at >= start {
				snap.earnedToday += m.earnsPts[i]
			}
		}
	}
	d, err := l.decideEarn(*req, snap, now)
	if err != nil {
		return nil, plannedEntry{}, err
	}
	res := d.result
	res.EntryID = ids.next()
	b, err := json.Marshal(res)
	if err != nil {
		return nil, plannedEntry{}, err
	}
	at := micros(now)
	e := plannedEntry{id: res.EntryID, kind: KindEarn, member: fw.member, partner: req.Partner,
		actor: fw.meta.Actor, key: fw.meta.Key, hash: fw.hash, createdAt: at,
		points: d.points, amount: res.AmountDue, discount: d.tierDiscount, result: string(b),
		event: accrualapi.EventPointsEarned, audience: accrualapi.Audience(req.Partner)}
	p.post(e.id, d.postings)
	// What the next write of this member in the run must see.
	m.lastEarn = at
	m.tierRose = m.tierRose || d.tierRises
	if l.program.Tiers != nil {
		m.activity = append(m.activity, l.activityOf(KindEarn, at, d.points, res.AmountDue, 0))
	}
	if l.program.MaxPerMemberPerDay > 0 {
		m.earnsAt, m.earnsPts = append(m.earnsAt, at), append(m.earnsPts, d.points)
	}
	if d.points > 0 {
		m.lots = append(m.lots, &fastLot{id: lotIDs.next(), entryID: e.id, partner: req.Partner, points: d.points, remaining: d.points,
			earnedAt: at, pendingUntil: micros(d.terms.PendingUntil), expiresAt: expiryMicros(d.terms.ExpiresAt), fresh: true})
		sortLots(m.lots)
	}
	return res, e, nil
}

func (l *Ledger) planRedeem(fw *fastWrite, m *fastMember, now time.Time, ids *idSource, p *planned) (any, plannedEntry, error) {
	req := fw.redeem
	if m == nil {
		return nil, plannedEntry{}, fmt.Errorf("%w %q", ErrUnknownMember, fw.member)
	}
	at := micros(now)
	var lots []*fastLot
	var holds []int64
	for _, lt := range m.lots {
		if m.known(lt) && lt.spendable(at) {
			lots, holds = append(lots, lt), append(holds, lt.remaining)
		}
	}
	d, err := decideRedeem(*req, fw.value, holds, 0)
	if errors.Is(err, ErrInsufficientPoints) && m.cutoff != nil {
		return nil, plannedEntry{}, errFastIncomplete
	}
	if err != nil {
		return nil, plannedEntry{}, err
	}
	res := d.result
	res.EntryID = ids.next()
	for i, lt := range lots {
		if n := d.takes[i]; n > 0 {
			lt.remaining -= n
			if !lt.fresh {
				lt.taken += n
			}
			p.consumptions = append(p.consumptions, [3]any{res.EntryID, lt.id, n})
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, plannedEntry{}, err
	}
	p.post(res.EntryID, d.postings)
	return res, plannedEntry{id: res.EntryID, kind: KindRedeem, member: fw.member, partner: req.Partner,
		actor: fw.meta.Actor, key: fw.meta.Key, hash: fw.hash, createdAt: at,
		points: -req.Points, amount: fw.value, result: string(b),
		event: accrualapi.EventPointsRedeemed, audience: accrualapi.Audience(req.Partner)}, nil
}

// spendable is the condition the single-write path selects lots by.
func (lt *fastLot) spendable(at int64) bool {
	return lt.remaining > 0 && lt.pendingUntil <= at && lt.expiresAt > at
}

// sortLots keeps the spending order: soonest expiring, then oldest, then by id.
func sortLots(lots []*fastLot) { slices.SortFunc(lots, lotOrder) }

func lotOrder(a, b *fastLot) int {
	if c := cmpInt(a.expiresAt, b.expiresAt); c != 0 {
		return c
	}
	if c := cmpInt(a.earnedAt, b.earnedAt); c != 0 {
		return c
	}
	return cmpInt(a.id, b.id)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// errFastIncomplete stops a run whose plan needs lots it did not read (they
// expired between the read and the write, in the instant between two writes):
// the run goes write by write instead.
var errFastIncomplete = errors.New("the batched plan needs lots it did not read")

// known says whether the run read enough to place lt in the spending order.
func (m *fastMember) known(lt *fastLot) bool {
	return m.cutoff == nil || lotOrder(lt, m.cutoff) <= 0
}

// writePlan stores a run's entries, postings, lots and consumptions, and the
// members' and lots' changed columns, with one statement per table (per chunk
// of rows).
func (l *Ledger) writePlan(ctx context.Context, t tx, p planned, members map[string]*fastMember) error {
	if len(p.entries) == 0 {
		return nil
	}
	entryRows := make([][]any, 0, len(p.entries))
	for _, e := range p.entries {
		entryRows = append(entryRows, []any{e.id, e.kind, e.member, e.partner, e.actor, e.key, e.hash, e.createdAt, e.points, e.amount, e.result, e.discount})
	}
	const entryColumns = "entries (id, kind, member_id, partner_id, actor, idem_key, request_hash, created_at, points, amount, result, discount)"
	if err := insertRows(ctx, t, entryColumns, entryRows); err != nil {
		return err
	}
	if err := insertRows(ctx, t, "postings (entry_id, account, points)", triples(p.postings)); err != nil {
		return err
	}
	if len(l.sinks) > 0 {
		events := make([]outboxEvent, 0, len(p.entries))
		for _, e := range p.entries {
			ev, err := entryEvent(e.event, e.audience, e.stored(), []byte(e.result))
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
		if err := insertEventRows(ctx, t, l.sinks, events); err != nil {
			return err
		}
	}
	var lotRows [][]any
	var taken, earned [][2]any
	names := make([]string, 0, len(members))
	for id := range members {
		names = append(names, id)
	}
	slices.Sort(names)
	for _, id := range names {
		m := members[id]
		for _, lt := range m.lots {
			switch {
			case lt.fresh:
				lotRows = append(lotRows, []any{lt.id, id, lt.entryID, lt.partner, lt.points, lt.remaining, lt.earnedAt, lt.pendingUntil, lt.expiresAt})
			case lt.taken > 0:
				taken = append(taken, [2]any{lt.id, lt.taken})
			}
		}
		if m.lastEarn != 0 {
			earned = append(earned, [2]any{id, m.lastEarn})
		}
	}
	slices.SortFunc(lotRows, func(a, b []any) int { return cmpInt(a[0].(int64), b[0].(int64)) })
	if err := insertRows(ctx, t, "lots (id, member_id, entry_id, partner_id, points, remaining, earned_at, pending_until, expires_at)", lotRows); err != nil {
		return err
	}
	if err := insertRows(ctx, t, "consumptions (entry_id, lot_id, points)", triples(p.consumptions)); err != nil {
		return err
	}
	if err := setByID(ctx, t, "lots", "remaining = remaining - %s", taken); err != nil {
		return err
	}
	if err := setByID(ctx, t, "members", "last_earned_at = %s", earned); err != nil {
		return err
	}
	var rose []any
	for _, id := range names {
		if members[id].tierRose {
			rose = append(rose, id)
		}
	}
	if !l.watchTiers || len(rose) == 0 {
		return nil
	}
	q := newQuery(t.d)
	_, err := t.exec(ctx, `UPDATE members SET review_at = `+q.arg(reviewAfterWrite)+` WHERE id IN (`+q.list(rose)+`)`, q.args...)
	return err
}

// apply puts a planned write's answer where its caller waits for it.
func (o fastOutcome) apply(fw *fastWrite) {
	switch r := o.result.(type) {
	case EarnResult:
		*fw.res.(*EarnResult) = r
	case RedeemResult:
		*fw.res.(*RedeemResult) = r
	}
	*fw.replayed = o.replayed
}

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
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
	return l.batch != nil && !l.noFastPath && req.ReferralCode == "" &&
		l.program.Expiry.Policy != rules.ExpiryInactivity && !l.program.AllowNegativeBalance
}

// fastRedeem says whether a redemption can take the batched path.
func (l *Ledger) fastRedeem() bool {
	return l.batch != nil && !l.noFastPath && !l.program.AllowNegativeBalance
}

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

type plannedEntry struct {
	id                    int64
	kind, member, partner string
	actor, key, hash      string
	createdAt             int64
	points, amount        int64
	result                string
}

type idemKey struct{ actor, key string }

type stored struct{ hash, result string }

// commitFast runs a run of fast writes in the batch transaction. It fills outs
// and returns nil when the run's statements succeeded; an error means nothing of
// the run was written (its savepoint is rolled back) and the caller should run
// each write on its own, or, when the error is retryable, the whole batch again.
func (l *Ledger) commitFast(ctx context.Context, t tx, run []*job, outs []fastOutcome) error {
	if _, err := t.exec(ctx, "SAVEPOINT fast"); err != nil {
		return errors.Join(errBrokenTx, err)
	}
	err := l.planAndWrite(ctx, t, run, outs)
	if err != nil {
		if isRetryable(err) {
			return err
		}
		if _, rbErr := t.exec(ctx, "ROLLBACK TO SAVEPOINT fast"); rbErr != nil {
			return errors.Join(errBrokenTx, rbErr)
		}
	}
	if _, relErr := t.exec(ctx, "RELEASE SAVEPOINT fast"); relErr != nil {
		return errors.Join(errBrokenTx, relErr)
	}
	return err
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
	if l.breakFastRuns {
		return errors.New("a test broke this run")
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
	purchase := rules.Purchase{Amount: req.Amount, Lines: req.Lines, DefaultCategory: req.DefaultCategory}
	var membership rules.MembershipState
	if m.paidUntil > 0 {
		membership.PaidUntil = fromMicros(m.paidUntil)
	}
	tier := l.program.TierAt(now, m.activity, membership)
	var today int64
	if l.program.MaxPerMemberPerDay > 0 {
		start := micros(l.program.DayStart(now))
		for i, at := range m.earnsAt {
			if at >= start {
				today += m.earnsPts[i]
			}
		}
	}
	earned, err := l.program.EarnPoints(purchase, tier.Level, today)
	if err != nil {
		return nil, plannedEntry{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	terms := l.program.LotTermsAt(now)
	res := l.earnResult(*req, purchase, earned, terms, now)
	res.EntryID = ids.next()
	b, err := json.Marshal(res)
	if err != nil {
		return nil, plannedEntry{}, err
	}
	at := micros(now)
	e := plannedEntry{id: res.EntryID, kind: KindEarn, member: fw.member, partner: req.Partner,
		actor: fw.meta.Actor, key: fw.meta.Key, hash: fw.hash, createdAt: at,
		points: earned.Points, amount: res.AmountDue, result: string(b)}
	if earned.Points != 0 {
		p.postings = append(p.postings,
			[3]any{e.id, memberAccount(fw.member), earned.Points},
			[3]any{e.id, issuanceAccount(req.Partner), -earned.Points})
	}
	// What the next write of this member in the run must see.
	m.lastEarn = at
	if l.program.Tiers != nil {
		m.activity = append(m.activity, l.activityOf(KindEarn, at, earned.Points, res.AmountDue, 0))
	}
	if l.program.MaxPerMemberPerDay > 0 {
		m.earnsAt, m.earnsPts = append(m.earnsAt, at), append(m.earnsPts, earned.Points)
	}
	if earned.Points > 0 {
		m.lots = append(m.lots, &fastLot{id: lotIDs.next(), entryID: e.id, partner: req.Partner, points: earned.Points, remaining: earned.Points,
			earnedAt: at, pendingUntil: micros(terms.PendingUntil), expiresAt: expiryMicros(terms.ExpiresAt), fresh: true})
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
	var have int64
	for _, lt := range m.lots {
		if m.known(lt) && lt.spendable(at) {
			have += lt.remaining
		}
	}
	if have < req.Points {
		if m.cutoff != nil {
			return nil, plannedEntry{}, errFastIncomplete
		}
		return nil, plannedEntry{}, fmt.Errorf("%w: %q has fewer than the %d points to redeem", ErrInsufficientPoints, req.Member, req.Points)
	}
	res := RedeemResult{RedeemResult: accrualapi.RedeemResult{EntryID: ids.next(), Points: req.Points, Value: fw.value}}
	left := req.Points
	for _, lt := range m.lots {
		if left == 0 {
			break
		}
		if !m.known(lt) || !lt.spendable(at) {
			continue
		}
		n := min(lt.remaining, left)
		lt.remaining -= n
		if !lt.fresh {
			lt.taken += n
		}
		p.consumptions = append(p.consumptions, [3]any{res.EntryID, lt.id, n})
		left -= n
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, plannedEntry{}, err
	}
	p.postings = append(p.postings,
		[3]any{res.EntryID, memberAccount(fw.member), -req.Points},
		[3]any{res.EntryID, redemptionAccount(req.Partner), req.Points})
	return res, plannedEntry{id: res.EntryID, kind: KindRedeem, member: fw.member, partner: req.Partner,
		actor: fw.meta.Actor, key: fw.meta.Key, hash: fw.hash, createdAt: at,
		points: -req.Points, amount: fw.value, result: string(b)}, nil
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
		entryRows = append(entryRows, []any{e.id, e.kind, e.member, e.partner, e.actor, e.key, e.hash, e.createdAt, e.points, e.amount, e.result})
	}
	const entryColumns = "entries (id, kind, member_id, partner_id, actor, idem_key, request_hash, created_at, points, amount, result)"
	if err := insertRows(ctx, t, entryColumns, entryRows); err != nil {
		return err
	}
	if err := insertRows(ctx, t, "postings (entry_id, account, points)", triples(p.postings)); err != nil {
		return err
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
	return setByID(ctx, t, "members", "last_earned_at = %s", earned)
}

// setByID sets a column of each row (by id) to a value of its own: assign is the
// assignment with %s where the row's value goes, as a CASE on the id.
func setByID(ctx context.Context, t tx, table, assign string, rows [][2]any) error {
	for chunk := range shapedChunks(rows) {
		q := newQuery(t.d)
		cases := make([]string, 0, len(chunk))
		in := make([]string, 0, len(chunk))
		for _, c := range chunk {
			cases = append(cases, "WHEN "+q.arg(c[0])+" THEN CAST("+q.arg(c[1])+" AS BIGINT)")
		}
		for _, c := range chunk {
			in = append(in, q.arg(c[0]))
		}
		value := "CASE id " + strings.Join(cases, " ") + " END"
		query := "UPDATE " + table + " SET " + fmt.Sprintf(assign, value) + " WHERE id IN (" + strings.Join(in, ", ") + ")"
		if _, err := t.exec(ctx, query, q.args...); err != nil {
			return err
		}
	}
	return nil
}

func triples(rows [][3]any) [][]any {
	out := make([][]any, len(rows))
	for i := range rows {
		out[i] = rows[i][:]
	}
	return out
}

// insertRows inserts rows with multi-row statements of a power of two rows each
// (26 rows: 16, 8 and 2), so that a few shapes of statement serve every batch and
// each is prepared once.
func insertRows(ctx context.Context, t tx, into string, rows [][]any) error {
	for len(rows) > 0 {
		n := maxShape
		for n > len(rows) {
			n /= 2
		}
		q := newQuery(t.d)
		values := make([]string, 0, n)
		for _, r := range rows[:n] {
			values = append(values, "("+q.list(r)+")")
		}
		if _, err := t.exec(ctx, "INSERT INTO "+into+" VALUES "+strings.Join(values, ", "), q.args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// maxShape is the most rows or values one batched statement takes.
const maxShape = 64

// shapedChunks cuts items into chunks of at most maxShape, each padded to a power
// of two by repeating its last item, for statements whose meaning a repeated item
// does not change (an IN list, a CASE whose first match wins).
func shapedChunks[T any](items []T) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for chunk := range slices.Chunk(items, maxShape) {
			if !yield(padded(chunk)) {
				return
			}
		}
	}
}

// padded repeats the last item up to the next power of two.
func padded[T any](items []T) []T {
	n := 1
	for n < len(items) {
		n *= 2
	}
	out := slices.Clip(items)
	for len(out) < n {
		out = append(out, items[len(items)-1])
	}
	return out
}

// idSource hands out the ids of a run's new rows. On SQLite the batch holds the
// only writer, so the ids after the table's sequence are free; on PostgreSQL they
// are taken from the identity's sequence, so that replicas never collide.
type idSource struct {
	ids  []int64
	last int64
}

func newIDSource(ctx context.Context, t tx, table string, n int) (*idSource, error) {
	s := &idSource{}
	if n == 0 {
		return s, nil
	}
	if t.d.backend == SQLite {
		err := t.queryRow(ctx, "SELECT seq FROM sqlite_sequence WHERE name = ?", table).Scan(&s.last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		return s, nil
	}
	rows, err := t.query(ctx, "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)", table, n)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			_ = rows.Close()
			return nil, err
		}
		s.ids = append(s.ids, id)
	}
	return s, closeRows(rows)
}

func (s *idSource) next() int64 {
	if len(s.ids) > 0 {
		id := s.ids[0]
		s.ids = s.ids[1:]
		return id
	}
	s.last++
	return s.last
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	return errors.Join(err, rows.Close())
}

// query builds a statement of a varying number of parameters in the backend's
// placeholder form. Lists and rows come in powers of two (padded, or cut), so that
// the statements have few shapes and the statement cache prepares each once.
type query struct {
	d    dialect
	args []any
}

func newQuery(d dialect) *query { return &query{d: d} }

// arg adds a parameter and returns its placeholder. On SQLite that is a bare
// "?": SQLite looks a numbered parameter's name up in a list on every bind, which
// makes binding a statement of many of them quadratic.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	if q.d.backend == SQLite {
		return "?"
	}
	return "$" + strconv.Itoa(len(q.args))
}

// in is the placeholders of an IN list, padded to a power of two.
func (q *query) in(vs []string) string { return q.list(padded(vs)) }

func (q *query) list(vs any) string {
	var parts []string
	switch vs := vs.(type) {
	case []string:
		for _, v := range vs {
			parts = append(parts, q.arg(v))
		}
	case []any:
		for _, v := range vs {
			parts = append(parts, q.arg(v))
		}
	}
	return strings.Join(parts, ", ")
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

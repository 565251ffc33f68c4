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
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/rules"
)

// The batched path (batchplan.go) must be a shortcut, never a different answer: the
// same batches, lined up write by write in the same order, go through a ledger
// that plans runs of earnings and redemptions in memory and through one that
// runs every write alone. Every answer and every row of both stores must agree
// (ids compared by rank, as PostgreSQL's sequences may leave gaps).

type heldEnv struct {
	*env
	hold chan struct{}
	mu   *sync.Mutex // guards the earn ids the ops of a batch record
}

func openHeld(t *testing.T, backend Backend, program *rules.Program, fast, broken bool) heldEnv {
	t.Helper()
	dsn := filepath.Join(t.TempDir(), "ledger.db")
	if backend == PostgreSQL {
		dsn = pgtest.ForTest(t, "t")
	}
	hold := make(chan struct{})
	clock := &testClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	l, err := Open(ctx, Options{Backend: backend, DSN: dsn, Program: program, Clock: clock, GroupCommit: true,
		Committers: 1, Sinks: allSinks, seams: testSeams{single: !fast, hold: hold, broken: broken}})
	if err != nil {
		t.Fatalf("opening the %s ledger: %v", backend, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return heldEnv{env: &env{Ledger: l, clock: clock, ctx: ctx, dsn: dsn}, hold: hold, mu: &sync.Mutex{}}
}

// batch queues ops one after the other, so that their order in the lane is
// theirs, lets one batch through, and returns each op's answer.
func (h heldEnv) lineUp(t *testing.T, ops []func() string) []string {
	t.Helper()
	out := make([]string, len(ops))
	finished := make([]chan struct{}, len(ops))
	lane := h.batch.lanes[0]
	queued := 0
	for i, op := range ops {
		finished[i] = make(chan struct{})
		go func() { out[i] = op(); close(finished[i]) }()
		// Wait until the op is in the lane or was answered without it (refused
		// before it reached the ledger's transaction).
		deadline := time.Now().Add(30 * time.Second)
		for {
			if len(lane) == queued+1 {
				queued++
				break
			}
			select {
			case <-finished[i]:
			default:
				if time.Now().After(deadline) {
					t.Fatalf("op %d never reached the lane", i)
				}
				time.Sleep(50 * time.Microsecond)
				continue
			}
			break
		}
	}
	if queued > 0 {
		h.hold <- struct{}{}
	}
	for i := range ops {
		select {
		case <-finished[i]:
		case <-time.After(30 * time.Second):
			t.Fatalf("op %d was never answered", i)
		}
	}
	return out
}

// fastCase is one program the comparison runs on.
type fastCase struct {
	name   string
	config func() rules.Config
}

func fastCases() []fastCase {
	return []fastCase{
		{"stadtbonus", stadtBonusConfig},
		{"at-once-daily-cap-amount-tiers", func() rules.Config {
			c := stadtBonusConfig()
			c.PendingPeriod = "P0D"
			c.Earning.MaxPointsPerMemberPerDay = 700
			c.Earning.MaxPointsPerTransaction = 400
			c.Tiers.Basis = "AmountSpent"
			c.Tiers.Levels = []rules.TierLevelConfig{{Name: "Bronze", Threshold: 0}, {Name: "Silber", Threshold: 60000, EarnMultiplier: "1.25"},
				{Name: "Gold", Threshold: 150000, EarnMultiplier: "1.5"}}
			c.Expiry = rules.ExpiryConfig{Policy: "Rolling", After: "P20D"}
			return c
		}},
		{"never-downgrade-year-end", func() rules.Config {
			c := stadtBonusConfig()
			c.PendingPeriod = "P2D"
			c.Tiers.Downgrade = "Never"
			c.Tiers.Levels[1].Threshold = 300
			c.Tiers.Levels[2].Threshold = 900
			c.Expiry = rules.ExpiryConfig{Policy: "EndOfCalendarYear"}
			return c
		}},
		{"no-tiers-never-expire", func() rules.Config {
			c := stadtBonusConfig()
			c.PendingPeriod = "P0D"
			c.Tiers = nil
			c.Expiry = rules.ExpiryConfig{Policy: "Never"}
			c.Redemption.MinimumPoints = 5
			return c
		}},
	}
}

func TestBatchedPathAgreesWithSingleWrites(t *testing.T) {
	for _, backend := range []Backend{SQLite, PostgreSQL} {
		for _, c := range fastCases() {
			t.Run(string(backend)+"/"+c.name, func(t *testing.T) {
				program := mustProgram(t, c.config())
				fast, alone := openHeld(t, backend, program, true, false), openHeld(t, backend, program, false, false)
				runFastComparison(t, fast, alone, 7)
				if n := fast.batch.fallbacks.Load(); n != 0 {
					t.Errorf("%d runs fell back to single writes; none should", n)
				}
			})
		}
		// A run whose statements fail is rolled back and runs write by write:
		// the answers and rows are still those of single writes.
		t.Run(string(backend)+"/fallback", func(t *testing.T) {
			program := mustProgram(t, stadtBonusConfig())
			broken, alone := openHeld(t, backend, program, true, true), openHeld(t, backend, program, false, false)
			runFastComparison(t, broken, alone, 11)
			if broken.batch.fallbacks.Load() == 0 {
				t.Error("no run fell back to single writes")
			}
		})
	}
}

// fastOp is one write of the comparison, as data, so that both ledgers get it.
type fastOp struct {
	kind    string // earn, redeem, reverse, adjust
	key     string
	member  string
	partner string
	amount  int64
	lines   []rules.Line
	earnOp  int // reverse: the op whose earning it returns
}

func runFastComparison(t *testing.T, fast, alone heldEnv, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*31))
	members := []string{"m0", "m1", "m2", "m3", "m4"}
	partners := []string{baecker, drucker, grafik}
	for _, h := range []heldEnv{fast, alone} {
		ops := make([]func() string, 0, len(members))
		for _, m := range members {
			ops = append(ops, func() string {
				res, err := h.Enroll(h.ctx, EnrollRequest{Meta: Meta{Actor: "admin", Key: "enroll-" + m}, Member: m})
				return fmt.Sprint(res.SignupBonus, err)
			})
		}
		h.lineUp(t, ops)
	}
	all := make([]fastOp, 0, 14*40)
	earnIDs := map[*heldEnv]map[int]int64{&fast: {}, &alone: {}}
	for round := range 14 {
		n := 1 + rng.IntN(40)
		ops := make([]fastOp, 0, n)
		for range n {
			op := fastOp{key: fmt.Sprintf("k%d", len(all)+len(ops)),
				member:  members[rng.IntN(len(members))],
				partner: partners[rng.IntN(len(partners))]}
			if rng.IntN(25) == 0 {
				op.member = "stranger" // never enrolled
			}
			switch r := rng.IntN(100); {
			case r < 45:
				op.kind, op.amount = KindEarn, 1+rng.Int64N(90000)
				if rng.IntN(4) == 0 {
					op.lines = []rules.Line{{Category: "bakery", Amount: op.amount / 3}, {Category: "other", Amount: op.amount - op.amount/3}}
				}
			case r < 75:
				op.kind, op.amount = KindRedeem, 1+rng.Int64N(500)
			case r < 83 && len(all) > 0:
				// The same key again: the same request, or another one under it.
				prev := all[rng.IntN(len(all))]
				op = prev
				if rng.IntN(3) == 0 {
					op.amount++
				}
			case r < 90 && len(all) > 0:
				op.kind, op.earnOp = KindReverse, rng.IntN(len(all))
				op.amount = 1 + rng.Int64N(30000)
			default:
				op.kind, op.amount = KindAdjust, rng.Int64N(300)-100
			}
			ops = append(ops, op)
		}
		if rng.IntN(3) == 0 && len(ops) > 2 {
			// A key used twice inside one batch.
			ops[len(ops)-1] = ops[0]
		}
		base := len(all)
		all = append(all, ops...)
		answers := map[*heldEnv][]string{}
		for _, h := range []*heldEnv{&fast, &alone} {
			fns := make([]func() string, 0, len(ops))
			for i, op := range ops {
				fns = append(fns, func() string { return h.do(op, base+i, earnIDs[h]) })
			}
			answers[h] = h.lineUp(t, fns)
		}
		fastRanks, aloneRanks := entryRanks(t, fast.env), entryRanks(t, alone.env)
		for i := range ops {
			a, b := rankAnswer(answers[&fast][i], fastRanks), rankAnswer(answers[&alone][i], aloneRanks)
			if a != b {
				t.Fatalf("round %d, op %d (%+v): batched %s; alone %s", round, i, ops[i], a, b)
			}
		}
		if a, b := dumpLedger(t, fast.env), dumpLedger(t, alone.env); a != b {
			t.Fatalf("round %d (ops %+v): the stores differ: %s", round, ops, firstDifference(a, b))
		}
		checkInvariants(t, fast.env)
		d := time.Duration(rng.Int64N(int64(6 * 24 * time.Hour)))
		fast.clock.Advance(d)
		alone.clock.Advance(d)
	}
	if fast.CommitStats().Writes == 0 {
		t.Fatal("no write went through group commit")
	}
}

// do runs one op and renders its answer with the entry id marked for ranking.
func (h *heldEnv) do(op fastOp, index int, earnIDs map[int]int64) string {
	meta := Meta{Actor: op.partner, Key: op.key}
	h.mu.Lock()
	earnID := earnIDs[op.earnOp]
	h.mu.Unlock()
	switch op.kind {
	case KindEarn:
		res, err := h.Earn(h.ctx, EarnRequest{Meta: meta, Member: op.member, Partner: op.partner, Amount: op.amount, Currency: "EUR", Lines: op.lines})
		if err == nil && !res.Replayed {
			h.mu.Lock()
			earnIDs[index] = res.EntryID
			h.mu.Unlock()
		}
		id := res.EntryID
		res.EntryID = 0
		b, _ := json.Marshal(res)
		return fmt.Sprintf("earn #%d %s replayed=%v err=%v", id, b, res.Replayed, err)
	case KindRedeem:
		res, err := h.Redeem(h.ctx, RedeemRequest{Meta: meta, Member: op.member, Partner: op.partner, Points: op.amount})
		return fmt.Sprintf("redeem #%d points=%d value=%d replayed=%v err=%v", res.EntryID, res.Points, res.Value, res.Replayed, err)
	case KindReverse:
		res, err := h.Reverse(h.ctx, ReverseRequest{Meta: meta, Partner: op.partner, EarnID: earnID, Amount: op.amount})
		return fmt.Sprintf("reverse #%d points=%d clawed=%d err=%v", res.EntryID, res.Points, res.ClawedBack, errText(err, earnID))
	default:
		res, err := h.Adjust(h.ctx, AdjustRequest{Meta: Meta{Actor: "admin", Key: op.key}, Member: op.member, Points: op.amount, Reason: "test"})
		return fmt.Sprintf("adjust #%d err=%v", res.EntryID, err)
	}
}

// errText drops an entry id from an error, which differs between the stores.
func errText(err error, id int64) string {
	if err == nil {
		return "<nil>"
	}
	return strings.ReplaceAll(err.Error(), fmt.Sprint(id), "<earn>")
}

func entryRanks(t *testing.T, e *env) map[int64]int {
	t.Helper()
	rows, err := e.db.QueryContext(e.ctx, "SELECT id FROM entries ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	ranks := map[int64]int{0: 0}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ranks[id] = len(ranks)
	}
	return ranks
}

func rankAnswer(s string, ranks map[int64]int) string {
	var id int64
	i := strings.Index(s, "#")
	if i < 0 {
		return s
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	_, _ = fmt.Sscan(s[i+1:j], &id)
	return s[:i] + fmt.Sprintf("r%d", ranks[id]) + s[j:]
}

// dumpLedger renders every row of the store, ids replaced by their rank.
func dumpLedger(t *testing.T, e *env) string {
	t.Helper()
	entries, lotRanks := entryRanks(t, e), map[int64]int{}
	rows := func(q string) [][]any {
		r, err := e.db.QueryContext(e.ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer func() { _ = r.Close() }()
		cols, _ := r.Columns()
		var out [][]any
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := r.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			out = append(out, vals)
		}
		return out
	}
	for i, r := range rows("SELECT id FROM lots ORDER BY id") {
		lotRanks[toInt(r[0])] = i + 1
	}
	var b strings.Builder
	for _, r := range rows("SELECT id, kind, member_id, partner_id, actor, idem_key, request_hash, created_at, points, amount, related_id, reason, settlement_id, result FROM entries ORDER BY id") {
		r[0] = entries[toInt(r[0])]
		if r[1] == KindReverse {
			// A return's fingerprint covers the earning's id, which the stores
			// may number differently; related_id below compares it by rank.
			r[6] = "<fingerprint of the return>"
		}
		if r[10] != nil {
			r[10] = entries[toInt(r[10])]
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(r[13].(string)), &res); err != nil {
			t.Fatalf("entry result %v: %v", r[13], err)
		}
		if id, ok := res["entryId"].(float64); ok {
			res["entryId"] = entries[int64(id)]
		}
		r[13] = res
		fmt.Fprintf(&b, "entry %v\n", r)
	}
	lines := make([]string, 0, 256)
	for _, r := range rows("SELECT entry_id, account, points FROM postings") {
		lines = append(lines, fmt.Sprintf("posting %d %v %v", entries[toInt(r[0])], r[1], r[2]))
	}
	for _, r := range rows("SELECT id, member_id, entry_id, partner_id, points, remaining, earned_at, pending_until, expires_at FROM lots") {
		r[0], r[2] = lotRanks[toInt(r[0])], entries[toInt(r[2])]
		lines = append(lines, fmt.Sprintf("lot %v", r))
	}
	for _, r := range rows("SELECT entry_id, lot_id, points FROM consumptions") {
		lines = append(lines, fmt.Sprintf("consumption %d %d %v", entries[toInt(r[0])], lotRanks[toInt(r[1])], r[2]))
	}
	for _, r := range rows("SELECT id, enrolled_at, birthday_month, birthday_day, birthday_granted_year, paid_until, last_earned_at FROM members") {
		lines = append(lines, fmt.Sprintf("member %v", r))
	}
	slices.Sort(lines)
	b.WriteString(strings.Join(lines, "\n"))
	// Events in the order they were written: a member's order is part of what
	// must agree.
	for _, r := range rows("SELECT event_id, type, subject, audience, created_at, data FROM outbox ORDER BY id") {
		var id int64
		rest := ""
		if n, _ := fmt.Sscanf(r[0].(string), "entry-%d", &id); n == 1 {
			rest = strings.TrimPrefix(r[0].(string), fmt.Sprintf("entry-%d", id))
			r[0] = fmt.Sprintf("entry-r%d%s", entries[id], rest)
		}
		var data map[string]any
		if err := json.Unmarshal([]byte(r[5].(string)), &data); err != nil {
			t.Fatalf("event data %v: %v", r[5], err)
		}
		if en, ok := data["entry"].(map[string]any); ok {
			en["id"] = entries[int64(en["id"].(float64))]
			if rel, ok := en["relatedId"].(float64); ok {
				en["relatedId"] = entries[int64(rel)]
			}
			res := data["result"].(map[string]any)
			res["entryId"] = entries[int64(res["entryId"].(float64))]
		}
		r[5] = data
		fmt.Fprintf(&b, "\nevent %v", r)
	}
	return b.String()
}

// firstDifference shows where two dumps part, with the lines around it.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		if i >= len(al) || i >= len(bl) || al[i] != bl[i] {
			lo := max(0, i-3)
			return fmt.Sprintf("line %d\nbatched:\n%s\nalone:\n%s", i,
				strings.Join(al[lo:min(len(al), i+4)], "\n"), strings.Join(bl[lo:min(len(bl), i+4)], "\n"))
		}
	}
	return "nowhere"
}

func toInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	case sql.NullInt64:
		return v.Int64
	}
	panic(fmt.Sprintf("not an integer: %T %v", v, v))
}

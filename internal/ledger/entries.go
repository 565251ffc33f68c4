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
	"strings"
	"time"
)

// Accounts of the double-entry journal, in points. A member's account is the sum
// of their lots. A partner has an issuance account (points it gave out, for which
// it owes the network) and a redemption account (points it took as payment, for
// which the network owes it). The network's own accounts fund bonuses and manual
// adjustments, take expired points (breakage) and absorb clawbacks a member
// could not cover. Settlement nets the partner accounts against the network.
const (
	accountProgram  = "network:program"
	accountBreakage = "network:breakage"
	accountWriteOff = "network:writeoff"
)

func memberAccount(member string) string      { return "member:" + member }
func issuanceAccount(partner string) string   { return "issuance:" + partner }
func redemptionAccount(partner string) string { return "redemption:" + partner }

type posting struct {
	account string
	points  int64
}

// newEntry is a journal entry about to be written.
type newEntry struct {
	kind, actor, key, hash string
	member, partner        string
	createdAt              time.Time
	points, amount         int64
	discount               int64 // the tier discount of a purchase
	relatedID              int64
	reason                 string
	postings               []posting
	// after writes what refers to the entry: lots, consumptions, commissions.
	after func(ctx context.Context, t tx, id int64) error
	// setID puts the entry's id into the result before it is stored.
	setID func(id int64)

	// event is the type of the event the entry makes ("" for none), audience
	// who may see it (accrualapi.Audience); extra are further events of the
	// write, which after may add (a commission). sinks are the ledger's, set
	// by write: the events go to them.
	event, audience string
	extra           []outboxEvent
	sinks           []SinkFilter
	// review marks the member due for a review of her tier (review.go).
	review bool
}

// stored is the entry as history reads it back.
func (e *newEntry) stored(id int64) Entry {
	return Entry{ID: id, Kind: e.kind, Member: e.member, Partner: e.partner, CreatedAt: fromMicros(micros(e.createdAt)),
		Points: e.points, Amount: e.amount, RelatedID: e.relatedID, Reason: e.reason, Discount: e.discount}
}

func (e *newEntry) insert(ctx context.Context, t tx, res any) error {
	var sum int64
	for _, p := range e.postings {
		sum += p.points
	}
	if sum != 0 {
		return fmt.Errorf("journal entry %s for %s does not balance: its postings sum to %d", e.kind, e.member, sum)
	}
	var related sql.NullInt64
	if e.relatedID != 0 {
		related = sql.NullInt64{Int64: e.relatedID, Valid: true}
	}
	var id int64
	err := t.queryRow(ctx, `INSERT INTO entries
		(kind, member_id, partner_id, actor, idem_key, request_hash, created_at, points, amount, related_id, reason, result, discount)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '{}', $12) RETURNING id`,
		e.kind, e.member, e.partner, e.actor, e.key, e.hash, micros(e.createdAt), e.points, e.amount, related, e.reason, e.discount).Scan(&id)
	if err != nil {
		return err
	}
	// All postings in one statement: one round trip however many lines.
	values, args := make([]string, 0, len(e.postings)), make([]any, 0, 3*len(e.postings))
	for _, p := range e.postings {
		if p.points == 0 {
			continue
		}
		n := len(args)
		values = append(values, fmt.Sprintf("($%d, $%d, $%d)", n+1, n+2, n+3))
		args = append(args, id, p.account, p.points)
	}
	if len(values) > 0 {
		if _, err := t.exec(ctx, `INSERT INTO postings (entry_id, account, points) VALUES `+strings.Join(values, ", "), args...); err != nil {
			return err
		}
	}
	if e.after != nil {
		if err := e.after(ctx, t, id); err != nil {
			return err
		}
	}
	if e.setID != nil {
		e.setID(id)
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if _, err = t.exec(ctx, `UPDATE entries SET result = $1 WHERE id = $2`, string(b), id); err != nil {
		return err
	}
	if e.review {
		if _, err := t.exec(ctx, `UPDATE members SET review_at = $1 WHERE id = $2`, reviewAfterWrite, e.member); err != nil {
			return err
		}
	}
	if len(e.sinks) == 0 {
		return nil
	}
	events := make([]outboxEvent, 0, 1+len(e.extra))
	if e.event != "" {
		ev, err := entryEvent(e.event, e.audience, e.stored(id), b)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	_, err = insertEvents(ctx, t, e.sinks, append(events, e.extra...))
	return err
}

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
	"fmt"
	"strings"
)

// migrations are applied in order, each once, at start-up. Never edit one that
// has shipped: add the next. Times are microseconds since the Unix epoch (UTC); a
// lot that never expires has expires_at = neverExpires, so that one index serves
// the spending order;
// points and money are integers (money in minor units, commissions in millionths
// of one).
var migrations = []string{
	// 1: members, journal entries with their postings, lots and consumptions.
	`
CREATE TABLE members (
	id TEXT PRIMARY KEY,
	enrolled_at BIGINT NOT NULL,
	birthday_month INTEGER NOT NULL DEFAULT 0,
	birthday_day INTEGER NOT NULL DEFAULT 0,
	birthday_granted_year INTEGER NOT NULL DEFAULT 0,
	paid_until BIGINT NOT NULL DEFAULT 0,
	last_earned_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE entries (
	id {{identity}},
	kind TEXT NOT NULL,
	member_id TEXT NOT NULL REFERENCES members(id),
	partner_id TEXT NOT NULL DEFAULT '',
	actor TEXT NOT NULL,
	idem_key TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	points BIGINT NOT NULL DEFAULT 0,
	amount BIGINT NOT NULL DEFAULT 0,
	related_id BIGINT,
	reason TEXT NOT NULL DEFAULT '',
	settlement_id TEXT,
	result TEXT NOT NULL,
	UNIQUE (actor, idem_key)
);
CREATE INDEX entries_member ON entries (member_id, id);
CREATE INDEX entries_member_day ON entries (member_id, kind, created_at);
CREATE INDEX entries_partner ON entries (partner_id, created_at, id);
CREATE INDEX entries_related ON entries (related_id);
CREATE TABLE postings (
	entry_id BIGINT NOT NULL REFERENCES entries(id),
	account TEXT NOT NULL,
	points BIGINT NOT NULL
);
CREATE INDEX postings_entry ON postings (entry_id);
CREATE TABLE lots (
	id {{identity}},
	member_id TEXT NOT NULL REFERENCES members(id),
	entry_id BIGINT NOT NULL REFERENCES entries(id),
	partner_id TEXT NOT NULL DEFAULT '',
	points BIGINT NOT NULL,
	remaining BIGINT NOT NULL,
	earned_at BIGINT NOT NULL,
	pending_until BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX lots_spend ON lots (member_id, expires_at, earned_at, id) WHERE remaining <> 0;
CREATE INDEX lots_expiry ON lots (expires_at) WHERE remaining > 0;
CREATE TABLE consumptions (
	entry_id BIGINT NOT NULL REFERENCES entries(id),
	lot_id BIGINT NOT NULL REFERENCES lots(id),
	points BIGINT NOT NULL
);
CREATE INDEX consumptions_lot ON consumptions (lot_id);
CREATE TABLE referral_codes (
	code TEXT PRIMARY KEY,
	referral_id TEXT NOT NULL,
	owner_member TEXT NOT NULL REFERENCES members(id),
	issued_at BIGINT NOT NULL
);
CREATE TABLE commissions (
	id {{identity}},
	entry_id BIGINT NOT NULL REFERENCES entries(id),
	earn_id BIGINT NOT NULL REFERENCES entries(id),
	referral_id TEXT NOT NULL,
	code TEXT NOT NULL,
	referrer TEXT NOT NULL,
	referee TEXT NOT NULL,
	micros BIGINT NOT NULL,
	kind TEXT NOT NULL,
	confirms_at BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	settlement_id TEXT
);
CREATE INDEX commissions_earn ON commissions (earn_id);
CREATE INDEX commissions_code ON commissions (code);
`,
	// 2: settlement reads a referee's commissions by when they fall due.
	`CREATE INDEX commissions_referee_due ON commissions (referee, confirms_at, id)`,
	// 3: a settlement's mark requests, each under its Idempotency-Key: a retry
	// gets the original count back.
	`CREATE TABLE settlement_marks (
	actor TEXT NOT NULL,
	idem_key TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	marked BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (actor, idem_key)
)`,
	// 4: the discount a member's tier gave on a purchase (minor units), which
	// settlement shows per partner.
	`ALTER TABLE entries ADD COLUMN discount BIGINT NOT NULL DEFAULT 0`,
	// 5: the events outbox (outbox.go): each event once, written with its
	// change, and in the same transaction its deliveries, one per sink that may
	// see it, pending (state 0) or dead (2, parked until replayed); a delivery
	// made is deleted and counted per sink; and the expiry reminders sent, per
	// lot, offset and expiry date, so that each is sent once.
	`
CREATE TABLE outbox (
	id {{identity}},
	event_id TEXT NOT NULL UNIQUE,
	type TEXT NOT NULL,
	subject TEXT NOT NULL,
	audience TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	data TEXT NOT NULL
);
CREATE INDEX outbox_created ON outbox (created_at);
CREATE TABLE deliveries (
	sink TEXT NOT NULL,
	event_row BIGINT NOT NULL REFERENCES outbox(id),
	subject TEXT NOT NULL,
	state INTEGER NOT NULL DEFAULT 0,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_at BIGINT NOT NULL,
	first_failed_at BIGINT NOT NULL DEFAULT 0,
	tried_at BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (sink, event_row)
);
CREATE INDEX deliveries_due ON deliveries (sink, event_row) WHERE state = 0;
CREATE INDEX deliveries_subject ON deliveries (sink, subject, event_row) WHERE state = 0;
CREATE INDEX deliveries_event ON deliveries (event_row);
CREATE TABLE sink_counters (
	sink TEXT PRIMARY KEY,
	delivered BIGINT NOT NULL
);
CREATE TABLE expiry_reminders (
	lot_id BIGINT NOT NULL REFERENCES lots(id),
	before TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (lot_id, before, expires_at)
)
`,
	// 6: time-driven events (review.go). A member's tier as last announced
	// (tier_level: an index into the tiers, -1 for none, NULL for not known;
	// members before this version are not known), whether a fee pinned it,
	// how many changes were announced (the events' ids), and when she is next
	// due for a review (0 after a write that may change her tier, NULL when
	// nothing can); and how far the sweeps for memberships that ran out and
	// commissions that were confirmed have gone. And the failed deliveries by
	// time, for a sink's latest error.
	`
ALTER TABLE members ADD COLUMN tier_level INTEGER DEFAULT -1;
UPDATE members SET tier_level = NULL;
ALTER TABLE members ADD COLUMN tier_pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN tier_changes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN review_at BIGINT;
CREATE INDEX members_review ON members (review_at) WHERE review_at IS NOT NULL;
CREATE INDEX members_paid_until ON members (paid_until) WHERE paid_until > 0;
CREATE INDEX commissions_confirms ON commissions (confirms_at) WHERE kind = 'accrual';
CREATE INDEX deliveries_failed ON deliveries (sink, tried_at) WHERE last_error <> '';
CREATE TABLE sweep_marks (
	name TEXT PRIMARY KEY,
	at BIGINT NOT NULL
)
`,
}

// migrate applies the migrations not applied yet, under a lock so that replicas
// starting together apply each once.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if d.backend == PostgreSQL {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7236061)"); err != nil {
			return fmt.Errorf("migrating: locking: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	var applied int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&applied); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	if applied > len(migrations) {
		return fmt.Errorf("the ledger's schema is version %d, newer than this build knows (%d): run a newer treue", applied, len(migrations))
	}
	for v := applied + 1; v <= len(migrations); v++ {
		ddl := strings.ReplaceAll(migrations[v-1], "{{identity}}", d.identity)
		for _, stmt := range strings.Split(ddl, ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrating to version %d: %w", v, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.rebind("INSERT INTO schema_migrations (version) VALUES ($1)"), v); err != nil {
			return fmt.Errorf("migrating to version %d: %w", v, err)
		}
	}
	return tx.Commit()
}

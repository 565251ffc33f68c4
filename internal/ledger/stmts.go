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
	"sync"
)

// maxCachedStmts bounds the statement cache. The ledger's queries are constants
// in its code, far fewer than this; the bound only guards against a future query
// built from data.
const maxCachedStmts = 512

// stmtCache keeps one prepared statement per query text for a pool. SQLite
// compiles a statement on every call that is not prepared, and compiling costs
// more than running the small statements of a write; a prepared statement is
// compiled once per connection (database/sql keeps it per connection, and a
// transaction reuses its connection's). pgx caches its statements itself, so the
// PostgreSQL store needs none of this.
//
// A statement is prepared after the transaction that first ran it, not during
// it: preparing takes a connection of the pool, and SQLite's writer pool has one,
// which the transaction holds.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]struct{}
	closed  bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// get returns the prepared statement for q, or nil to run q unprepared this
// time; a nil cache prepares nothing.
func (c *stmtCache) get(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[q]; ok {
		return s
	}
	if !c.closed && len(c.stmts)+len(c.pending) < maxCachedStmts {
		c.pending[q] = struct{}{}
	}
	return nil
}

// prepare prepares the statements run unprepared since the last call. Call it
// outside any transaction of the pool. It holds no lock while it waits for a
// connection, so that a transaction holding one can still ask for statements.
func (c *stmtCache) prepare(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	var queries []string
	for q := range c.pending {
		queries = append(queries, q)
		delete(c.pending, q)
	}
	c.mu.Unlock()
	for _, q := range queries {
		s, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue // the unprepared call keeps reporting the error
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup || c.closed {
			_ = s.Close()
		} else {
			c.stmts[q] = s
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var err error
	for q, s := range c.stmts {
		err = errors.Join(err, s.Close())
		delete(c.stmts, q)
	}
	return err
}

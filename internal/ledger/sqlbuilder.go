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
	"slices"
	"strconv"
	"strings"
)

// Statements of a varying number of rows or parameters, for the batched path:
// multi-row inserts, CASE updates by id, IN lists, in few shapes, so that the
// statement caches prepare each once.

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

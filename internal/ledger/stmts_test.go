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
	"testing"
)

func cachedStmts(c *stmtCache) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.stmts)
}

// The SQLite store prepares the statements of a write after the write, and the
// next writes run them prepared: the cache fills once and then stops growing.
func TestSQLitePreparesItsStatementsOnce(t *testing.T) {
	e := openSQLite(t, mustProgram(t, stadtBonusConfig()), nil, false)
	opened := cachedStmts(e.stmts) // the statements of Open (watch)
	earn := func(i int) {
		t.Helper()
		if _, err := e.Earn(e.ctx, EarnRequest{Meta: Meta{Actor: baecker, Key: fmt.Sprintf("k%d", i)}, Member: "anna",
			Partner: baecker, Amount: 1000, Currency: "EUR"}); err != nil {
			t.Fatal(err)
		}
	}
	e.enroll(t, "anna")
	earn(0)
	after := cachedStmts(e.stmts)
	if after <= opened {
		t.Fatal("no statement was prepared after the first writes")
	}
	for i := 1; i < 20; i++ {
		earn(i)
	}
	if n := cachedStmts(e.stmts); n != after {
		t.Errorf("the cache grew from %d to %d statements on writes of the same shape", after, n)
	}
	expectBalance(t, e.balance(t, "anna"), 50, 100)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if n := cachedStmts(e.stmts); n != 0 {
		t.Errorf("%d statements left open after Close", n)
	}
}

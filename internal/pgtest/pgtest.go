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

// Package pgtest gives tests and benchmarks a PostgreSQL schema of their own on
// the server named by TREUE_TEST_POSTGRES_DSN. It is test support: production
// code must never import it.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvDSN names the variable with the test server's DSN; hack/postgres.sh prints one.
const EnvDSN = "TREUE_TEST_POSTGRES_DSN"

// Schema creates a new, empty schema on the server at base and returns a DSN whose
// search_path is that schema, and a function that drops it.
func Schema(base, prefix string) (dsn string, drop func(), err error) {
	if base == "" {
		return "", nil, errors.New("no PostgreSQL: set " + EnvDSN + " (hack/postgres.sh starts a server and prints one)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	random := make([]byte, 6)
	_, _ = rand.Read(random)
	schema := prefix + "_" + hex.EncodeToString(random)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		_ = admin.Close()
		return "", nil, fmt.Errorf("creating a schema on the PostgreSQL test server: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		_ = admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE"); _ = admin.Close() }, nil
}

// ForTest returns a DSN of a fresh schema that is dropped when the test ends. Where
// no server is configured the test fails in CI (CI set) and skips elsewhere.
func ForTest(t testing.TB, prefix string) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(EnvDSN + " is not set: CI must run the PostgreSQL tests (.ci/run starts a server)")
		}
		t.Skip(EnvDSN + " is not set; the PostgreSQL tests need a server (hack/postgres.sh starts one)")
	}
	dsn, drop, err := Schema(base, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return dsn
}

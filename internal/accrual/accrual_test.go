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

package accrual

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/rules"
)

const (
	baecker  = "baeckerei-korn/baeckerei-korn"
	drucker  = "druckerei-blau/druckerei-blau"
	grafik   = "grafikagentur-linie/grafikagentur-linie"
	referral = "stadtbonus/grafik-empfiehlt-druck"
)

// testConfig is the StadtBonus program with its three partners and referral.
func testConfig(ledgerPath string) accrualapi.Config {
	return accrualapi.Config{
		APIVersion: accrualapi.ConfigVersion,
		Program:    "stadtbonus/stadtbonus",
		Rules: rules.Config{
			Currency: "EUR", TimeZone: "Europe/Berlin",
			Earning:       rules.EarningConfig{BaseRate: rules.EarnRateConfig{Points: 1, Per: "2.00"}, SignupBonus: 50},
			PendingPeriod: "P0D",
			Expiry:        rules.ExpiryConfig{Policy: "Rolling", After: "P36M"},
			Redemption:    rules.RedemptionConfig{PointValue: "0.01"},
		},
		Partners: []accrualapi.PartnerConfig{
			{ID: baecker, KeyHashFile: "partner-baeckerei.sha256", DefaultCategory: "bakery"},
			{ID: drucker, KeyHashFile: "partner-druckerei.sha256"},
			{ID: grafik, KeyHashFile: "partner-grafik.sha256"},
		},
		Referrals: []rules.ReferralConfig{{
			ID: referral, Referrer: grafik, Referee: drucker,
			Discount: rules.DiscountConfig{Type: "Percent", Percent: "5"}, Commission: rules.CommissionConfig{Type: "Percent", Percent: "3"},
			HoldingPeriod: "P14D", CodePrefix: "GRAFIK",
		}},
		Ledger: accrualapi.LedgerConfig{Backend: ledger.SQLite, Path: ledgerPath},
	}
}

type fixture struct {
	t      *testing.T
	url    string
	keys   map[string]string // who → key
	logs   *syncBuffer
	reg    *prometheus.Registry
	ledger *ledger.Ledger
	// ledgerPath is the SQLite file of the ledger.
	ledgerPath string
	// server is the service under test, whose sweep a test runs by hand.
	server *Server
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newKey() (key, hash string) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	key = "tk_" + hex.EncodeToString(b)
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:])
}

// writeSecrets writes a fresh credential for each partner and the two tokens.
func writeSecrets(t *testing.T, dir string, c accrualapi.Config) map[string]string {
	t.Helper()
	keys := map[string]string{}
	put := func(who, file string) {
		key, hash := newKey()
		keys[who] = key
		if err := os.WriteFile(filepath.Join(dir, file), []byte(hash+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range c.Partners {
		put(p.ID, p.KeyHashFile)
	}
	put("admin", accrualapi.AdminTokenHashFile)
	put("settlement", accrualapi.SettlementTokenHashFile)
	return keys
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureAt(t, nil) }

// newFixtureAt is a fixture whose ledger tells the time by clock (nil: the wall
// clock).
func newFixtureAt(t *testing.T, clock ledger.Clock) *fixture {
	t.Helper()
	return newFixtureOn(t, clock, ledger.SQLite)
}

// newFixtureOn is a fixture on either ledger backend (PostgreSQL: a schema of the
// test's own, internal/pgtest).
func newFixtureOn(t *testing.T, clock ledger.Clock, backend ledger.Backend) *fixture {
	t.Helper()
	return newFixtureWith(t, clock, backend, nil)
}

// newFixtureWith is newFixtureOn with the test configuration changed by change.
func newFixtureWith(t *testing.T, clock ledger.Clock, backend ledger.Backend, change func(*accrualapi.Config)) *fixture {
	t.Helper()
	return newFixtureFiles(t, clock, backend, change, nil)
}

// newFixtureFiles is newFixtureWith with further files in the secrets
// directory (name → content).
func newFixtureFiles(t *testing.T, clock ledger.Clock, backend ledger.Backend, change func(*accrualapi.Config), files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	c := testConfig(filepath.Join(dir, "ledger.db"))
	if change != nil {
		change(&c)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keys := writeSecrets(t, dir, c)
	raw, _ := json.Marshal(c)
	if err := os.WriteFile(filepath.Join(dir, "accrual.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "accrual.json"), dir)
	if err != nil {
		t.Fatal(err)
	}
	dsn := cfg.LedgerDSN
	if backend == ledger.PostgreSQL {
		dsn = pgtest.ForTest(t, "a")
	}
	l, err := ledger.Open(context.Background(), ledger.Options{Backend: backend, DSN: dsn, Program: cfg.Program,
		Referrals: cfg.Referrals, Clock: clock, Sinks: cfg.Events.Filters()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	server := NewServer(cfg, l, slog.New(slog.NewJSONHandler(logs, nil)), reg)
	srv := httptest.NewServer(server.Handler())
	t.Cleanup(srv.Close)
	return &fixture{t: t, url: srv.URL, keys: keys, logs: logs, reg: reg, ledger: l, ledgerPath: cfg.LedgerDSN, server: server}
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a request as who ("" for no credential) with an optional key.
func (f *fixture) call(method, path, who, idemKey string, body any) response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, f.url+path, rd)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+f.keys[who])
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (f *fixture) expect(r response, status int) response {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			f.t.Fatalf("an error answered %q, want application/problem+json", ct)
		}
		if r.body["detail"] == nil || r.body["type"] == nil || int(r.body["status"].(float64)) != status {
			f.t.Fatalf("not a problem document: %s", r.raw)
		}
	}
	return r
}

func num(r response, field string) int64 {
	v, _ := r.body[field].(float64)
	return int64(v)
}

// withNATS gives c a NATS sink of the platform's, and returns its destination.
func withNATS(c *accrualapi.Config, _ string) *accrualapi.NATSSinkConfig {
	c.Events = &accrualapi.EventsConfig{Source: eventsSource, Sinks: []accrualapi.SinkConfig{
		{Name: "warehouse", NATS: &accrualapi.NATSSinkConfig{URL: "nats://nats.warehouse:4222", Subject: "stadtbonus.events", Stream: "STADTBONUS"}}}}
	return c.Events.Sinks[0].NATS
}

// withSink gives c the bakery's webhook sink, its secret in dir.
func withSink(c *accrualapi.Config, dir string) *accrualapi.EventsConfig {
	secret, _ := events.NewSecret()
	_ = os.WriteFile(filepath.Join(dir, "shop.whsec"), []byte(secret), 0o600)
	c.Events = &accrualapi.EventsConfig{Source: eventsSource, Sinks: []accrualapi.SinkConfig{
		{Name: "baeckerei-korn.shop", Partner: baecker, URL: "https://shop.example/hooks", SigningSecretFiles: []string{"shop.whsec"}}}}
	return c.Events
}

func TestConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		field  string
		mutate func(c *accrualapi.Config, dir string)
	}{
		{"apiVersion", func(c *accrualapi.Config, _ string) { c.APIVersion = "accrual.treue.dev/v0" }},
		{"program", func(c *accrualapi.Config, _ string) { c.Program = "" }},
		{"rules: earning.baseRate.per", func(c *accrualapi.Config, _ string) { c.Rules.Earning.BaseRate.Per = "0" }},
		{"partners[1].id", func(c *accrualapi.Config, _ string) { c.Partners[1].ID = "Druckerei Blau" }},
		{"partners[2].id", func(c *accrualapi.Config, _ string) { c.Partners[2].ID = baecker }},
		{"partners[0].keyHashFile", func(c *accrualapi.Config, _ string) { c.Partners[0].KeyHashFile = "../etc/passwd" }},
		{"partners[0].keyHashFile", func(c *accrualapi.Config, dir string) {
			_ = os.WriteFile(filepath.Join(dir, c.Partners[0].KeyHashFile), []byte("not-a-hash"), 0o600)
		}},
		{"partners[1].keyHashFile", func(c *accrualapi.Config, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, c.Partners[0].KeyHashFile))
			_ = os.WriteFile(filepath.Join(dir, c.Partners[1].KeyHashFile), b, 0o600)
		}},
		{"secrets: reading secret admin-token.sha256", func(_ *accrualapi.Config, dir string) {
			_ = os.Remove(filepath.Join(dir, accrualapi.AdminTokenHashFile))
		}},
		{"referrals[0]", func(c *accrualapi.Config, _ string) { c.Referrals[0].Referee = grafik }},
		{"ledger.backend", func(c *accrualapi.Config, _ string) { c.Ledger.Backend = "mysql" }},
		{"ledger.path", func(c *accrualapi.Config, _ string) { c.Ledger.Path = "" }},
		{"ledger.dsnFile", func(c *accrualapi.Config, _ string) {
			c.Ledger = accrualapi.LedgerConfig{Backend: ledger.PostgreSQL, DSNFile: "ledger-dsn"}
		}},
		{"events.source", func(c *accrualapi.Config, dir string) { withSink(c, dir).Source = "" }},
		{"events.retention", func(c *accrualapi.Config, dir string) { withSink(c, dir).Retention = "P7D" }},
		{"events.expiryReminders[1]", func(c *accrualapi.Config, dir string) { withSink(c, dir).ExpiryReminders = []string{"P7D", "7 days"} }},
		{"events.sinks[1].name", func(c *accrualapi.Config, dir string) {
			e := withSink(c, dir)
			e.Sinks = append(e.Sinks, e.Sinks[0])
		}},
		{"events.sinks[0].name", func(c *accrualapi.Config, dir string) { withSink(c, dir).Sinks[0].Name = "Bäckerei/Shop" }},
		{"events.sinks[0].partner", func(c *accrualapi.Config, dir string) { withSink(c, dir).Sinks[0].Partner = "other/partner" }},
		{"events.sinks[0].types[1]", func(c *accrualapi.Config, dir string) {
			withSink(c, dir).Sinks[0].Types = []string{accrualapi.EventPointsEarned, "dev.treue.points.earnt"}
		}},
		{"events.sinks[0].url", func(c *accrualapi.Config, dir string) { withSink(c, dir).Sinks[0].URL = "ftp://shop.example" }},
		{"events.sinks[0].url", func(c *accrualapi.Config, dir string) { withSink(c, dir).Sinks[0].URL = "/relative" }},
		{"events.sinks[0].deadAfter", func(c *accrualapi.Config, dir string) { withSink(c, dir).Sinks[0].DeadAfter = "-1h" }},
		{"events.sinks[0].nats.url", func(c *accrualapi.Config, dir string) { withNATS(c, dir).URL = "http://nats:4222" }},
		{"events.sinks[0].nats.subject", func(c *accrualapi.Config, dir string) { withNATS(c, dir).Subject = "stadtbonus.>" }},
		{"events.sinks[0].nats.stream", func(c *accrualapi.Config, dir string) { withNATS(c, dir).Stream = "stadt bonus" }},
		{"events.sinks[0].nats.credentialsFile", func(c *accrualapi.Config, dir string) { withNATS(c, dir).CredentialsFile = "missing.creds" }},
		{"events.sinks[0]: a NATS sink has no url", func(c *accrualapi.Config, dir string) {
			withNATS(c, dir)
			c.Events.Sinks[0].URL = "https://shop.example/hooks"
		}},
		{"events.sinks[0].signingSecretFiles: is empty", func(c *accrualapi.Config, dir string) {
			withSink(c, dir).Sinks[0].SigningSecretFiles = nil
		}},
		{"events.sinks[0].signingSecretFiles[1]: reading secret", func(c *accrualapi.Config, dir string) {
			s := &withSink(c, dir).Sinks[0]
			s.SigningSecretFiles = append(s.SigningSecretFiles, "missing.whsec")
		}},
		{"events.sinks[0].signingSecretFiles[0]: secret shop.whsec: not a Standard Webhooks secret", func(c *accrualapi.Config, dir string) {
			withSink(c, dir)
			_ = os.WriteFile(filepath.Join(dir, "shop.whsec"), []byte("hunter2hunter2hunter2hunter2"), 0o600)
		}},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		c := testConfig(filepath.Join(dir, "ledger.db"))
		writeSecrets(t, dir, c)
		tt.mutate(&c, dir)
		raw, _ := json.Marshal(c)
		path := filepath.Join(dir, "accrual.json")
		_ = os.WriteFile(path, raw, 0o600)
		_, err := LoadConfig(path, dir)
		if err == nil || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("%s: got %v, want an error naming it", tt.field, err)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "whsec_")) && !strings.Contains(err.Error(), `"whsec_"`) {
			t.Errorf("%s: the error shows a secret: %v", tt.field, err)
		}
	}
	// Unknown fields in the file are refused, not ignored.
	dir := t.TempDir()
	path := filepath.Join(dir, "accrual.json")
	_ = os.WriteFile(path, []byte(`{"apiVersion": "accrual.treue.dev/v1", "rulez": {}}`), 0o600)
	if _, err := LoadConfig(path, dir); err == nil || !strings.Contains(err.Error(), "rulez") {
		t.Errorf("an unknown field: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	r := f.expect(f.call("GET", "/v1/stats", "", "", nil), http.StatusUnauthorized)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("a 401 without WWW-Authenticate")
	}
	f.keys["stranger"], _ = newKey()
	f.expect(f.call("GET", "/v1/stats", "stranger", "", nil), http.StatusUnauthorized)
	// Each credential can do only what its role may.
	f.expect(f.call("POST", "/v1/adjust", baecker, "k", map[string]any{"member": "anna", "points": 5, "reason": "x"}), http.StatusForbidden)
	f.expect(f.call("POST", "/v1/earn", "settlement", "k", map[string]any{"member": "anna", "amount": 100, "currency": "EUR"}), http.StatusForbidden)
	f.expect(f.call("POST", "/v1/earn", "admin", "k", map[string]any{"member": "anna", "amount": 100, "currency": "EUR"}), http.StatusForbidden)
	f.expect(f.call("GET", "/v1/settlement/entries?partner="+baecker, baecker, "", nil), http.StatusForbidden)
	f.expect(f.call("GET", "/v1/stats", "admin", "", nil), http.StatusOK)
}

func TestPurchasesOverHTTP(t *testing.T) {
	f := newFixture(t)
	f.expect(f.call("POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna", "birthday": "05-04"}), http.StatusOK)

	earn := map[string]any{"member": "anna", "amount": 10000, "currency": "EUR"}
	first := f.expect(f.call("POST", "/v1/earn", baecker, "till-1", earn), http.StatusOK)
	if num(first, "points") != 50 {
		t.Fatalf("earned %s", first.raw)
	}
	// A retry gets the original answer, and says so.
	again := f.expect(f.call("POST", "/v1/earn", baecker, "till-1", earn), http.StatusOK)
	if again.raw != first.raw || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay answered %s (replayed %q), want %s", again.raw, again.header.Get("Idempotent-Replayed"), first.raw)
	}
	earn["amount"] = 10001
	f.expect(f.call("POST", "/v1/earn", baecker, "till-1", earn), http.StatusConflict)

	m := f.expect(f.call("GET", "/v1/members/anna", drucker, "", nil), http.StatusOK)
	if bal := m.body["balance"].(map[string]any); bal["available"].(float64) != 100 {
		t.Fatalf("member: %s", m.raw)
	}
	f.expect(f.call("POST", "/v1/redeem", drucker, "r1", map[string]any{"member": "anna", "points": 101}), http.StatusUnprocessableEntity)
	red := f.expect(f.call("POST", "/v1/redeem", drucker, "r1", map[string]any{"member": "anna", "points": 60}), http.StatusOK)
	if num(red, "value") != 60 {
		t.Fatalf("redeemed %s", red.raw)
	}
	// Only the partner where the purchase was made can take it back.
	ret := map[string]any{"earnId": num(first, "entryId"), "amount": 5000}
	f.expect(f.call("POST", "/v1/reverse", drucker, "ret", ret), http.StatusForbidden)
	back := f.expect(f.call("POST", "/v1/reverse", baecker, "ret", ret), http.StatusOK)
	if num(back, "points") != 25 {
		t.Fatalf("returned %s", back.raw)
	}
	ret["amount"] = 5001
	f.expect(f.call("POST", "/v1/reverse", baecker, "ret2", ret), http.StatusUnprocessableEntity)
	f.expect(f.call("POST", "/v1/adjust", "admin", "a1", map[string]any{"member": "anna", "points": 10, "reason": "goodwill"}), http.StatusOK)

	hist := f.expect(f.call("GET", "/v1/members/anna/history?limit=2", "admin", "", nil), http.StatusOK)
	if len(hist.body["entries"].([]any)) != 2 || num(hist, "next") == 0 {
		t.Fatalf("history page: %s", hist.raw)
	}

	// Referral codes: only the referrer issues them; the referee applies them.
	f.expect(f.call("POST", "/v1/members", drucker, "e2", map[string]any{"member": "ben"}), http.StatusOK)
	f.expect(f.call("POST", "/v1/referral-codes", drucker, "c1", map[string]any{"referral": referral, "member": "anna"}), http.StatusForbidden)
	code := f.expect(f.call("POST", "/v1/referral-codes", grafik, "c1", map[string]any{"referral": referral, "member": "anna"}), http.StatusOK)
	referred := f.expect(f.call("POST", "/v1/earn", drucker, "till-9",
		map[string]any{"member": "ben", "amount": 10000, "currency": "EUR", "referralCode": code.body["code"]}), http.StatusOK)
	if num(referred, "discount") != 500 || num(referred, "commissionMicros") != 285_000_000 {
		t.Fatalf("referred purchase: %s", referred.raw)
	}
	looked := f.expect(f.call("GET", "/v1/referral-codes/"+code.body["code"].(string), "admin", "", nil), http.StatusOK)
	if num(looked, "uses") != 1 {
		t.Fatalf("code: %s", looked.raw)
	}

	// Settlement reads a partner's entries and marks them, with its own token.
	page := f.expect(f.call("GET", "/v1/settlement/entries?partner="+baecker+"&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", "settlement", "", nil), http.StatusOK)
	entries := page.body["entries"].([]any)
	if len(entries) != 2 {
		t.Fatalf("settlement entries: %s", page.raw)
	}
	ids := []int64{int64(entries[0].(map[string]any)["id"].(float64)), int64(entries[1].(map[string]any)["id"].(float64))}
	// Marking takes an Idempotency-Key like every other write; a retry gets the
	// original count, marked as a replay.
	f.expect(f.call("POST", "/v1/settlement/mark", "settlement", "", map[string]any{"settlement": "s1", "entryIds": ids}), http.StatusBadRequest)
	marked := f.expect(f.call("POST", "/v1/settlement/mark", "settlement", "m1", map[string]any{"settlement": "s1", "entryIds": ids}), http.StatusOK)
	if num(marked, "marked") != 2 {
		t.Fatalf("marked: %s", marked.raw)
	}
	retried := f.expect(f.call("POST", "/v1/settlement/mark", "settlement", "m1", map[string]any{"settlement": "s1", "entryIds": ids}), http.StatusOK)
	if num(retried, "marked") != 2 || retried.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("a retried mark: %s, %v", retried.raw, retried.header)
	}
	f.expect(f.call("POST", "/v1/settlement/mark", "settlement", "m1", map[string]any{"settlement": "s1", "entryIds": ids[:1]}), http.StatusConflict)
	f.expect(f.call("POST", "/v1/settlement/mark", "settlement", "m2", map[string]any{"settlement": "s2", "entryIds": ids}), http.StatusConflict)

	// And the commissions a referee owes, by when they fall due.
	f.expect(f.call("GET", "/v1/settlement/commissions?partner="+drucker+"&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", drucker, "", nil),
		http.StatusForbidden)
	owed := f.expect(f.call("GET", "/v1/settlement/commissions?partner="+drucker+"&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
		"settlement", "", nil), http.StatusOK)
	commissions := owed.body["commissions"].([]any)
	if len(commissions) != 1 {
		t.Fatalf("commissions: %s", owed.raw)
	}
	c := commissions[0].(map[string]any)
	if c["referrer"] != grafik || c["kind"] != "accrual" || c["micros"].(float64) != 285_000_000 {
		t.Fatalf("commission: %s", owed.raw)
	}
	cid := int64(c["id"].(float64))
	marked = f.expect(f.call("POST", "/v1/settlement/commissions/mark", "settlement", "c1",
		map[string]any{"settlement": "s1", "commissionIds": []int64{cid}}), http.StatusOK)
	if num(marked, "marked") != 1 {
		t.Fatalf("marked: %s", marked.raw)
	}
	f.expect(f.call("POST", "/v1/settlement/commissions/mark", "settlement", "c2",
		map[string]any{"settlement": "s2", "commissionIds": []int64{cid}}), http.StatusConflict)
	f.expect(f.call("POST", "/v1/settlement/commissions/mark", "settlement", "c3",
		map[string]any{"settlement": "s2", "commissionIds": []int64{cid + 1000}}), http.StatusNotFound)
	f.expect(f.call("POST", "/v1/settlement/commissions/mark", "settlement", "c4",
		map[string]any{"settlement": "s2", "entryIds": []int64{cid}}), http.StatusBadRequest)
	stats := f.expect(f.call("GET", "/v1/stats", "settlement", "", nil), http.StatusOK)
	if num(stats, "members") != 2 {
		t.Fatalf("stats: %s", stats.raw)
	}
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	f := newFixture(t)
	f.expect(f.call("POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"}), http.StatusOK)
	tests := []struct {
		name   string
		key    string
		body   any
		status int
		detail string
	}{
		{"malformed JSON", "k1", `{"member": "anna", "amount": 100,`, 400, "not JSON"},
		{"an unknown field", "k2", `{"member": "anna", "amount": 100, "currency": "EUR", "points": 5}`, 400, `unknown field "points"`},
		{"a string amount", "k3", `{"member": "anna", "amount": "100", "currency": "EUR"}`, 400, `field "amount"`},
		{"a fractional amount", "k4", `{"member": "anna", "amount": 1.5, "currency": "EUR"}`, 400, `field "amount"`},
		{"beyond int64", "k5", `{"member": "anna", "amount": 9223372036854775808, "currency": "EUR"}`, 400, `field "amount"`},
		{"an exponent", "k6", `{"member": "anna", "amount": 1e30, "currency": "EUR"}`, 400, `field "amount"`},
		{"two objects", "k7", `{"member": "anna", "amount": 100, "currency": "EUR"}{}`, 400, "more than one"},
		{"an empty body", "k8", ``, 400, "empty"},
		{"zero", "k9", map[string]any{"member": "anna", "amount": 0, "currency": "EUR"}, 422, "more than zero"},
		{"negative", "k10", map[string]any{"member": "anna", "amount": -500, "currency": "EUR"}, 422, "more than zero"},
		{"a negative line", "k11", map[string]any{"member": "anna", "amount": 500, "currency": "EUR", "lines": []any{map[string]any{"amount": -1}}}, 422, "lines[0].amount"},
		{"lines that do not add up", "k12", map[string]any{"member": "anna", "amount": 500, "currency": "EUR", "lines": []any{map[string]any{"amount": 400}}}, 422, "add up"},
		{"the wrong currency", "k13", map[string]any{"member": "anna", "amount": 500, "currency": "CHF"}, 422, "EUR"},
		{"beyond the largest amount", "k17", map[string]any{"member": "anna", "amount": 100_000_000_001, "currency": "EUR"}, 422, "100000000000 minor units"},
		{"int64's maximum", "k18", map[string]any{"member": "anna", "amount": int64(9223372036854775807), "currency": "EUR"}, 422, "largest amount"},
		{"an unknown member", "k14", map[string]any{"member": "nobody", "amount": 500, "currency": "EUR"}, 404, "nobody"},
		{"an unknown referral code", "k15", map[string]any{"member": "anna", "amount": 500, "currency": "EUR", "referralCode": "NOPE-1"}, 404, "NOPE-1"},
		{"no Idempotency-Key", "", map[string]any{"member": "anna", "amount": 500, "currency": "EUR"}, 400, "Idempotency-Key"},
		{"an oversized body", "k16", `{"member": "anna", "currency": "EUR", "amount": 1, "referralCode": "` + strings.Repeat("x", MaxBodyBytes) + `"}`, 413, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.t = t
			r := f.expect(f.call("POST", "/v1/earn", baecker, tt.key, tt.body), tt.status)
			if !strings.Contains(r.body["detail"].(string), tt.detail) {
				t.Errorf("detail %q does not say %q", r.body["detail"], tt.detail)
			}
		})
	}
	f.t = t
	// Nothing of it reached the ledger: anna has her signup bonus and no other entry.
	entries, _, err := f.ledger.History(context.Background(), "anna", 0, 100)
	if err != nil || len(entries) != 1 {
		t.Fatalf("history after refused requests: %+v, %v", entries, err)
	}
	req, _ := http.NewRequest("POST", f.url+"/v1/earn", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+f.keys[baecker])
	req.Header.Set("Idempotency-Key", "x")
	req.Header.Set("Content-Type", "text/plain")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("a text/plain body: %v, %v", res, err)
	}
	f.expect(f.call("GET", "/v1/nothing-here", baecker, "", nil), http.StatusNotFound)
}

func TestRoutesMatchTheOpenAPIDocument(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{"GET /openapi.json": true, "GET /healthz": true, "GET /readyz": true}
	for _, rt := range routes {
		served[rt.pattern] = true
	}
	for op := range served {
		if !documented[op] {
			t.Errorf("%s is served but not in openapi.json", op)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("%s is in openapi.json but not served", op)
		}
	}
	f := newFixture(t)
	r := f.call("GET", "/openapi.json", "", "", nil)
	if r.status != 200 || r.raw != string(openAPIDocument) {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
}

// Every route's body and answer, as the OpenAPI document describes them, have
// exactly the fields of their accrualapi types, nested objects and lists
// included, with the JSON types those fields encode as.
func TestTheOpenAPIDocumentDescribesTheWireTypes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct{ Schema schema } `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct{ Schema schema } `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	check := &schemaCheck{t: t, schemas: doc.Components.Schemas}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		body := op.RequestBody.Content["application/json"].Schema
		switch {
		case rt.body == nil && body.Ref+body.Type != "":
			t.Errorf("%s: the document describes a body, the route takes none", rt.pattern)
		case rt.body != nil:
			check.match(rt.pattern+" body", reflect.TypeOf(rt.body), body)
		}
		check.match(rt.pattern+" answer", reflect.TypeOf(rt.answer), op.Responses["200"].Content["application/json"].Schema)
	}
}

// schema is as much of an OpenAPI schema as the wire types need.
type schema struct {
	Ref                  string            `json:"$ref"`
	Type                 string            `json:"type"`
	Format               string            `json:"format"`
	Properties           map[string]schema `json:"properties"`
	Items                *schema           `json:"items"`
	AdditionalProperties json.RawMessage   `json:"additionalProperties"`
}

type schemaCheck struct {
	t       *testing.T
	schemas map[string]schema
}

// match reports where the schema s does not describe how Go type typ encodes.
func (c *schemaCheck) match(at string, typ reflect.Type, s schema) {
	c.t.Helper()
	for s.Ref != "" {
		s = c.schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean", reflect.Int: "integer", reflect.Int64: "integer",
		reflect.Slice: "array", reflect.Map: "object", reflect.Struct: "object"}[typ.Kind()]
	if typ == reflect.TypeFor[time.Time]() {
		want = "string"
		if s.Format != "date-time" {
			c.t.Errorf("%s: a time, documented with format %q", at, s.Format)
		}
	}
	if s.Type != want {
		c.t.Errorf("%s: %s encodes as %q, documented as %q", at, typ, want, s.Type)
		return
	}
	switch {
	case typ.Kind() == reflect.Slice:
		if s.Items == nil {
			c.t.Errorf("%s: a list without items", at)
			return
		}
		c.match(at+"[]", typ.Elem(), *s.Items)
	case typ.Kind() == reflect.Map:
		var values schema
		if err := json.Unmarshal(s.AdditionalProperties, &values); err != nil {
			c.t.Errorf("%s: a map without additionalProperties: %v", at, err)
			return
		}
		c.match(at+"{}", typ.Elem(), values)
	case want == "object":
		fields := map[string]reflect.Type{}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "-" && f.IsExported() {
				fields[name] = f.Type
			}
		}
		for name, ft := range fields {
			p, ok := s.Properties[name]
			if !ok {
				c.t.Errorf("%s: field %q of %s is not documented", at, name, typ)
				continue
			}
			c.match(at+"."+name, ft, p)
		}
		for name := range s.Properties {
			if _, ok := fields[name]; !ok {
				c.t.Errorf("%s: %q is documented, but %s has no such field", at, name, typ)
			}
		}
	}
}

func TestKeysNeverReachTheLogs(t *testing.T) {
	f := newFixture(t)
	f.call("POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	f.call("POST", "/v1/earn", baecker, "k", `{"broken`)
	f.keys["stranger"], _ = newKey()
	f.call("GET", "/v1/stats", "stranger", "", nil)
	logs := f.logs.String()
	if !strings.Contains(logs, "Served request") {
		t.Fatalf("no request logs: %s", logs)
	}
	for who, key := range f.keys {
		if strings.Contains(logs, key) || strings.Contains(logs, key[3:]) {
			t.Errorf("the key of %s is in the logs", who)
		}
	}
}

func TestMetricsAndProbes(t *testing.T) {
	f := newFixture(t)
	f.call("POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	f.call("POST", "/v1/earn", baecker, "k1", map[string]any{"member": "anna", "amount": 1000, "currency": "EUR"})
	f.call("POST", "/v1/earn", baecker, "k2", map[string]any{"member": "anna", "amount": 0, "currency": "EUR"})
	rec := httptest.NewRecorder()
	MetricsHandler(f.reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`treue_accrual_requests_total{code="200",route="POST /v1/earn"} 1`,
		`treue_accrual_requests_total{code="422",route="POST /v1/earn"} 1`,
		`treue_accrual_points_earned_total 5`,
		`treue_accrual_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := f.call("GET", "/readyz", "", "", nil); r.status != 200 {
		t.Fatalf("readyz: %d", r.status)
	}
	_ = f.ledger.Close()
	if r := f.call("GET", "/readyz", "", "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with the ledger closed: %d", r.status)
	}
	if r := f.call("GET", "/healthz", "", "", nil); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// The example in the README is a configuration this build loads.
func TestREADMEConfigurationExampleLoads(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## The accrual service")
	if !ok {
		t.Fatal("the README has no accrual section")
	}
	_, block, ok := strings.Cut(section, "```json\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the accrual section has no JSON example")
	}
	var c accrualapi.Config
	if err := json.Unmarshal([]byte(block), &c); err != nil {
		t.Fatalf("the README's example is not JSON: %v", err)
	}
	dir := t.TempDir()
	c.Ledger.Path = filepath.Join(dir, "ledger.db")
	writeSecrets(t, dir, c)
	raw, _ := json.Marshal(c)
	path := filepath.Join(dir, "accrual.json")
	_ = os.WriteFile(path, raw, 0o600)
	if _, err := LoadConfig(path, dir); err != nil {
		t.Fatalf("the README's example does not load: %v", err)
	}
}

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
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/testbin"
)

// The crash test runs the real binary, drives writes at it from clients that
// retry under their idempotency keys, kills it with SIGKILL mid-load several
// times, restarts it, and then checks that every write it acknowledged is in the
// ledger exactly once and that the books balance.

type service struct {
	t                          *testing.T
	bin, dir, addr, metricAddr string
	cmd                        *exec.Cmd
	log                        *os.File
}

func (s *service) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "accrual", "--config", filepath.Join(s.dir, "accrual.json"), "--secrets-dir", s.dir,
		"--listen", s.addr, "--metrics-listen", s.metricAddr, "--sweep-interval", "0")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("the service did not get ready; its log is %s", s.log.Name())
}

var crashClient = &http.Client{Timeout: 5 * time.Second}

// send posts until the service answers, retrying through crashes with the same
// key and body, as a till would.
func (s *service) send(credential, path, key string, body any) (int, map[string]any) {
	raw, _ := json.Marshal(body)
	for attempt := 0; attempt < 2000; attempt++ {
		req, _ := http.NewRequest("POST", "http://"+s.addr+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+credential)
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Content-Type", "application/json")
		res, err := crashClient.Do(req)
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode >= 500 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return res.StatusCode, out
	}
	s.t.Errorf("%s %s was never answered", path, key)
	return 0, nil
}

func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *service) stop() int {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	err := s.cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	return 0
}

// crashLedger sets the ledger up for a backend and returns its config and the
// DSN the test reads it through afterwards.
func crashLedger(t *testing.T, backend ledger.Backend, dir string) (accrualapi.LedgerConfig, string) {
	if backend == ledger.SQLite {
		path := filepath.Join(dir, "ledger.db")
		return accrualapi.LedgerConfig{Backend: ledger.SQLite, Path: path}, path
	}
	dsn := pgtest.ForTest(t, "crash")
	if err := os.WriteFile(filepath.Join(dir, "ledger-dsn"), []byte(dsn), 0o600); err != nil {
		t.Fatal(err)
	}
	return accrualapi.LedgerConfig{Backend: ledger.PostgreSQL, DSNFile: "ledger-dsn"}, dsn
}

func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash test builds and kills the real binary")
	}
	bin := testbin.BuildTreue(t)
	for _, backend := range []ledger.Backend{ledger.SQLite, ledger.PostgreSQL} {
		t.Run(string(backend), func(t *testing.T) { runCrash(t, bin, backend) })
	}
}

// serviceWithSink writes into dir the configuration and secrets of a service
// on backend whose events go to a receiver that verifies their signatures; it
// returns the keys, the ledger's DSN and the receiver.
func serviceWithSink(t *testing.T, backend ledger.Backend, dir string) (map[string]string, string, *receiver) {
	t.Helper()
	c := testConfig("")
	var dsn string
	c.Ledger, dsn = crashLedger(t, backend, dir)
	secret, _ := events.NewSecret()
	sink := newReceiver(t, secret)
	if err := os.WriteFile(filepath.Join(dir, "sink.whsec"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Events = &accrualapi.EventsConfig{Source: eventsSource, Sinks: []accrualapi.SinkConfig{
		{Name: "warehouse", URL: sink.URL, SigningSecretFiles: []string{"sink.whsec"}}}}
	keys := writeSecrets(t, dir, c)
	raw, _ := json.Marshal(c)
	if err := os.WriteFile(filepath.Join(dir, "accrual.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return keys, dsn, sink
}

type acked struct {
	entryID, points int64
	kind            string
}

func runCrash(t *testing.T, bin string, backend ledger.Backend) {
	dir := t.TempDir()
	// Every write's event goes to a receiver that verifies its signature: the
	// kills land in deliveries as well as in writes.
	keys, readDSN, sink := serviceWithSink(t, backend, dir)
	logFile, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	svc := &service{t: t, bin: bin, dir: dir, addr: testbin.FreeAddr(t), metricAddr: testbin.FreeAddr(t), log: logFile}
	svc.start()

	send := func(path, who, key string, body any) (int, map[string]any) {
		return svc.send(keys[who], path, key, body)
	}

	const clients, opsPerClient = 8, 60
	for i := range clients {
		if code, _ := send("/v1/members", "admin", fmt.Sprintf("enroll-%d", i), map[string]any{"member": fmt.Sprintf("m%d", i)}); code != 200 {
			t.Fatalf("enrolling m%d: %d", i, code)
		}
	}
	var mu sync.Mutex
	acks := map[string]acked{}
	// The killer strikes after every 80 acknowledged writes, so that kills land
	// mid-load however fast the backend is.
	const killEvery = 80
	strike := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			member := fmt.Sprintf("m%d", i)
			partner := []string{baecker, drucker, grafik}[i%3]
			for op := range opsPerClient {
				key := fmt.Sprintf("c%d-op%d", i, op)
				path, body, kind := "/v1/earn", map[string]any{"member": member, "amount": 1000 + op, "currency": "EUR"}, ledger.KindEarn
				if op%5 == 4 {
					path, body, kind = "/v1/redeem", map[string]any{"member": member, "points": 3}, ledger.KindRedeem
				}
				code, out := send(path, partner, key, body)
				if code != 200 {
					t.Errorf("%s: %d %v", key, code, out)
					return
				}
				mu.Lock()
				acks[partner+"|"+key] = acked{entryID: int64(out["entryId"].(float64)), points: int64(out["points"].(float64)), kind: kind}
				if len(acks)%killEvery == 0 && len(acks) < clients*opsPerClient {
					strike <- struct{}{}
				}
				mu.Unlock()
			}
		}()
	}
	// Kill the service mid-load, several times, and bring it back.
	stopKilling := make(chan struct{})
	killed := make(chan int)
	go func() {
		n := 0
		defer func() { killed <- n }()
		for {
			select {
			case <-stopKilling:
				return
			case <-strike:
			}
			svc.kill()
			n++
			svc.start()
		}
	}()
	wg.Wait()
	close(stopKilling)
	kills := <-killed
	if kills < 3 {
		t.Errorf("only %d kills happened during the load; want several", kills)
	}
	if t.Failed() {
		return
	}
	// The last incarnation delivers what is left.
	received, duplicates := awaitDelivery(t, backend, readDSN, sink)
	if code := svc.stop(); code != 0 {
		t.Errorf("SIGTERM: the service exited %d", code)
	}
	if t.Failed() {
		return
	}

	verifyCrash(t, backend, readDSN, acks, clients*opsPerClient)
	t.Logf("%s: %d writes acknowledged through %d kills, each stored once; %d events delivered, each at least once, "+
		"each member's in order (%d sent again after a kill)", backend, len(acks), kills, received, duplicates)
}

// outboxOrder reads every event's id and subject in the order the ledger wrote them.
func outboxOrder(t *testing.T, backend ledger.Backend, dsn string) (ids []string, subjects map[string]string) {
	t.Helper()
	driver := "pgx"
	if backend == ledger.SQLite {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query(`SELECT event_id, subject FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	subjects = map[string]string{}
	for rows.Next() {
		var id, subject string
		if err := rows.Scan(&id, &subject); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		subjects[id] = subject
	}
	return ids, subjects
}

// awaitDelivery waits until the receiver has every event of the ledger, then
// checks that each arrived with the same content every time, and each
// member's in the ledger's order (a repeat of the latest one aside). It
// returns the events and the repeats.
func awaitDelivery(t *testing.T, backend ledger.Backend, dsn string, sink *receiver) (int, int) {
	t.Helper()
	ids, subjects := outboxOrder(t, backend, dsn)
	rank := map[string]int{}
	for i, id := range ids {
		rank[id] = i
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		sink.mu.Lock()
		seen := map[string]bool{}
		for _, e := range sink.events {
			seen[e.ID()] = true
		}
		sink.mu.Unlock()
		if len(seen) >= len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered within a minute", len(seen), len(ids))
		}
		time.Sleep(50 * time.Millisecond)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.refused > 0 {
		t.Errorf("the receiver refused %d requests", sink.refused)
	}
	first := map[string]string{}
	latest := map[string]int{} // per subject, the rank of the latest event received
	duplicates := 0
	for _, e := range sink.events {
		body, _ := json.Marshal(e)
		if prev, ok := first[e.ID()]; ok {
			duplicates++
			if prev != string(body) {
				t.Errorf("event %s arrived twice with different content:\n%s\n%s", e.ID(), prev, body)
			}
		} else {
			first[e.ID()] = string(body)
		}
		r, ok := rank[e.ID()]
		if !ok || subjects[e.ID()] != e.Subject() {
			t.Errorf("event %s about %s is not in the ledger's outbox", e.ID(), e.Subject())
			continue
		}
		if last, ok := latest[e.Subject()]; ok && r < last {
			t.Errorf("%s's event %s arrived after a later one (%s)", e.Subject(), e.ID(), ids[last])
		}
		latest[e.Subject()] = max(latest[e.Subject()], r)
	}
	return len(first), duplicates
}

// verifyCrash checks that every acknowledged write is in the ledger exactly once,
// under the id it was acknowledged with, and that the books balance.
func verifyCrash(t *testing.T, backend ledger.Backend, readDSN string, acks map[string]acked, want int) {
	driver := "pgx"
	if backend == ledger.SQLite {
		driver = "sqlite"
	}
	db, err := sql.Open(driver, readDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rows, err := db.Query(`SELECT actor, idem_key, id, kind, points FROM entries WHERE kind IN ('earn', 'redeem')`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]acked{}
	for rows.Next() {
		var actor, key, kind string
		var id, points int64
		if err := rows.Scan(&actor, &key, &id, &kind, &points); err != nil {
			t.Fatal(err)
		}
		partner := actor[len("partner "):]
		if _, dup := stored[partner+"|"+key]; dup {
			t.Errorf("%s|%s is stored twice", partner, key)
		}
		stored[partner+"|"+key] = acked{entryID: id, points: points, kind: kind}
	}
	_ = rows.Close()
	if len(acks) != want || len(stored) != len(acks) {
		t.Fatalf("%d writes acknowledged, %d stored; want %d each", len(acks), len(stored), want)
	}
	for k, a := range acks {
		s, ok := stored[k]
		want := a.points
		if a.kind == ledger.KindRedeem {
			want = -a.points
		}
		if !ok || s.entryID != a.entryID || s.points != want {
			t.Errorf("%s acknowledged as %+v, stored as %+v", k, a, s)
		}
	}
	var unbalanced, badLots int
	if err := db.QueryRow(`SELECT COUNT(*) FROM (SELECT entry_id FROM postings GROUP BY entry_id HAVING SUM(points) <> 0) AS u`).Scan(&unbalanced); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM lots l WHERE l.remaining <> l.points - COALESCE((SELECT SUM(c.points) FROM consumptions c WHERE c.lot_id = l.id), 0)`).Scan(&badLots); err != nil {
		t.Fatal(err)
	}
	if unbalanced != 0 || badLots != 0 {
		t.Fatalf("%d unbalanced entries, %d lots that disagree with their consumptions", unbalanced, badLots)
	}
}

// Rule changes arrive by restart, never in place: a running service keeps the
// rules it started with when the file changes, and a restarted one takes the new
// rules and keeps the ledger.
func TestRulesChangeByRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	bin := testbin.BuildTreue(t)
	dir := t.TempDir()
	c := testConfig(filepath.Join(dir, "ledger.db"))
	keys := writeSecrets(t, dir, c)
	write := func(c accrualapi.Config) {
		raw, _ := json.Marshal(c)
		if err := os.WriteFile(filepath.Join(dir, "accrual.json"), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(c)
	logFile, _ := os.Create(filepath.Join(dir, "service.log"))
	svc := &service{t: t, bin: bin, dir: dir, addr: testbin.FreeAddr(t), metricAddr: testbin.FreeAddr(t), log: logFile}
	svc.start()
	earn := func(key string) int64 {
		code, out := svc.send(keys[baecker], "/v1/earn", key, map[string]any{"member": "anna", "amount": 1000, "currency": "EUR"})
		if code != 200 {
			t.Fatalf("earn %s: %d %v", key, code, out)
		}
		return int64(out["points"].(float64))
	}
	if code, _ := svc.send(keys["admin"], "/v1/members", "e", map[string]any{"member": "anna"}); code != 200 {
		t.Fatalf("enroll: %d", code)
	}
	if p := earn("k1"); p != 5 {
		t.Fatalf("10.00 EUR at 1 point per 2.00 EUR earned %d", p)
	}
	c.Rules.Earning.BaseRate.Per = "1.00"
	write(c)
	if p := earn("k2"); p != 5 {
		t.Fatalf("the running service changed its rules in place: %d points", p)
	}
	if code := svc.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	svc.start()
	if p := earn("k3"); p != 10 {
		t.Fatalf("after the restart 10.00 EUR at 1 point per 1.00 EUR earned %d", p)
	}
	if p := earn("k1"); p != 5 {
		t.Fatalf("a replay after the restart answered %d, not the original 5", p)
	}
	_ = svc.stop()
}

// Two replicas on one PostgreSQL ledger: one dispatches, so each event is sent
// once; when it is killed, the other takes the lock over and delivers what
// the dead one left and what comes after.
func TestTwoReplicasDispatchEachEventOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("the replica test builds and runs the real binary")
	}
	bin := testbin.BuildTreue(t)
	dir := t.TempDir()
	keys, dsn, sink := serviceWithSink(t, ledger.PostgreSQL, dir)
	replicas := make([]*service, 2)
	for i := range replicas {
		logFile, err := os.Create(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		replicas[i] = &service{t: t, bin: bin, dir: dir, addr: testbin.FreeAddr(t), metricAddr: testbin.FreeAddr(t), log: logFile}
		replicas[i].start()
	}
	write := func(round int) {
		for i := range 20 {
			svc := replicas[i%2]
			if replicas[0] == nil {
				svc = replicas[1]
			}
			member := fmt.Sprintf("m%d", i)
			if code, out := svc.send(keys["admin"], "/v1/members", fmt.Sprintf("e-%d", i), map[string]any{"member": member}); code != 200 {
				t.Fatalf("enrolling %s: %d %v", member, code, out)
			}
			key := fmt.Sprintf("r%d-%d", round, i)
			if code, out := svc.send(keys[baecker], "/v1/earn", key, map[string]any{"member": member, "amount": 1000 + i, "currency": "EUR"}); code != 200 {
				t.Fatalf("earning %s: %d %v", key, code, out)
			}
		}
	}
	write(1)
	received, duplicates := awaitDelivery(t, ledger.PostgreSQL, dsn, sink)
	if duplicates != 0 {
		t.Fatalf("%d events were delivered twice by two live replicas", duplicates)
	}
	dispatching := -1
	for i, r := range replicas {
		if dispatchingGauge(t, r.metricAddr) == 1 {
			if dispatching >= 0 {
				t.Fatal("both replicas say they dispatch")
			}
			dispatching = i
		}
	}
	if dispatching < 0 {
		t.Fatal("no replica says it dispatches")
	}
	// Kill the dispatcher: the other takes over within its lock retry.
	replicas[dispatching].kill()
	survivor := replicas[1-dispatching]
	replicas[0], replicas[1] = nil, survivor
	write(2)
	after, _ := awaitDelivery(t, ledger.PostgreSQL, dsn, sink)
	if dispatchingGauge(t, survivor.metricAddr) != 1 {
		t.Fatal("the survivor delivered without saying it dispatches")
	}
	if code := survivor.stop(); code != 0 {
		t.Errorf("SIGTERM: the survivor exited %d", code)
	}
	t.Logf("%d events delivered once each by one of two replicas; %d in all after the dispatcher was killed", received, after)
}

// dispatchingGauge reads treue_accrual_events_dispatching from a replica.
func dispatchingGauge(t *testing.T, metricsAddr string) float64 {
	t.Helper()
	res, err := crashClient.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "treue_accrual_events_dispatching "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s/metrics has no treue_accrual_events_dispatching", metricsAddr)
	return 0
}

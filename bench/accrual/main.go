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

// Command accrual measures the accrual service over loopback HTTP: a closed-loop
// load of concurrent clients, 80 % earnings and 20 % redemptions spread over many
// members, against the service on the embedded store and on PostgreSQL. In the
// same run the same load drives a bare net/http handler that decodes the same JSON
// and answers a fixed body: the floor of HTTP and JSON on this machine. It prints
// requests per second, p50 and p99 latency, and each service's ratio to the floor.
// Each backend runs twice: without events, and with every write's event sent to
// a local webhook receiver; the ratio of the two throughputs is printed, with the
// outbox's lag under that load (events pending when the load stops, and how long
// the dispatcher takes to deliver them). `make bench-accrual`.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/treue-dev/treue/bench/internal/load"
	"github.com/treue-dev/treue/internal/accrual"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/rules"
)

type options struct {
	duration    time.Duration
	clients     int
	members     int
	backends    string
	postgresDSN string
	cpuProfile  string
	rounds      int
}

const partner = "baeckerei-korn/baeckerei-korn"

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "How long each case runs.")
	flag.IntVar(&o.clients, "clients", 64, "Concurrent closed-loop clients.")
	flag.IntVar(&o.members, "members", 10000, "Members the load spreads over.")
	flag.StringVar(&o.backends, "backends", "sqlite,postgres", "Ledger backends to measure.")
	flag.StringVar(&o.postgresDSN, "postgres-dsn", os.Getenv(pgtest.EnvDSN), "PostgreSQL (a schema of its own is created and dropped).")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "Write a CPU profile of the whole run to this file.")
	flag.IntVar(&o.rounds, "rounds", 1, "Pairs of events off and on per backend, one after the other: each pair's ratio and their median are printed.")
	flag.Parse()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench-accrual: %v\n", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "bench-accrual: %v\n", err)
		os.Exit(1)
	}
}

type result struct {
	name           string
	requests, errs int
	elapsed        time.Duration
	p50, p99       time.Duration
	// events: what the receiver got, what was pending when the load stopped, and
	// how long delivering the rest took.
	events     bool
	received   int64
	pendingEnd int64
	drain      time.Duration
}

func (r result) perSecond() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func run(o options) error {
	fmt.Printf("accrual over loopback HTTP: %d closed-loop clients, %d members, 80/20 earn/redeem, %s per case\n\n",
		o.clients, o.members, o.duration)
	bare, err := measureBare(o)
	if err != nil {
		return err
	}
	results := []result{bare}
	targets := map[string]string{"service, sqlite": "0.5", "service, postgres": "0.3"}
	var withEvents []result
	ratios := map[string][]float64{}
	for _, b := range strings.Split(o.backends, ",") {
		for round := range max(o.rounds, 1) {
			var off result
			for _, on := range []bool{false, true} {
				r, err := measureService(o, ledger.Backend(strings.TrimSpace(b)), on)
				if err != nil {
					return fmt.Errorf("%s: %w", b, err)
				}
				if round == 0 {
					results = append(results, r)
					if on {
						withEvents = append(withEvents, r)
					}
				}
				if on {
					ratios[r.name] = append(ratios[r.name], r.perSecond()/off.perSecond())
				}
				off = r
			}
		}
	}
	fmt.Printf("%-28s %10s %10s %10s %8s %8s %8s\n", "case", "req/s", "p50", "p99", "errors", "÷ bare", "target")
	byName := map[string]result{}
	for _, r := range results {
		byName[r.name] = r
		fmt.Printf("%-28s %10.0f %10s %10s %8d %8.2f %8s\n", r.name, r.perSecond(),
			r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.errs, r.perSecond()/bare.perSecond(), targets[r.name])
	}
	fmt.Printf("\n%-28s %14s %10s %12s %14s %8s\n", "events on ÷ off", "throughput", "p99", "delivered", "pending at end", "drain")
	for _, r := range withEvents {
		off := byName[strings.TrimSuffix(r.name, ", events")]
		fmt.Printf("%-28s %14.2f %10.2f %12d %14d %8s   (target ≥ 0.8)\n", r.name, r.perSecond()/off.perSecond(),
			float64(r.p99)/float64(off.p99), r.received, r.pendingEnd, r.drain.Round(10*time.Millisecond))
	}
	if o.rounds > 1 {
		// The first round is the table's; each round pairs an off and an on
		// run measured one after the other.
		fmt.Printf("\n%-28s %s\n", "events on ÷ off, by round", "(median)")
		for _, r := range withEvents {
			rs := ratios[r.name]
			parts := make([]string, 0, len(rs))
			for _, x := range rs {
				parts = append(parts, fmt.Sprintf("%.2f", x))
			}
			sorted := slices.Clone(rs)
			slices.Sort(sorted)
			fmt.Printf("%-28s %s (%.2f)\n", r.name, strings.Join(parts, " "), sorted[len(sorted)/2])
		}
	}
	return nil
}

// The request bodies, as a till sends them.
type earnBody struct {
	Member   string `json:"member"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type redeemBody struct {
	Member string `json:"member"`
	Points int64  `json:"points"`
}

// drive drives base with the closed-loop mix and collects latencies. A 422 (not
// enough points) is an answer like any other; transport errors and 5xx count as
// errors.
func drive(o options, base, key string, members []string, seq string) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients}, Timeout: 30 * time.Second}
	deadline := time.Now().Add(o.duration)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for c := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for n := 0; time.Now().Before(deadline); n++ {
				member := members[mrand.IntN(len(members))]
				path, body := "/v1/earn", any(earnBody{Member: member, Amount: 100 + mrand.Int64N(20000), Currency: "EUR"})
				if mrand.IntN(5) == 0 {
					path, body = "/v1/redeem", any(redeemBody{Member: member, Points: 1 + mrand.Int64N(20)})
				}
				raw, _ := json.Marshal(body)
				req, _ := http.NewRequest("POST", base+path, bytes.NewReader(raw))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d-%d", seq, c, n))
				t0 := time.Now()
				res, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
				if err != nil || res.StatusCode >= 500 {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := result{requests: len(lat), errs: errs, elapsed: time.Since(start)}
	r.p50, r.p99 = load.Percentiles(lat)
	return r
}

// measureBare serves the floor: decode the same JSON strictly, answer fixed JSON.
func measureBare(o options) (result, error) {
	answer := []byte(`{"entryId":1,"points":10,"discount":0,"amountDue":2000}` + "\n")
	mux := http.NewServeMux()
	handle := func(into func() any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
			dec.DisallowUnknownFields()
			if err := dec.Decode(into()); err != nil || r.Header.Get("Authorization") == "" {
				http.Error(w, "bad", http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
		}
	}
	mux.HandleFunc("POST /v1/earn", handle(func() any { return &earnBody{} }))
	mux.HandleFunc("POST /v1/redeem", handle(func() any { return &redeemBody{} }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()
	members := make([]string, o.members)
	for i := range members {
		members[i] = fmt.Sprintf("m%05d", i)
	}
	r := drive(o, "http://"+ln.Addr().String(), "bare", members, "bare")
	r.name = "bare net/http"
	return r, nil
}

func measureService(o options, backend ledger.Backend, withEvents bool) (result, error) {
	dir, err := os.MkdirTemp("", "bench-accrual-")
	if err != nil {
		return result{}, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	lc := accrualapi.LedgerConfig{Backend: backend, Path: filepath.Join(dir, "ledger.db")}
	if backend == ledger.PostgreSQL {
		dsn, cleanup, err := pgtest.Schema(o.postgresDSN, "bench")
		if err != nil {
			return result{}, err
		}
		defer cleanup()
		if err := os.WriteFile(filepath.Join(dir, "ledger-dsn"), []byte(dsn), 0o600); err != nil {
			return result{}, err
		}
		lc = accrualapi.LedgerConfig{Backend: backend, DSNFile: "ledger-dsn"}
	}
	keys := map[string]string{}
	files := map[string]string{"partner": "partner.sha256", "admin": accrualapi.AdminTokenHashFile, "settlement": accrualapi.SettlementTokenHashFile}
	for who, file := range files {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		keys[who] = hex.EncodeToString(b)
		sum := sha256.Sum256([]byte(keys[who]))
		if err := os.WriteFile(filepath.Join(dir, file), []byte(hex.EncodeToString(sum[:])), 0o600); err != nil {
			return result{}, err
		}
	}
	cfg := accrualapi.Config{
		APIVersion: accrualapi.ConfigVersion, Program: "stadtbonus/stadtbonus",
		// The sample program's rules, with points spendable at once so that the
		// redemptions in the mix find points.
		Rules: rules.Config{
			Currency: "EUR", TimeZone: "Europe/Berlin",
			Earning:       rules.EarningConfig{BaseRate: rules.EarnRateConfig{Points: 1, Per: "2.00"}, SignupBonus: 50},
			PendingPeriod: "P0D",
			Tiers: &rules.TiersConfig{Levels: []rules.TierLevelConfig{
				{Name: "Bronze", Threshold: 0}, {Name: "Silber", Threshold: 1000, EarnMultiplier: "1.25"}, {Name: "Gold", Threshold: 5000, EarnMultiplier: "1.5"},
			}},
			Expiry:     rules.ExpiryConfig{Policy: "Rolling", After: "P36M"},
			Redemption: rules.RedemptionConfig{PointValue: "0.01"},
		},
		Partners: []accrualapi.PartnerConfig{{ID: partner, KeyHashFile: "partner.sha256"}},
		Ledger:   lc,
	}
	var received atomic.Int64
	if withEvents {
		rcv, err := startReceiver(&received)
		if err != nil {
			return result{}, err
		}
		defer func() { _ = rcv.Close() }()
		secret, err := events.NewSecret()
		if err != nil {
			return result{}, err
		}
		if err := os.WriteFile(filepath.Join(dir, "sink.whsec"), []byte(secret), 0o600); err != nil {
			return result{}, err
		}
		cfg.Events = &accrualapi.EventsConfig{Source: "/apis/loyalty.treue.dev/v1alpha1/namespaces/stadtbonus/loyaltyprograms/stadtbonus",
			Sinks: []accrualapi.SinkConfig{{Name: "warehouse", URL: "http://" + rcv.Addr().String(), SigningSecretFiles: []string{"sink.whsec"}}}}
	}
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "accrual.json"), raw, 0o600); err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- accrual.Run(ctx, accrual.Options{
			ConfigPath: filepath.Join(dir, "accrual.json"), SecretsDir: dir, Listen: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0",
			ShutdownGrace: 10 * time.Second, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: ready,
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		return result{}, err
	}
	base := "http://" + addr
	members := make([]string, o.members)
	for i := range members {
		members[i] = fmt.Sprintf("m%05d", i)
	}
	if err := enroll(base, keys["admin"], members, o.clients); err != nil {
		cancel()
		return result{}, err
	}
	r := drive(o, base, keys["partner"], members, "svc")
	r.name = "service, " + string(backend)
	if withEvents {
		r.name += ", events"
		r.events = true
		api := &accrualapi.Client{Endpoint: base, Token: keys["admin"], HTTP: http.DefaultClient}
		stopped := time.Now()
		for {
			st, err := api.Sinks(context.Background())
			if err != nil {
				cancel()
				return result{}, err
			}
			var left int64
			for _, s := range st.Sinks {
				left += s.Pending
			}
			if r.drain == 0 && r.pendingEnd == 0 {
				r.pendingEnd = left
			}
			if left == 0 {
				r.drain = time.Since(stopped)
				break
			}
			if time.Since(stopped) > 5*time.Minute {
				cancel()
				return result{}, fmt.Errorf("%d events still pending five minutes after the load", left)
			}
			time.Sleep(10 * time.Millisecond)
		}
		r.received = received.Load()
	}
	cancel()
	return r, <-done
}

// startReceiver is a webhook receiver that counts what it gets.
func startReceiver(received *atomic.Int64) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	return ln, nil
}

func enroll(base, key string, members []string, workers int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	return load.Parallel(workers, len(members), func(i int) error {
		m := members[i]
		req, _ := http.NewRequest("POST", base+"/v1/members", strings.NewReader(`{"member":"`+m+`"}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Idempotency-Key", "enroll-"+m)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("enrolling %s: status %d", m, res.StatusCode)
		}
		return nil
	})
}

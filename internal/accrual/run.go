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
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/treue-dev/treue/internal/ledger"
)

// Options run the service.
type Options struct {
	ConfigPath  string
	SecretsDir  string
	Listen      string // the API, /openapi.json, /healthz and /readyz
	MetricsAddr string // /metrics, on a port of its own
	// SweepInterval is how often expired lots and due birthday bonuses are
	// written; balances never wait for it.
	SweepInterval time.Duration
	// ShutdownGrace bounds how long in-flight requests may take after SIGTERM.
	ShutdownGrace time.Duration
	Log           *slog.Logger
	// Ready, if set, receives the API's address once it listens.
	Ready chan<- string
}

// ErrConfig marks a configuration that cannot run: the command exits 2.
var ErrConfig = errors.New("bad configuration")

// Run serves until ctx ends, then shuts down gracefully: it stops accepting,
// lets in-flight requests finish (every write they acknowledge is committed
// before its answer), and closes the ledger.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	cfg, err := LoadConfig(o.ConfigPath, o.SecretsDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	l, err := ledger.Open(ctx, ledger.Options{
		Backend: cfg.Config.Ledger.Backend, DSN: cfg.LedgerDSN, Program: cfg.Program, Referrals: cfg.Referrals,
		// Group commit on both stores: a batch's earnings and redemptions are
		// planned together and written with a few statements, where alone each
		// costs about ten (on PostgreSQL, ten round trips). SQLite has one writer
		// and so one lane; PostgreSQL four, which bench/accrual measured at twice
		// the throughput of one transaction per request (eight lanes did no
		// better, and made the batches smaller).
		GroupCommit: true,
		Committers:  committers(cfg.Config.Ledger.Backend),
		// More connections than PostgreSQL has cores to run them only make its
		// backends contend; requests beyond them queue in the pool.
		MaxOpenConns: 16,
		// Events go into the outbox only for a sink to send them to.
		Sinks: cfg.Events.Filters(),
	})
	if err != nil {
		return fmt.Errorf("opening the ledger: %w", err)
	}
	defer func() { _ = l.Close() }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "treue_accrual_ledger_commits_total", Help: "Ledger transactions committed by group commit."},
			func() float64 { return float64(l.CommitStats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "treue_accrual_ledger_batched_writes_total", Help: "Writes committed in those transactions."},
			func() float64 { return float64(l.CommitStats().Writes) }),
	)
	s := NewServer(cfg, l, log, reg)

	api := &http.Server{
		Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10,
	}
	metricsSrv := &http.Server{Handler: MetricsHandler(reg), ReadHeaderTimeout: 5 * time.Second}
	apiLn, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	metricsLn, err := net.Listen("tcp", o.MetricsAddr)
	if err != nil {
		_ = apiLn.Close()
		return fmt.Errorf("listening on %s: %w", o.MetricsAddr, err)
	}
	errs := make(chan error, 2)
	go func() { errs <- api.Serve(apiLn) }()
	go func() { errs <- metricsSrv.Serve(metricsLn) }()
	log.Info("Serving the accrual API", "program", cfg.Config.Program, "address", apiLn.Addr().String(),
		"metrics", metricsLn.Addr().String(), "ledger", string(l.Backend()), "partners", len(cfg.Partners))
	if o.Ready != nil {
		o.Ready <- apiLn.Addr().String()
	}

	sweepCtx, stopSweeps := context.WithCancel(ctx)
	sweepsDone := make(chan struct{})
	go func() {
		defer close(sweepsDone)
		s.sweep(sweepCtx, o.SweepInterval)
	}()
	dispatchDone := make(chan struct{})
	go func() {
		defer close(dispatchDone)
		s.Dispatch(sweepCtx)
	}()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errs:
	}
	stopSweeps()
	<-sweepsDone
	<-dispatchDone
	log.Info("Shutting down: finishing in-flight requests", "grace", o.ShutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), o.ShutdownGrace)
	defer cancel()
	err = errors.Join(api.Shutdown(shutdownCtx), metricsSrv.Shutdown(shutdownCtx))
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(serveErr, err)
	}
	log.Info("Stopped")
	return err
}

// sweep writes expired lots and birthday bonuses now and then. On several
// replicas each write is idempotent under its own key, so it happens once.
func (s *Server) sweep(ctx context.Context, every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.sweepOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepOnce writes the lots expired by the ledger's now and the birthday
// bonuses due by it.
func (s *Server) sweepOnce(ctx context.Context) {
	res, err := s.ledger.Expire(ctx, s.ledger.Now())
	if err != nil && ctx.Err() == nil {
		s.log.Error("Expiry sweep failed", "err", err)
	}
	s.metrics.pointsExpired.Add(float64(res.Points))
	if n, err := s.ledger.GrantBirthdayBonuses(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("Birthday sweep failed", "err", err)
	} else if n > 0 {
		s.log.Info("Granted birthday bonuses", "members", n)
	}
	if e := s.cfg.Events; e != nil {
		if n, err := s.ledger.RemindExpiring(ctx, e.Reminders); err != nil && ctx.Err() == nil {
			s.log.Error("Expiry reminder sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("Wrote expiry reminders", "lots", n)
		}
		if n, err := s.ledger.AnnounceExpiredMemberships(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("Membership expiry sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("Wrote membership expiries", "members", n)
		}
		if n, err := s.ledger.ConfirmCommissions(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("Commission confirmation sweep failed", "err", err)
		} else if n > 0 {
			s.log.Info("Wrote commission confirmations", "commissions", n)
		}
	}
}

// committers is the number of group-commit lanes for a store.
func committers(b ledger.Backend) int {
	if b == ledger.PostgreSQL {
		return 4
	}
	return 1
}

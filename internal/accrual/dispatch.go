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
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
)

// The dispatcher sends the outbox's events to the sinks (issue 18). One replica
// dispatches at a time: on PostgreSQL the one holding the ledger's dispatch
// lock, a session advisory lock (ledger.TryLockDispatch). An advisory lock and
// not a Kubernetes Lease, because the lock must follow the thing whose state it
// guards: it lives and dies with the database connection, so a replica cut off
// from the database or killed loses it at once, while a Lease would need the
// accrual pods to talk to the Kubernetes API (RBAC they do not have) and would
// outlive a replica that lost its database. Deliveries are at least once: what
// a killed dispatcher sent but did not record is sent again by its successor,
// with the same event id, for the receiver to drop.
type dispatcher struct {
	l       *ledger.Ledger
	cfg     *LoadedEvents
	log     *slog.Logger
	m       *eventMetrics
	backoff events.Backoff
	// poll is how long an idle loop waits for new work; a write wakes the
	// fan-out sooner (wake).
	poll time.Duration
	// lockRetry is how often a replica without the lock tries to take it, and
	// how often the holder checks it still holds it.
	lockRetry time.Duration
	// parallel bounds the sends in flight to one sink; batch the deliveries
	// one round takes.
	parallel, batch int
	wake            chan struct{}
	// reviewEvery is how often members due for a review are looked for.
	reviewEvery time.Duration
}

// dispatchParallel bounds the sends in flight to one sink.
const dispatchParallel = 16

func newDispatcher(l *ledger.Ledger, cfg *LoadedEvents, log *slog.Logger, m *eventMetrics) *dispatcher {
	d := &dispatcher{l: l, cfg: cfg, log: log, m: m, backoff: events.DefaultBackoff,
		poll: 200 * time.Millisecond, lockRetry: 5 * time.Second, parallel: dispatchParallel, batch: 256, wake: make(chan struct{}, 1),
		reviewEvery: time.Second}
	return d
}

// Dispatch sends the program's events to its sinks until ctx ends, whenever
// this replica holds the dispatch lock; it returns at once when the program
// declares no sinks. Run runs it.
func (s *Server) Dispatch(ctx context.Context) {
	if s.dispatch != nil {
		s.dispatch.run(ctx)
	}
}

// poke tells the dispatcher that events may have been written.
func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// run dispatches whenever this replica holds the lock, until ctx ends.
func (d *dispatcher) run(ctx context.Context) {
	for ctx.Err() == nil {
		lock, err := d.l.TryLockDispatch(ctx)
		if err != nil {
			if !errors.Is(err, ledger.ErrDispatchTaken) && ctx.Err() == nil {
				d.log.Warn("Could not take the dispatch lock", "err", err)
			}
			sleep(ctx, d.lockRetry)
			continue
		}
		d.log.Info("Dispatching events", "sinks", len(d.cfg.Sinks))
		d.m.dispatching.Set(1)
		d.dispatch(ctx, lock)
		d.m.dispatching.Set(0)
		d.m.resetFigures()
		lock.Release()
		if ctx.Err() == nil {
			d.log.Warn("Lost the dispatch lock: another replica takes over")
		}
	}
}

// dispatch runs the fan-out, one loop per sink and the pruning until ctx ends
// or the lock is lost.
func (d *dispatcher) dispatch(ctx context.Context, lock *ledger.DispatchLock) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	// A round that took a full batch goes on at once; a smaller one waits for
	// the next write (or the poll interval, for retries that come due). Rounds
	// then follow the writes closely: under load a round takes what the writes
	// of the last round left, which keeps the lag small (make bench-accrual
	// prints it); waiting longer to grow the rounds measured no faster.
	for _, s := range d.cfg.Sinks {
		wg.Go(func() {
			for ctx.Err() == nil {
				n, err := d.deliver(ctx, s)
				if err != nil && ctx.Err() == nil {
					d.log.Error("Delivering events failed", "sink", s.Filter.Name, "err", err)
				}
				if err != nil || n < d.batch {
					select {
					case <-ctx.Done():
					case <-d.wake:
					case <-time.After(d.poll):
					}
				}
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			d.figures(ctx)
			if !lock.Held(ctx) {
				cancel()
				return
			}
			sleep(ctx, d.lockRetry)
		}
	})
	wg.Go(func() { d.review(ctx) })
	wg.Go(func() {
		for ctx.Err() == nil {
			if _, err := d.l.PruneEvents(ctx, d.l.Now().Add(-d.cfg.Retention)); err != nil && ctx.Err() == nil {
				d.log.Error("Pruning delivered events failed", "err", err)
			}
			sleep(ctx, time.Hour)
		}
	})
	wg.Wait()
}

// review reviews the members due for it (tier changes, ledger.ReviewMembers)
// every second, at once again after a full round.
func (d *dispatcher) review(ctx context.Context) {
	const round = 256
	for ctx.Err() == nil {
		reviewed, changed, err := d.l.ReviewMembers(ctx, round)
		if err != nil && ctx.Err() == nil {
			d.log.Error("Reviewing members' tiers failed", "err", err)
		}
		if changed > 0 {
			d.log.Debug("Wrote tier changes", "members", changed)
		}
		if err != nil || reviewed < round {
			sleep(ctx, d.reviewEvery)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// deliver makes one round of attempts to a sink: every subject's first due
// event, several subjects at once. It returns the attempts made.
func (d *dispatcher) deliver(ctx context.Context, s LoadedSink) (int, error) {
	due, err := d.l.DueDeliveries(ctx, s.Filter.Name, d.l.Now(), d.batch)
	if err != nil || len(due) == 0 {
		return 0, err
	}
	outcomes := make([]ledger.DeliveryOutcome, len(due))
	sem := make(chan struct{}, d.parallel)
	var wg sync.WaitGroup
	for i, dl := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.Sink.Send(ctx, events.Event{ID: dl.ID, Source: d.cfg.Source, Type: dl.Type, Subject: dl.Subject, Time: dl.Time, Data: dl.Data})
			outcomes[i] = d.outcome(s, dl, err)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		// Stopped mid-round: what was sent is sent again by whoever dispatches
		// next; nothing is recorded as failed for a shutdown.
		return 0, ctx.Err()
	}
	if err := d.l.RecordDeliveries(ctx, s.Filter.Name, d.l.Now(), outcomes); err != nil {
		return 0, err
	}
	return len(due), nil
}

// outcome judges one attempt: delivered, failed and due again after the
// back-off, or failed for longer than the sink's bound and parked dead.
func (d *dispatcher) outcome(s LoadedSink, dl ledger.Delivery, err error) ledger.DeliveryOutcome {
	now := d.l.Now()
	name := s.Filter.Name
	if err == nil {
		d.m.delivered.WithLabelValues(name, dl.Type).Inc()
		d.m.latency.WithLabelValues(name).Observe(max(0, now.Sub(dl.Time).Seconds()))
		return ledger.DeliveryOutcome{Row: dl.Row}
	}
	d.m.failed.WithLabelValues(name, dl.Type).Inc()
	first := dl.FirstFailed
	if first.IsZero() {
		first = now
	}
	o := ledger.DeliveryOutcome{Row: dl.Row, Err: err.Error(), NextAt: now.Add(d.backoff.After(dl.Attempts + 1))}
	if now.Sub(first) >= s.DeadAfter {
		o.Dead = true
		d.m.dead.WithLabelValues(name, dl.Type).Inc()
		d.log.Error("Parked an event the sink did not take", "sink", name, "event", dl.ID, "type", dl.Type,
			"attempts", dl.Attempts+1, "failingSince", first, "err", err)
	}
	return o
}

// figures refreshes the pending gauges from the ledger.
func (d *dispatcher) figures(ctx context.Context) {
	stats, err := d.l.DeliveryStats(ctx)
	if err != nil {
		return
	}
	now := d.l.Now()
	for _, s := range d.cfg.Sinks {
		st := stats[s.Filter.Name]
		d.m.pending.WithLabelValues(s.Filter.Name).Set(float64(st.Pending))
		d.m.deadNow.WithLabelValues(s.Filter.Name).Set(float64(st.Dead))
		age := 0.0
		if !st.OldestPending.IsZero() {
			age = now.Sub(st.OldestPending).Seconds()
		}
		d.m.oldest.WithLabelValues(s.Filter.Name).Set(age)
	}
}

// eventMetrics are the dispatcher's. Pending figures are reported by the
// replica that dispatches only, so that a sum over replicas is right.
type eventMetrics struct {
	delivered, failed, dead *prometheus.CounterVec
	latency                 *prometheus.HistogramVec
	pending, deadNow        *prometheus.GaugeVec
	oldest                  *prometheus.GaugeVec
	dispatching             prometheus.Gauge
}

func newEventMetrics(reg prometheus.Registerer) *eventMetrics {
	bySinkAndType, bySink := []string{"sink", "type"}, []string{"sink"}
	m := &eventMetrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "treue_accrual_events_delivered_total",
			Help: "Events a sink took, by sink and type."}, bySinkAndType),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "treue_accrual_events_failed_attempts_total",
			Help: "Delivery attempts that failed, by sink and type."}, bySinkAndType),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "treue_accrual_events_dead_total",
			Help: "Events parked dead after failing longer than the sink's bound, by sink and type."}, bySinkAndType),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "treue_accrual_event_delivery_seconds",
			Help:    "Time from an event's change to its delivery, by sink.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}}, bySink),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "treue_accrual_events_pending",
			Help: "Events waiting for delivery, by sink (on the dispatching replica)."}, bySink),
		deadNow: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "treue_accrual_events_parked",
			Help: "Events parked dead and not replayed, by sink (on the dispatching replica)."}, bySink),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "treue_accrual_events_oldest_pending_age_seconds",
			Help: "Age of the oldest event waiting for delivery, by sink (on the dispatching replica)."}, bySink),
		dispatching: prometheus.NewGauge(prometheus.GaugeOpts{Name: "treue_accrual_events_dispatching",
			Help: "1 on the replica that holds the dispatch lock."}),
	}
	register(reg, m.delivered, m.failed, m.dead, m.latency, m.pending, m.deadNow, m.oldest, m.dispatching)
	return m
}

func (m *eventMetrics) resetFigures() {
	m.pending.Reset()
	m.deadNow.Reset()
	m.oldest.Reset()
}

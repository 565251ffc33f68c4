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
	"net/http"
	"strconv"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
)

// The events' admin routes: where the sinks stand, their dead events, and the
// replay of those.

func (s *Server) sinksStatus(w http.ResponseWriter, r *http.Request, _ Principal) error {
	out := accrualapi.SinksStatus{Sinks: []accrualapi.SinkStatus{}, At: s.ledger.Now().UTC()}
	if s.cfg.Events == nil {
		return respond(w, out, false)
	}
	stats, err := s.ledger.DeliveryStats(r.Context())
	if err != nil {
		return err
	}
	for _, sink := range s.cfg.Events.Sinks {
		st := stats[sink.Filter.Name]
		ss := accrualapi.SinkStatus{Name: sink.Filter.Name, Partner: sink.Filter.Partner, Delivered: st.Delivered, Pending: st.Pending,
			Dead: st.Dead, LastError: st.LastError, DeadAfter: sink.DeadAfter.String()}
		ss.OldestPending, ss.FailingSince = timeOrNil(st.OldestPending), timeOrNil(st.FailingSince)
		out.Sinks = append(out.Sinks, ss)
	}
	return respond(w, out, false)
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// sink is the route's {sink}, which must be one of the program's.
func (s *Server) sink(r *http.Request) (string, error) {
	name := r.PathValue("sink")
	if s.cfg.Events != nil {
		for _, sink := range s.cfg.Events.Sinks {
			if sink.Filter.Name == name {
				return name, nil
			}
		}
	}
	return "", &problemError{http.StatusNotFound, "unknown-sink", "No such sink",
		errorf("the program has no sink %q; GET /v1/events/sinks lists them", name)}
}

func (s *Server) deadEvents(w http.ResponseWriter, r *http.Request, _ Principal) error {
	name, err := s.sink(r)
	if err != nil {
		return err
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit %q: want 1 to 1000", v)
		}
		limit = n
	}
	dead, err := s.ledger.DeadDeliveries(r.Context(), name, limit)
	if err != nil {
		return err
	}
	out := accrualapi.DeadEventsPage{Events: make([]accrualapi.DeadEvent, 0, len(dead))}
	for _, d := range dead {
		out.Events = append(out.Events, accrualapi.DeadEvent{ID: d.ID, Type: d.Type, Subject: d.Subject, Time: d.Time,
			Attempts: d.Attempts, FirstFailed: d.FirstFailed, LastError: d.LastError})
	}
	return respond(w, out, false)
}

// replayDead puts dead events back for delivery. It needs no Idempotency-Key:
// it only ever moves dead deliveries to pending, so a retry finds none of them
// dead any more and replays nothing twice.
func (s *Server) replayDead(w http.ResponseWriter, r *http.Request, who Principal) error {
	name, err := s.sink(r)
	if err != nil {
		return err
	}
	var req accrualapi.ReplayRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if len(req.EventIDs) > accrualapi.MaxReplay {
		return badRequest("eventIds: %d ids, at most %d per request (or none, for every dead event)", len(req.EventIDs), accrualapi.MaxReplay)
	}
	n, err := s.ledger.ReplayDead(r.Context(), name, req.EventIDs, s.ledger.Now())
	if err != nil {
		return err
	}
	s.log.Info("Replayed dead events", "sink", name, "events", n, "principal", who.String())
	if s.dispatch != nil {
		s.dispatch.poke()
	}
	return respond(w, accrualapi.ReplayResult{Replayed: n}, false)
}

// settlementEvents writes the events of a settlement run the job reports. It
// needs no Idempotency-Key: each event's id comes from the settlement, the run
// and the partner, and a repeat writes nothing.
func (s *Server) settlementEvents(w http.ResponseWriter, r *http.Request, _ Principal) error {
	var o accrualapi.SettlementOutcome
	if err := decode(w, r, &o); err != nil {
		return err
	}
	switch {
	case o.Settlement == "" || o.Cooperation == "" || o.Period == "" || o.Currency == "":
		return badRequest("send the settlement, its cooperation, period and currency")
	case !o.Completed && (o.Run == "" || o.Reason == ""):
		return badRequest("a failed run needs its run id and the reason")
	case len(o.Statements) > accrualapi.MaxMark || len(o.Partners) > accrualapi.MaxMark:
		return badRequest("at most %d statements and partners", accrualapi.MaxMark)
	}
	n, err := s.ledger.RecordSettlementOutcome(r.Context(), o)
	if err != nil {
		return err
	}
	return respond(w, accrualapi.SettlementEventsResult{Events: n}, false)
}

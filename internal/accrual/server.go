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
	"crypto/rand"
	_ "embed" // the OpenAPI document
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/ledger"
)

//go:embed openapi.json
var openAPIDocument []byte

// Server is the accrual service of one program.
type Server struct {
	cfg     *Loaded
	ledger  *ledger.Ledger
	log     *slog.Logger
	metrics *metrics
	api     *http.ServeMux
	// dispatch sends the events; nil when the program declares no sinks.
	dispatch *dispatcher
}

// route is one operation of the API: who may call it, what it does, and the
// accrualapi types of its body and its answer (nil for none), which the OpenAPI
// document describes; a test checks.
type route struct {
	pattern      string
	roles        []Role
	handle       func(s *Server, w http.ResponseWriter, r *http.Request, who Principal) error
	body, answer any
}

// routes are the /v1 API. The OpenAPI document lists exactly these; a test checks.
var routes = []route{
	{"POST /v1/members", []Role{RolePartner, RoleAdmin}, (*Server).enroll, accrualapi.EnrollRequest{}, accrualapi.EnrollResult{}},
	{"GET /v1/members/{member}", []Role{RolePartner, RoleAdmin}, (*Server).member, nil, accrualapi.Member{}},
	{"GET /v1/members/{member}/history", []Role{RolePartner, RoleAdmin}, (*Server).history, nil, accrualapi.HistoryPage{}},
	{"POST /v1/earn", []Role{RolePartner}, (*Server).earn, accrualapi.EarnRequest{}, accrualapi.EarnResult{}},
	{"POST /v1/redeem", []Role{RolePartner}, (*Server).redeem, accrualapi.RedeemRequest{}, accrualapi.RedeemResult{}},
	{"POST /v1/reverse", []Role{RolePartner}, (*Server).reverse, accrualapi.ReverseRequest{}, accrualapi.ReverseResult{}},
	{"POST /v1/adjust", []Role{RoleAdmin}, (*Server).adjust, accrualapi.AdjustRequest{}, accrualapi.AdjustResult{}},
	{"POST /v1/memberships", []Role{RolePartner}, (*Server).payMembership, accrualapi.MembershipFeeRequest{}, accrualapi.MembershipResult{}},
	{"POST /v1/memberships/lapse", []Role{RoleAdmin}, (*Server).lapseMembership, accrualapi.LapseRequest{}, accrualapi.MembershipResult{}},
	{"POST /v1/referral-codes", []Role{RolePartner}, (*Server).issueCode, accrualapi.IssueCodeRequest{}, accrualapi.ReferralCode{}},
	{"GET /v1/referral-codes/{code}", []Role{RolePartner, RoleAdmin}, (*Server).lookupCode, nil, accrualapi.ReferralCode{}},
	{"GET /v1/settlement/entries", []Role{RoleSettlement}, (*Server).settlementEntries, nil, accrualapi.EntriesPage{}},
	{"POST /v1/settlement/mark", []Role{RoleSettlement}, (*Server).markSettled, accrualapi.MarkRequest{}, accrualapi.MarkResult{}},
	{"GET /v1/settlement/commissions", []Role{RoleSettlement}, (*Server).settlementCommissions, nil, accrualapi.CommissionsPage{}},
	{"POST /v1/settlement/commissions/mark", []Role{RoleSettlement}, (*Server).markCommissionsSettled,
		accrualapi.MarkCommissionsRequest{}, accrualapi.MarkResult{}},
	{"GET /v1/stats", []Role{RoleAdmin, RoleSettlement}, (*Server).stats, nil, accrualapi.Stats{}},
	{"POST /v1/settlement/events", []Role{RoleSettlement}, (*Server).settlementEvents, accrualapi.SettlementOutcome{}, accrualapi.SettlementEventsResult{}},
	{"GET /v1/events/sinks", []Role{RoleAdmin}, (*Server).sinksStatus, nil, accrualapi.SinksStatus{}},
	{"GET /v1/events/sinks/{sink}/dead", []Role{RoleAdmin}, (*Server).deadEvents, nil, accrualapi.DeadEventsPage{}},
	{"POST /v1/events/sinks/{sink}/replay", []Role{RoleAdmin}, (*Server).replayDead, accrualapi.ReplayRequest{}, accrualapi.ReplayResult{}},
}

// NewServer builds the service around an open ledger.
func NewServer(cfg *Loaded, l *ledger.Ledger, log *slog.Logger, reg prometheus.Registerer) *Server {
	s := &Server{cfg: cfg, ledger: l, log: log, metrics: newMetrics(reg), api: http.NewServeMux()}
	if cfg.Events != nil {
		s.dispatch = newDispatcher(l, cfg.Events, log, newEventMetrics(reg))
	}
	for _, rt := range routes {
		s.api.Handle(rt.pattern, s.wrap(rt))
	}
	s.api.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPIDocument)
	})
	s.api.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.api.HandleFunc("GET /readyz", s.readyz)
	s.api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, requestID(r), &problemError{http.StatusNotFound, "not-found", "No such operation",
			errorf("%s %s is not an operation of this API; see /openapi.json", r.Method, r.URL.Path)})
	})
	return s
}

// Handler serves the API, /openapi.json, /healthz and /readyz.
func (s *Server) Handler() http.Handler { return s.api }

// MetricsHandler serves Prometheus metrics, on a port of its own.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// readyz answers 200 only when the ledger is reachable (and so migrated: it is
// opened, and migrated, before the server starts).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ledger.Ping(ctx); err != nil {
		s.log.Warn("Ledger unreachable", "err", err)
		http.Error(w, "ledger unreachable\n", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestID is the caller's X-Request-Id when it is a sane one, or a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); validRequestID.MatchString(id) {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// wrap authenticates, authorises, runs the handler, answers errors as problems,
// and logs and counts the request. It never logs the Authorization header.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		who, ok := authenticate(s.cfg.Keys, r)
		var err error
		switch {
		case !ok:
			sw.Header().Set("WWW-Authenticate", `Bearer realm="treue"`)
			err = &problemError{http.StatusUnauthorized, "unauthorized", "Authentication required",
				errorf("send the API key as Authorization: Bearer <key>")}
		case !allowed(rt.roles, who.Role):
			err = &problemError{http.StatusForbidden, "forbidden", "Not allowed",
				errorf("%s may not call %s", who.Role, rt.pattern)}
		default:
			if err = checkURLText(r); err == nil {
				err = rt.handle(s, sw, r, who)
			}
		}
		if err == nil && r.Method == http.MethodPost && s.dispatch != nil {
			s.dispatch.poke()
		}
		if err != nil {
			pe := classify(err)
			if pe.status >= 500 {
				s.metrics.ledgerErrors.Inc()
				s.log.Error("Request failed", "requestId", id, "route", rt.pattern, "err", err)
			}
			writeProblem(sw, id, pe)
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(rt.pattern, strconv.Itoa(sw.status)).Inc()
		s.metrics.latency.WithLabelValues(rt.pattern).Observe(elapsed.Seconds())
		s.log.Info("Served request", "requestId", id, "route", rt.pattern, "status", sw.status,
			"principal", who.String(), "duration", elapsed)
	})
}

func allowed(roles []Role, role Role) bool {
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

// respond writes a 200 JSON answer; a replayed write says so in a header, with
// the original body.
func respond(w http.ResponseWriter, v any, replayed bool) error {
	w.Header().Set("Content-Type", "application/json")
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(v)
}

// idempotencyKey is the request's Idempotency-Key, which every write needs.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" || len(key) > 255 {
		return "", badRequest("send an Idempotency-Key header of 1 to 255 characters with every write, and the same one on retries")
	}
	if err := checkText("Idempotency-Key", key, 255); err != nil {
		return "", err
	}
	return key, nil
}

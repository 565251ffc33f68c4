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
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/rules"
)

func (c *movableClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// receiver is a webhook receiver that verifies every request with the
// reference Standard Webhooks library, as a partner's shop system would, and
// can be taken down.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	down   bool
	events []cloudevent.Event
	// refused counts requests refused for their signature or form.
	refused int
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	verifier, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.down {
			http.Error(w, "receiver down", http.StatusServiceUnavailable)
			return
		}
		var ce cloudevent.Event
		if verifier.Verify(body, req.Header) != nil || req.Header.Get("Content-Type") != events.ContentType ||
			json.Unmarshal(body, &ce) != nil || ce.Validate() != nil {
			r.refused++
			http.Error(w, "refused", http.StatusBadRequest)
			return
		}
		r.events = append(r.events, ce)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setDown(down bool) { r.mu.Lock(); r.down = down; r.mu.Unlock() }

// got lists what arrived as type@subject, without the "dev.treue." prefix, one
// subject after the other: each subject's events in the order they arrived.
// Different subjects are delivered in parallel, so their relative order is
// not part of the contract.
func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bySubject(r.events)
}

func bySubject(es []cloudevent.Event) []string {
	subjects := map[string][]string{}
	var order []string
	for _, e := range es {
		if _, ok := subjects[e.Subject()]; !ok {
			order = append(order, e.Subject())
		}
		subjects[e.Subject()] = append(subjects[e.Subject()], strings.TrimPrefix(e.Type(), "dev.treue.")+"@"+e.Subject())
	}
	slices.Sort(order)
	out := []string{}
	for _, s := range order {
		out = append(out, subjects[s]...)
	}
	return out
}

// drain runs dispatch rounds (one per sink) until a round attempts nothing.
func drain(t *testing.T, f *fixture) {
	t.Helper()
	d := f.server.dispatch
	ctx := context.Background()
	for range 100 {
		attempts := 0
		for _, s := range d.cfg.Sinks {
			n, err := d.deliver(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			attempts += n
		}
		if attempts == 0 {
			return
		}
	}
	t.Fatal("the dispatcher never ran out of work")
}

const eventsSource = "/apis/loyalty.treue.dev/v1alpha1/namespaces/stadtbonus/loyaltyprograms/stadtbonus"

func TestEventsReachTheirSinksSignedInOrderAndOnlyWhereTheyConcern(t *testing.T) {
	for _, backend := range []ledger.Backend{ledger.SQLite, ledger.PostgreSQL} {
		t.Run(string(backend), func(t *testing.T) {
			platformSecret, _ := events.NewSecret()
			oldBakery, _ := events.NewSecret()
			newBakery, _ := events.NewSecret()
			platform, bakery := newReceiver(t, platformSecret), newReceiver(t, oldBakery)
			clock := &movableClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
			f := newFixtureFiles(t, clock, backend, func(c *accrualapi.Config) {
				c.Events = &accrualapi.EventsConfig{Source: eventsSource, Sinks: []accrualapi.SinkConfig{
					{Name: "platform", URL: platform.URL, SigningSecretFiles: []string{"platform.whsec"}, DeadAfter: "1h"},
					// The bakery rotates its secret: both are sent, its receiver still
					// knows only the old one.
					{Name: "baeckerei-korn.shop", Partner: baecker, URL: bakery.URL, SigningSecretFiles: []string{"bakery-new.whsec", "bakery-old.whsec"}},
				}}
			}, map[string]string{"platform.whsec": platformSecret, "bakery-new.whsec": newBakery, "bakery-old.whsec": oldBakery})

			f.expect(f.call("POST", "/v1/members", "admin", "e-anna", map[string]any{"member": "anna"}), http.StatusOK)
			f.expect(f.call("POST", "/v1/members", "admin", "e-ben", map[string]any{"member": "ben"}), http.StatusOK)
			f.expect(f.call("POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 1000, "currency": "EUR"}), http.StatusOK)
			f.expect(f.call("POST", "/v1/earn", drucker, "t2", map[string]any{"member": "ben", "amount": 4000, "currency": "EUR"}), http.StatusOK)
			redeemed := f.expect(f.call("POST", "/v1/redeem", baecker, "t3", map[string]any{"member": "anna", "points": 20}), http.StatusOK)
			drain(t, f)

			anna := make([]string, 0, 6)
			anna = append(anna, "member.enrolled@anna", "points.earned@anna", "points.redeemed@anna")
			ben := []string{"member.enrolled@ben", "points.earned@ben"}
			all := slices.Concat(anna, ben)
			if got := platform.got(); strings.Join(got, " ") != strings.Join(all, " ") {
				t.Fatalf("the platform received %q, want %q", got, all)
			}
			// The bakery hears of enrolments and its own till, never of the printer's.
			mine := []string{"member.enrolled@anna", "points.earned@anna", "points.redeemed@anna", "member.enrolled@ben"}
			if got := bakery.got(); strings.Join(got, " ") != strings.Join(mine, " ") {
				t.Fatalf("the bakery received %q, want %q", got, mine)
			}
			if platform.refused+bakery.refused != 0 {
				t.Fatalf("receivers refused %d requests", platform.refused+bakery.refused)
			}
			entryID := int64(redeemed.body["entryId"].(float64))
			i := slices.IndexFunc(bakery.events, func(e cloudevent.Event) bool { return e.ID() == fmt.Sprintf("entry-%d", entryID) })
			if i < 0 {
				t.Fatalf("the bakery never received the redemption's event entry-%d", entryID)
			}
			last := bakery.events[i]
			var data accrualapi.EntryEvent
			if err := json.Unmarshal(last.Data(), &data); err != nil {
				t.Fatal(err)
			}
			if last.Source() != eventsSource || last.ID() != fmt.Sprintf("entry-%d", entryID) || data.Entry.ID != entryID ||
				data.Entry.Partner != baecker || data.Entry.Points != -20 || !last.Time().Equal(clock.Now()) {
				t.Fatalf("the redemption's event: %s", last)
			}

			anna = outageAndRecovery(t, f, clock, platform, anna, ben)
			deadAndReplay(t, f, clock, platform, anna, ben)
		})
	}
}

// outageAndRecovery takes the platform's receiver down: new events wait, in
// order, and the sink's figures say why; up again, they arrive. It returns
// anna's events so far.
func outageAndRecovery(t *testing.T, f *fixture, clock *movableClock, platform *receiver, anna, ben []string) []string {
	// The platform's receiver goes down: two new events wait, in order, and
	// the sink's figures say why.
	platform.setDown(true)
	f.expect(f.call("POST", "/v1/earn", baecker, "t4", map[string]any{"member": "anna", "amount": 2000, "currency": "EUR"}), http.StatusOK)
	f.expect(f.call("POST", "/v1/redeem", baecker, "t5", map[string]any{"member": "anna", "points": 5}), http.StatusOK)
	drain(t, f)
	st := f.expect(f.call("GET", "/v1/events/sinks", "admin", "", nil), http.StatusOK)
	var status accrualapi.SinksStatus
	if err := json.Unmarshal([]byte(st.raw), &status); err != nil {
		t.Fatal(err)
	}
	p := status.Sinks[0]
	if p.Name != "platform" || p.Pending != 2 || p.Delivered != 5 || p.Dead != 0 || !strings.Contains(p.LastError, "503") ||
		p.FailingSince == nil || !p.FailingSince.Equal(clock.Now()) || p.DeadAfter != "1h0m0s" {
		t.Fatalf("the platform sink while its receiver is down: %+v", p)
	}
	if b := status.Sinks[1]; b.Pending != 0 || b.Delivered != 6 || b.Partner != baecker {
		t.Fatalf("the bakery's sink: %+v", b)
	}
	// Past the back-off, and up again: both arrive, in order.
	clock.Advance(10 * time.Minute)
	platform.setDown(false)
	drain(t, f)
	anna = append(anna, "points.earned@anna", "points.redeemed@anna")
	all := slices.Concat(anna, ben)
	if got := platform.got(); strings.Join(got, " ") != strings.Join(all, " ") {
		t.Fatalf("after the outage the platform has %q, want %q", got, all)
	}
	return anna
}

// deadAndReplay keeps the receiver down for longer than the sink's bound: the
// event is parked dead, counted, and comes through when replayed.
func deadAndReplay(t *testing.T, f *fixture, clock *movableClock, platform *receiver, anna, ben []string) {
	// Down for longer than its bound: the event is parked dead, counted, and
	// comes through when replayed.
	platform.setDown(true)
	f.expect(f.call("POST", "/v1/earn", baecker, "t6", map[string]any{"member": "anna", "amount": 3000, "currency": "EUR"}), http.StatusOK)
	for range 8 {
		drain(t, f)
		clock.Advance(10 * time.Minute)
	}
	dead := f.expect(f.call("GET", "/v1/events/sinks/platform/dead", "admin", "", nil), http.StatusOK)
	var page accrualapi.DeadEventsPage
	if err := json.Unmarshal([]byte(dead.raw), &page); err != nil || len(page.Events) != 1 || page.Events[0].Type != accrualapi.EventPointsEarned ||
		page.Events[0].Attempts < 2 || !strings.Contains(page.Events[0].LastError, "503") {
		t.Fatalf("dead events: %s", dead.raw)
	}
	if v := counterValue(t, f.reg, "treue_accrual_events_dead_total", "platform", accrualapi.EventPointsEarned); v != 1 {
		t.Fatalf("treue_accrual_events_dead_total %v, want 1", v)
	}
	f.expect(f.call("GET", "/v1/events/sinks/nowhere/dead", "admin", "", nil), http.StatusNotFound)
	f.expect(f.call("POST", "/v1/events/sinks/platform/replay", baecker, "", map[string]any{}), http.StatusForbidden)
	platform.setDown(false)
	replayed := f.expect(f.call("POST", "/v1/events/sinks/platform/replay", "admin", "", map[string]any{"eventIds": []string{page.Events[0].ID}}), http.StatusOK)
	if replayed.body["replayed"] != 1.0 {
		t.Fatalf("replay: %s", replayed.raw)
	}
	drain(t, f)
	anna = append(anna, "points.earned@anna")
	all := slices.Concat(anna, ben)
	if got := platform.got(); strings.Join(got, " ") != strings.Join(all, " ") {
		t.Fatalf("after the replay the platform has %q, want %q", got, all)
	}
}

// counterValue reads one labelled counter from the registry.
func counterValue(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i, lp := range m.GetLabel() {
				if i >= len(labels) || lp.GetValue() != labels[i] {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// The sweep reminds members' sinks of points about to expire: the bakery's
// sink of the lot it issued, the platform's of every lot, once per offset.
func TestTheSweepRemindsOfExpiringPoints(t *testing.T) {
	platformSecret, _ := events.NewSecret()
	bakerySecret, _ := events.NewSecret()
	platform, bakery := newReceiver(t, platformSecret), newReceiver(t, bakerySecret)
	clock := &movableClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	t0 := clock.Now()
	f := newFixtureFiles(t, clock, ledger.SQLite, func(c *accrualapi.Config) {
		c.Events = &accrualapi.EventsConfig{Source: eventsSource, ExpiryReminders: []string{"P30D", "P7D"}, Sinks: []accrualapi.SinkConfig{
			{Name: "platform", URL: platform.URL, SigningSecretFiles: []string{"platform.whsec"}},
			{Name: "baeckerei-korn.shop", Partner: baecker, URL: bakery.URL, SigningSecretFiles: []string{"bakery.whsec"},
				Types: []string{accrualapi.EventPointsExpiring}},
		}}
	}, map[string]string{"platform.whsec": platformSecret, "bakery.whsec": bakerySecret})
	f.expect(f.call("POST", "/v1/members", "admin", "e-anna", map[string]any{"member": "anna"}), http.StatusOK)
	f.expect(f.call("POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 1000, "currency": "EUR"}), http.StatusOK)
	ctx := context.Background()
	for _, days := range []int{-40, -29, -29, -6, -6} {
		clock.Advance(t0.AddDate(3, 0, days).Sub(clock.Now()))
		f.server.sweepOnce(ctx)
		drain(t, f)
	}
	got := platform.got()
	want := []string{"member.enrolled@anna", "points.earned@anna", "points.expiring@anna", "points.expiring@anna", "points.expiring@anna", "points.expiring@anna"}
	if !slices.Equal(got, want) {
		t.Fatalf("the platform received %q, want %q", got, want)
	}
	if got := bakery.got(); !slices.Equal(got, []string{"points.expiring@anna", "points.expiring@anna"}) {
		t.Fatalf("the bakery received %q, want its lot's two reminders", got)
	}
	var data accrualapi.PointsExpiring
	if err := json.Unmarshal(bakery.events[1].Data(), &data); err != nil || data.Before != "P7D" || data.Partner != baecker || data.Points != 5 {
		t.Fatalf("the bakery's last reminder: %+v, %v", data, err)
	}
}

// A platform team's NATS JetStream sink gets every event, on a subject per
// type, from the same dispatcher (a real nats-server, the module's, in this
// process).
func TestANATSSinkGetsEveryEvent(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	defer srv.Shutdown()
	f := newFixtureWith(t, nil, ledger.SQLite, func(c *accrualapi.Config) {
		c.Events = &accrualapi.EventsConfig{Source: eventsSource, Sinks: []accrualapi.SinkConfig{
			{Name: "warehouse", NATS: &accrualapi.NATSSinkConfig{URL: srv.ClientURL(), Subject: "stadtbonus.events", Stream: "STADTBONUS"}}}}
	})
	f.expect(f.call("POST", "/v1/members", "admin", "e-anna", map[string]any{"member": "anna"}), http.StatusOK)
	f.expect(f.call("POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 1000, "currency": "EUR"}), http.StatusOK)
	drain(t, f)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), "STADTBONUS")
	if err != nil {
		t.Fatal(err)
	}
	for seq, subject := range map[uint64]string{1: "stadtbonus.events.member.enrolled", 2: "stadtbonus.events.points.earned"} {
		m, err := stream.GetMsg(context.Background(), seq)
		if err != nil || m.Subject != subject {
			t.Fatalf("message %d: %v, %v; want subject %s", seq, m, err, subject)
		}
	}
}

// The running dispatcher reviews members: a purchase that reaches Silber is
// followed, at the platform's and the bakery's sinks alike, by the member's tier
// change, after the purchase's own event.
func TestTheDispatcherAnnouncesATierChangeAfterItsPurchase(t *testing.T) {
	secret, _ := events.NewSecret()
	platform, bakery := newReceiver(t, secret), newReceiver(t, secret)
	clock := &movableClock{t: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	f := newFixtureFiles(t, clock, ledger.SQLite, func(c *accrualapi.Config) {
		c.Rules.Tiers = &rules.TiersConfig{
			Levels: []rules.TierLevelConfig{{Name: "Bronze", Threshold: 0}, {Name: "Silber", Threshold: 1000}},
			Window: rules.WindowConfig{Type: "Rolling", Period: "P12M"},
		}
		c.Events = &accrualapi.EventsConfig{Source: eventsSource, Sinks: []accrualapi.SinkConfig{
			{Name: "platform", URL: platform.URL, SigningSecretFiles: []string{"s.whsec"}},
			{Name: "baeckerei-korn.shop", Partner: baecker, URL: bakery.URL, SigningSecretFiles: []string{"s.whsec"},
				Types: []string{accrualapi.EventPointsEarned, accrualapi.EventTierChanged}},
		}}
	}, map[string]string{"s.whsec": secret})
	f.server.dispatch.reviewEvery = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.server.Dispatch(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	f.expect(f.call("POST", "/v1/members", "admin", "e-anna", map[string]any{"member": "anna"}), http.StatusOK)
	f.expect(f.call("POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 240000, "currency": "EUR"}), http.StatusOK)
	want := []string{"member.enrolled@anna", "points.earned@anna", "tier.changed@anna"}
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Equal(platform.got(), want) || !slices.Equal(bakery.got(), want[1:]) {
		if time.Now().After(deadline) {
			t.Fatalf("the platform received %q, want %q; the bakery %q, want %q", platform.got(), want, bakery.got(), want[1:])
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
	var changed accrualapi.TierChanged
	if err := json.Unmarshal(bakery.events[1].Data(), &changed); err != nil || changed.To != "Silber" || changed.Reason != accrualapi.TierQualified {
		t.Fatalf("the tier change: %+v, %v", changed, err)
	}
}

//go:build e2e

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

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// network is a program of its own in a fresh namespace, whose points are
// available at once (1 point per 1.00 EUR, a point worth 0.01 EUR), with its
// partners and a weekly cooperation "<program>-weekly" that settles them all.
type network struct {
	ns      string
	program string
	url     string            // the program's Service, reached from this machine
	keys    map[string]string // partner name → API key from its credentials Secret
}

// newNetwork creates the namespace (removed after the spec or container that
// calls it), the program, tuned by tune when set, the partners and the
// cooperation. waitReady then waits for them.
func newNetwork(ctx context.Context, program string, tune func(*loyaltyv1alpha1.LoyaltyProgram), partners ...string) *network {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-" + program + "-"}}
	ExpectWithOffset(1, k8s.Create(ctx, ns)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { _ = k8s.Delete(ctx, ns) })
	p := &loyaltyv1alpha1.LoyaltyProgram{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: program},
		Spec: loyaltyv1alpha1.LoyaltyProgramSpec{DisplayName: program, Currency: "EUR", PendingPeriod: "P0D",
			Earning:    loyaltyv1alpha1.EarningRules{BaseRate: loyaltyv1alpha1.EarnRate{Points: 1, Per: "1.00"}},
			Redemption: loyaltyv1alpha1.RedemptionRules{PointValue: "0.01"},
			Partners:   loyaltyv1alpha1.PartnerAdmission{AllowedNamespaces: loyaltyv1alpha1.AllowedNamespaces{From: loyaltyv1alpha1.NamespacesFromSame}}},
	}
	if tune != nil {
		tune(p)
	}
	ExpectWithOffset(1, k8s.Create(ctx, p)).To(Succeed())
	members := make([]loyaltyv1alpha1.CooperationMember, 0, len(partners))
	for _, name := range partners {
		// Each consents to the weekly cooperation, whose issuance it pays.
		ExpectWithOffset(1, k8s.Create(ctx, &loyaltyv1alpha1.Partner{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: name},
			Spec: loyaltyv1alpha1.PartnerSpec{DisplayName: name, ProgramRefs: []loyaltyv1alpha1.NamespacedReference{{Name: program}},
				Consents: []loyaltyv1alpha1.Consent{{Kind: loyaltyv1alpha1.AgreementCooperation, Name: program + "-weekly"}}}})).To(Succeed())
		members = append(members, loyaltyv1alpha1.CooperationMember{
			PartnerRef: loyaltyv1alpha1.NamespacedReference{Name: name}, IssuancePrice: "0.01", RedemptionPrice: "0.008"})
	}
	ExpectWithOffset(1, k8s.Create(ctx, &loyaltyv1alpha1.PartnerCooperation{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: program + "-weekly"},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: program},
			Members: members, Schedule: loyaltyv1alpha1.SettlementSchedule{Cron: "0 3 * * 1"}}})).To(Succeed())
	return &network{ns: ns.Name, program: program, keys: map[string]string{}}
}

// waitReady waits until the program is Ready with its rollout complete (and
// whatever more also checks), then reads the Service's address and the keys.
func (n *network) waitReady(ctx context.Context, also func(Gomega)) {
	eventually(func(g Gomega) {
		p := &loyaltyv1alpha1.LoyaltyProgram{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: n.program}, p)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, loyaltyv1alpha1.ConditionReady)).To(BeTrue(), "%+v", p.Status.Conditions)
		g.Expect(meta.IsStatusConditionFalse(p.Status.Conditions, "Progressing")).To(BeTrue(), "the rollout is not complete")
		if also != nil {
			also(g)
		}
	}).Should(Succeed())
	svc := &corev1.Service{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: n.program + "-accrual"}, svc)).To(Succeed())
	n.url = fmt.Sprintf("http://%s:8080", svc.Spec.ClusterIP)
	waitServed(n.url)
	secrets := &corev1.SecretList{}
	ExpectWithOffset(1, k8s.List(ctx, secrets, client.InNamespace(n.ns))).To(Succeed())
	for _, sec := range secrets.Items {
		if partner, found := strings.CutSuffix(sec.Name, "-"+n.ns+"-"+n.program+"-credentials"); found {
			n.keys[partner] = string(sec.Data["apiKey"])
		}
	}
}

// waitServed waits until the Service at url routes to a ready accrual pod from
// this machine: until kube-proxy has programmed a new Service, its address leads
// nowhere (or to whatever answers off the node).
func waitServed(url string) {
	eventually(func(g Gomega) {
		httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := httpc.Get(url + "/readyz")
		g.Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		g.Expect(res.StatusCode).To(Equal(http.StatusOK))
		g.Expect(string(body)).To(Equal("ok\n"), "not answered by the accrual service")
	}).Should(Succeed())
}

// fromService tells the accrual service's answers (JSON, or JSON problems) from
// those of whatever else may answer at a Service's address while it has no ready
// endpoint: kube-proxy then rejects connections, but a transparent proxy on the
// node's way out (as on the machines CI uses) answers instead, with a plain 404,
// and keeps the connection alive. A client that got such an answer must close its
// idle connections, or it keeps talking to that proxy once the service is back.
func fromService(res *http.Response) bool {
	ct := res.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/problem+json")
}

// ok asserts a 200 and returns the body.
func ok(status int, body map[string]any) map[string]any {
	ExpectWithOffset(1, status).To(Equal(http.StatusOK), "%v", body)
	return body
}

// purchase is one acknowledged earn.
type purchase struct {
	entry, points int64
}

// load keeps one till per member sending 10.00 EUR purchases until stopped.
type load struct {
	url, key string
	retry    bool
	stop     chan struct{}
	wg       sync.WaitGroup

	mu       sync.Mutex
	acked    map[string][]purchase // by member
	failures []string
	retries  int
}

// startLoad starts the tills. Without retry each purchase is sent once (the HTTP
// client may still replay it on a kept-alive connection the server closed before
// reading it, as net/http does for requests with an Idempotency-Key), and any
// error or non-200 answer is a failure. With retry a till resends a purchase under
// the same key until it gets an answer below 500; only a 4xx is a failure.
func startLoad(url, key string, members []string, retry bool) *load {
	l := &load{url: url, key: key, retry: retry, stop: make(chan struct{}), acked: map[string][]purchase{}}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}} // no proxy: the Service directly
	for _, member := range members {
		l.wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				idem := member + "-" + strconv.Itoa(i)
				giveUp := time.Now().Add(3 * time.Minute)
				for {
					p, err := l.send(httpc, member, idem)
					if err == nil {
						l.mu.Lock()
						l.acked[member] = append(l.acked[member], p)
						l.mu.Unlock()
						break
					}
					l.mu.Lock()
					if !l.retry || !err.retryable || time.Now().After(giveUp) {
						l.failures = append(l.failures, fmt.Sprintf("%s: %v", idem, err))
						l.mu.Unlock()
						break
					}
					l.retries++
					l.mu.Unlock()
					time.Sleep(200 * time.Millisecond) // a till's back-off before resending, not synchronisation
				}
			}
		}()
	}
	return l
}

type sendError struct {
	msg       string
	retryable bool
}

func (e *sendError) Error() string { return e.msg }

func (l *load) send(httpc *http.Client, member, idem string) (purchase, *sendError) {
	raw, _ := json.Marshal(map[string]any{"member": member, "amount": 1000, "currency": "EUR"})
	req, _ := http.NewRequest("POST", l.url+"/v1/earn", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+l.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	res, err := httpc.Do(req)
	if err != nil {
		return purchase{}, &sendError{msg: err.Error(), retryable: true}
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	if !fromService(res) {
		httpc.CloseIdleConnections() // see fromService
		return purchase{}, &sendError{msg: fmt.Sprintf("%d %q from something other than the service", res.StatusCode, body), retryable: true}
	}
	if res.StatusCode != http.StatusOK {
		return purchase{}, &sendError{msg: fmt.Sprintf("%d %s", res.StatusCode, body), retryable: res.StatusCode >= 500}
	}
	var out struct {
		EntryID int64 `json:"entryId"`
		Points  int64 `json:"points"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.EntryID == 0 {
		return purchase{}, &sendError{msg: fmt.Sprintf("an answer without an entry: %s", body)}
	}
	return purchase{entry: out.EntryID, points: out.Points}, nil
}

// count returns how many purchases were acknowledged, and how many of them
// earned the given points (0: any).
func (l *load) count(points int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ps := range l.acked {
		for _, p := range ps {
			if points == 0 || p.points == points {
				n++
			}
		}
	}
	return n
}

// halt stops the tills and waits for their last purchases.
func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

// verify checks, member by member, that the ledger holds every acknowledged
// purchase exactly once and nothing else: the earn entries in the history are
// exactly the acknowledged ones, and the balance is their sum.
func (l *load) verify(key string) (entries, points int64) {
	for member, acked := range l.acked {
		want := map[int64]int64{}
		var sum int64
		for _, p := range acked {
			want[p.entry] = p.points
			sum += p.points
		}
		got := map[int64]int64{}
		api := tillOf(l.url, key)
		for before := int64(0); ; {
			page, err := api.History(context.Background(), member, before, 1000)
			ExpectWithOffset(1, err).NotTo(HaveOccurred())
			for _, e := range page.Entries {
				if e.Kind != accrualapi.KindEarn {
					continue
				}
				ExpectWithOffset(1, got).NotTo(HaveKey(e.ID), "entry %d listed twice", e.ID)
				got[e.ID] = e.Points
			}
			if page.Next == 0 {
				break
			}
			before = page.Next
		}
		ExpectWithOffset(1, got).To(Equal(want), "member %s: the ledger's purchases differ from the acknowledged ones", member)
		m, err := api.Member(context.Background(), member, 0)
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		ExpectWithOffset(1, m.Balance.Available).To(BeNumerically("==", sum), "member %s", member)
		entries += int64(len(acked))
		points += sum
	}
	return entries, points
}

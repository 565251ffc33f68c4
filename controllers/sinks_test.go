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

package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
)

// fakeSinks stands in for the programs' services' GET /v1/events/sinks, which
// envtest cannot run: it answers what a spec sets, per program.
type fakeSinks struct {
	mu      sync.Mutex
	reports map[string]accrualapi.SinksStatus
	// replays counts the replays asked of each "program/sink"; dead is what a
	// replay of it answers.
	replays map[string]int
	dead    map[string]int64
}

var testSinks = &fakeSinks{reports: map[string]accrualapi.SinksStatus{}, replays: map[string]int{}, dead: map[string]int64{}}

func (f *fakeSinks) ReplayDead(_ context.Context, program *loyaltyv1alpha1.LoyaltyProgram, sink string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name) + "/" + sink
	f.replays[key]++
	n := f.dead[key]
	f.dead[key] = 0
	return n, nil
}

func (f *fakeSinks) replaysOf(program *loyaltyv1alpha1.LoyaltyProgram, sink string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replays[loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name)+"/"+sink]
}

func (f *fakeSinks) park(program *loyaltyv1alpha1.LoyaltyProgram, sink string, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead[loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name)+"/"+sink] = n
}

func (f *fakeSinks) ReadSinks(_ context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.SinksStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.reports[loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name)]
	if !ok {
		return st, fmt.Errorf("no report for %s/%s", program.Namespace, program.Name)
	}
	return st, nil
}

func (f *fakeSinks) set(program *loyaltyv1alpha1.LoyaltyProgram, sinks ...accrualapi.SinkStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports[loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name)] = accrualapi.SinksStatus{Sinks: sinks, At: time.Now()}
}

func signingSecret(ns, name string, keys ...string) *corev1.Secret {
	data := map[string][]byte{}
	for i, k := range keys {
		data[[]string{signingSecretKey, previousSigningSecretKey}[i]] = []byte(k)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

func eventsCondition(conditions []metav1.Condition) *metav1.Condition {
	return meta.FindStatusCondition(conditions, loyaltyv1alpha1.ConditionEventsDelivering)
}

var _ = Describe("Event sinks", func() {
	It("run once their signing Secret is good, reach the service's configuration, and report their figures on the program and the partner", func(ctx SpecContext) {
		programNS, partnerNS := newNamespace(ctx), newNamespace(ctx)
		program := newProgram(programNS, "city", loyaltyv1alpha1.NamespacesFromAll, nil)
		program.Spec.Events = &loyaltyv1alpha1.ProgramEvents{
			Sinks: []loyaltyv1alpha1.EventSink{{Name: "warehouse", URI: "https://warehouse.example/treue",
				SigningSecretRef: &loyaltyv1alpha1.LocalObjectReference{Name: "warehouse-signing"},
				DeadAfter:        &metav1.Duration{Duration: 2 * time.Hour}}},
			Retention:       &metav1.Duration{Duration: 72 * time.Hour},
			ExpiryReminders: []loyaltyv1alpha1.Duration{"P30D", "P7D"},
		}
		Expect(k8sClient.Create(ctx, program)).To(Succeed())

		// No signing Secret yet: the sink does not run, and the program says what
		// to create.
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
			c := eventsCondition(got.Status.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonSigningSecretMissing))
			g.Expect(c.Message).To(ContainSubstring("Secret " + programNS + "/warehouse-signing does not exist"))
			g.Expect(renderedConfig(g, ctx, program).Events).To(BeNil())
		}).Should(Succeed())

		secret, err := events.NewSecret()
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, signingSecret(programNS, "warehouse-signing", secret))).To(Succeed())
		testSinks.set(program, accrualapi.SinkStatus{Name: "program.warehouse", Delivered: 5, Pending: 1, DeadAfter: "2h0m0s",
			OldestPending: ptrTo(time.Now().Add(-30 * time.Second))})
		eventually(ctx, func(g Gomega) {
			c := renderedConfig(g, ctx, program)
			g.Expect(c.Events).NotTo(BeNil())
			g.Expect(c.Events.Source).To(Equal("/apis/loyalty.treue.dev/v1alpha1/namespaces/" + programNS + "/loyaltyprograms/city"))
			g.Expect(c.Events.Retention).To(Equal("72h0m0s"))
			g.Expect(c.Events.ExpiryReminders).To(Equal([]string{"P30D", "P7D"}))
			g.Expect(c.Events.Sinks).To(Equal([]accrualapi.SinkConfig{{Name: "program.warehouse", URL: "https://warehouse.example/treue",
				SigningSecretFiles: []string{"sink-program.warehouse.whsec"}, DeadAfter: "2h0m0s"}}))
			files := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: programNS, Name: accrualSecretsName(program)}, files)).To(Succeed())
			g.Expect(string(files.Data["sink-program.warehouse.whsec"])).To(Equal(secret))
			got := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
			g.Expect(got.Status.Events).To(HaveLen(1))
			g.Expect(got.Status.Events[0].Name).To(Equal("warehouse"))
			g.Expect(got.Status.Events[0].Delivered).To(Equal(int64(5)))
			g.Expect(got.Status.Events[0].Pending).To(Equal(int64(1)))
			g.Expect(got.Status.Events[0].OldestPendingAge.Duration).To(BeNumerically(">=", 30*time.Second))
			c2 := eventsCondition(got.Status.Conditions)
			g.Expect(c2.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c2.Reason).To(Equal(loyaltyv1alpha1.ReasonDelivering))
		}).Should(Succeed())

		// Dead events turn the condition False, with how to replay them.
		testSinks.set(program, accrualapi.SinkStatus{Name: "program.warehouse", Delivered: 5, Dead: 2, DeadAfter: "2h0m0s",
			LastError: "the receiver refused the event: HTTP 503"})
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
			c := eventsCondition(got.Status.Conditions)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonSinkFailing))
			g.Expect(c.Message).To(ContainSubstring("2 dead events"))
			g.Expect(c.Message).To(ContainSubstring("POST /v1/events/sinks/program.warehouse/replay"))
			g.Expect(c.Message).To(ContainSubstring(loyaltyv1alpha1.AnnotationReplayEvents))
			g.Expect(got.Status.Events[0].LastError).To(ContainSubstring("HTTP 503"))
		}).Should(Succeed())
		replayByAnnotation(ctx, program)

		// A partner's sink: a Service of its namespace, signed with the new and the
		// previous secret during a rotation.
		current, _ := events.NewSecret()
		previous, _ := events.NewSecret()
		Expect(k8sClient.Create(ctx, signingSecret(partnerNS, "shop-webhook", current, previous))).To(Succeed())
		partner := newPartner(partnerNS, "bakery", programNS, "city")
		partner.Spec.Events = &loyaltyv1alpha1.PartnerEvents{Sinks: []loyaltyv1alpha1.EventSink{{Name: "shop",
			Ref:              &loyaltyv1alpha1.SinkServiceReference{Name: "shop", Port: 8080, Path: "/hooks/treue"},
			Types:            []loyaltyv1alpha1.EventType{accrualapi.EventPointsEarned, accrualapi.EventPointsExpired},
			SigningSecretRef: &loyaltyv1alpha1.LocalObjectReference{Name: "shop-webhook"}}}}
		Expect(k8sClient.Create(ctx, partner)).To(Succeed())
		sinkName := partnerNS + ".bakery.shop"
		testSinks.set(program, accrualapi.SinkStatus{Name: "program.warehouse", Delivered: 7, DeadAfter: "2h0m0s"},
			accrualapi.SinkStatus{Name: sinkName, Partner: partnerNS + "/bakery", Delivered: 3, DeadAfter: "24h0m0s"})
		eventually(ctx, func(g Gomega) {
			c := renderedConfig(g, ctx, program)
			g.Expect(c.Events).NotTo(BeNil())
			g.Expect(c.Events.Sinks).To(ContainElement(accrualapi.SinkConfig{Name: sinkName, Partner: partnerNS + "/bakery",
				URL:                "http://shop." + partnerNS + ".svc:8080/hooks/treue",
				Types:              []string{accrualapi.EventPointsEarned, accrualapi.EventPointsExpired},
				SigningSecretFiles: []string{"sink-" + sinkName + ".whsec", "sink-" + sinkName + ".previous.whsec"}}))
			files := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: programNS, Name: accrualSecretsName(program)}, files)).To(Succeed())
			g.Expect(string(files.Data["sink-"+sinkName+".previous.whsec"])).To(Equal(previous))
			got := &loyaltyv1alpha1.Partner{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
			g.Expect(got.Status.Programs).To(HaveLen(1))
			g.Expect(got.Status.Programs[0].Events).To(HaveLen(1))
			g.Expect(got.Status.Programs[0].Events[0].Name).To(Equal("shop"))
			g.Expect(got.Status.Programs[0].Events[0].Delivered).To(Equal(int64(3)))
			pc := eventsCondition(got.Status.Programs[0].Conditions)
			g.Expect(pc).NotTo(BeNil())
			g.Expect(pc.Status).To(Equal(metav1.ConditionTrue))
			// The program's status keeps to its own sinks.
			prog := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), prog)).To(Succeed())
			g.Expect(prog.Status.Events).To(HaveLen(1))
			g.Expect(eventsCondition(prog.Status.Conditions).Status).To(Equal(metav1.ConditionTrue))
		}).Should(Succeed())

		// A bad secret in the partner's Secret: the partner's sink stops, and the
		// partner's status says why, without the secret.
		bad := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: partnerNS, Name: "shop-webhook"}, bad)).To(Succeed())
		bad.Data[signingSecretKey] = []byte("hunter2hunter2hunter2hunter2")
		Expect(k8sClient.Update(ctx, bad)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.Partner{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
			pc := eventsCondition(got.Status.Programs[0].Conditions)
			g.Expect(pc.Reason).To(Equal(loyaltyv1alpha1.ReasonSigningSecretMissing))
			g.Expect(pc.Message).To(ContainSubstring("not a Standard Webhooks secret"))
			g.Expect(pc.Message).NotTo(ContainSubstring("hunter2"))
			sinks := renderedConfig(g, ctx, program).Events.Sinks
			names := make([]string, 0, len(sinks))
			for _, s := range sinks {
				names = append(names, s.Name)
			}
			g.Expect(names).To(Equal([]string{"program.warehouse"}))
		}).Should(Succeed())
		// The partner's replay asks only for its sinks that run: none now.
		testSinks.park(program, sinkName, 4)
		annotate(ctx, partner, "after-the-bad-secret")
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.Partner{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
			g.Expect(got.Status.LastHandledEventsReplay).To(Equal("after-the-bad-secret"))
		}).Should(Succeed())
		Expect(testSinks.replaysOf(program, sinkName)).To(Equal(0))
		// With the secret mended, it replays its sink in the program, and the
		// event says how many went out.
		bad.Data[signingSecretKey] = []byte(current)
		Expect(k8sClient.Update(ctx, bad)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(renderedConfig(g, ctx, program).Events.Sinks).To(HaveLen(2))
		}).Should(Succeed())
		annotate(ctx, partner, "mended")
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.Partner{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
			g.Expect(got.Status.LastHandledEventsReplay).To(Equal("mended"))
			g.Expect(testSinks.replaysOf(program, sinkName)).To(Equal(1))
			g.Expect(eventsFor(g, ctx, partner)).To(ContainElement(ContainSubstring("EventsReplayed: Sent 4 parked dead events again (sinks: shop in " +
				programNS + "/city)")))
		}).Should(Succeed())
		Expect(testSinks.replaysOf(program, "program.warehouse")).To(Equal(1), "the partner's replay reached the program's sink")
	})
})

// annotate sets the replay annotation of obj to value.
func annotate(ctx context.Context, obj client.Object, value string) {
	GinkgoHelper()
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, loyaltyv1alpha1.AnnotationReplayEvents, value))
	Expect(k8sClient.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
}

// replayByAnnotation: a new value of the annotation replays the program's sink
// once, the status records it, an event counts it; the same value again does
// nothing.
func replayByAnnotation(ctx SpecContext, program *loyaltyv1alpha1.LoyaltyProgram) {
	GinkgoHelper()
	testSinks.park(program, "program.warehouse", 2)
	annotate(ctx, program, "2026-12-02T16:00:00+00:00")
	eventually(ctx, func(g Gomega) {
		got := &loyaltyv1alpha1.LoyaltyProgram{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
		g.Expect(got.Status.LastHandledEventsReplay).To(Equal("2026-12-02T16:00:00+00:00"))
		g.Expect(eventsFor(g, ctx, program)).To(ContainElement(ContainSubstring("EventsReplayed: Sent 2 parked dead events again (sinks: warehouse)")))
	}).Should(Succeed())
	Expect(testSinks.replaysOf(program, "program.warehouse")).To(Equal(1))
	// Another change of the program (a new generation) does not replay again.
	got := &loyaltyv1alpha1.LoyaltyProgram{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
	got.Spec.Events.Retention = &metav1.Duration{Duration: 96 * time.Hour}
	Expect(k8sClient.Update(ctx, got)).To(Succeed())
	eventually(ctx, func(g Gomega) {
		g.Expect(renderedConfig(g, ctx, program).Events.Retention).To(Equal("96h0m0s"))
	}).Should(Succeed())
	Expect(testSinks.replaysOf(program, "program.warehouse")).To(Equal(1))
}

func ptrTo[T any](v T) *T { return &v }

var _ = Describe("The README's events YAML", func() {
	It("is accepted by the API server: the Partner as written, the program's events on a minimal program", func(ctx SpecContext) {
		raw, err := os.ReadFile(filepath.Join("..", "README.md"))
		Expect(err).NotTo(HaveOccurred())
		_, section, found := strings.Cut(string(raw), "\n## Events\n")
		Expect(found).To(BeTrue(), "the README has no '## Events' section")
		_, block, found := strings.Cut(section, "```yaml\n")
		Expect(found).To(BeTrue())
		block, _, _ = strings.Cut(block, "```")
		docs := strings.Split(block, "\n---\n")
		Expect(docs).To(HaveLen(2))
		ns := newNamespace(ctx)

		partner := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(docs[0]), &partner.Object)).To(Succeed())
		Expect(partner.GetKind()).To(Equal("Partner"))
		partner.SetNamespace(ns)
		Expect(k8sClient.Create(ctx, partner)).To(Succeed())

		documented := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(docs[1]), &documented.Object)).To(Succeed())
		events, found, err := unstructured.NestedMap(documented.Object, "spec", "events")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue())
		program := minimalObjects()["LoyaltyProgram"]
		program.SetNamespace(ns)
		Expect(unstructured.SetNestedMap(program.Object, events, "spec", "events")).To(Succeed())
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
	})
})

var _ = Describe("A NATS sink", func() {
	It("runs once its credentials Secret exists, and reaches the service's configuration with them", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromAll, nil)
		program.Spec.Events = &loyaltyv1alpha1.ProgramEvents{Sinks: []loyaltyv1alpha1.EventSink{{Name: "warehouse",
			NATS: &loyaltyv1alpha1.NATSDestination{URL: "nats://nats.warehouse:4222", Subject: "city.events", Stream: "CITY",
				CredentialsSecretRef: &loyaltyv1alpha1.LocalObjectReference{Name: "nats-creds"}}}}}
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
			c := eventsCondition(got.Status.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonSigningSecretMissing))
			g.Expect(c.Message).To(ContainSubstring("Secret " + ns + "/nats-creds with key \"creds\""))
		}).Should(Succeed())
		creds := "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QifQ\n------END NATS USER JWT------\n"
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nats-creds"},
			Data: map[string][]byte{"creds": []byte(creds)}})).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c := renderedConfig(g, ctx, program)
			g.Expect(c.Events).NotTo(BeNil())
			g.Expect(c.Events.Sinks).To(Equal([]accrualapi.SinkConfig{{Name: "program.warehouse", NATS: &accrualapi.NATSSinkConfig{
				URL: "nats://nats.warehouse:4222", Subject: "city.events", Stream: "CITY", CredentialsFile: "sink-program.warehouse.creds"}}}))
			files := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: accrualSecretsName(program)}, files)).To(Succeed())
			g.Expect(string(files.Data["sink-program.warehouse.creds"])).To(Equal(creds))
		}).Should(Succeed())
	})
})

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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// eventsFor lists the events about one object, as "Type Reason: note".
func eventsFor(g Gomega, ctx SpecContext, obj client.Object) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8sClient.List(ctx, list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() {
			out = append(out, e.Type+" "+e.Reason+": "+e.Note)
		}
	}
	return out
}

var _ = Describe("Events", func() {
	It("tell an accepted partner once, naming its Secret, and say nothing while a new program's workload starts", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "quiet", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		partner := newPartner(ns, "shop", ns, "quiet")
		Expect(k8sClient.Create(ctx, partner)).To(Succeed())

		secret := credentialsSecretName("shop", ns, "quiet")
		eventually(ctx, func(g Gomega) {
			g.Expect(eventsFor(g, ctx, partner)).To(ConsistOf(
				And(HavePrefix(corev1.EventTypeNormal+" "+loyaltyv1alpha1.ReasonAccepted+": "), ContainSubstring(secret))))
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			g.Expect(p.Status.Partners).To(Equal(int32(1)))
		}).Should(Succeed())
		// Absence needs a while to show: no CredentialsIssued on top of the
		// Accepted event, and no Warning for a workload that is only starting.
		Consistently(func(g Gomega) {
			g.Expect(eventsFor(g, ctx, partner)).To(HaveLen(1))
			g.Expect(eventsFor(g, ctx, program)).To(BeEmpty())
		}).WithContext(ctx).WithTimeout(2 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

		// A Secret deleted behind the operator's back comes again, and that is news.
		Expect(k8sClient.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secret}})).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(eventsFor(g, ctx, partner)).To(ContainElement(
				And(HavePrefix(corev1.EventTypeNormal+" CredentialsIssued: "), ContainSubstring(secret))))
		}).Should(Succeed())
	})

	It("warn when a new program cannot run", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "nodb", loyaltyv1alpha1.NamespacesFromSame, nil)
		program.Spec.Ledger = loyaltyv1alpha1.LedgerSpec{Type: loyaltyv1alpha1.LedgerPostgreSQL,
			PostgreSQL: &loyaltyv1alpha1.PostgreSQLLedger{DSNSecretRef: loyaltyv1alpha1.SecretKeyReference{Name: "nodb-dsn", Key: "dsn"}}}
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(eventsFor(g, ctx, program)).To(ContainElement(
				And(HavePrefix(corev1.EventTypeWarning+" "), ContainSubstring("nodb-dsn"))))
		}).Should(Succeed())
	})
})

var _ = Describe("A new program's first rollout", func() {
	It("is Available only once a pod of the current configuration is ready, with one event and no Warning; an outage after that warns", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "firstday", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		Expect(k8sClient.Create(ctx, newPartner(ns, "shop", ns, "firstday"))).To(Succeed())
		eventually(ctx, func(g Gomega) {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			g.Expect(p.Status.Partners).To(Equal(int32(1)))
			g.Expect(p.Status.ConfigHash).To(Equal(podHash(g, ctx, p)))
			program = p
		}).Should(Succeed())

		// What a StatefulSet of one reports while the partner's acceptance changes
		// the configuration of a program whose first pod is just starting: the pod
		// of the first configuration becomes ready, is replaced, and its successor
		// becomes ready.
		setStatus := func(ready, updated int32) {
			// Read and written again if the StatefulSet changed in between.
			eventually(ctx, func() error {
				sts := &appsv1.StatefulSet{}
				if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "firstday-accrual"}, sts); err != nil {
					return err
				}
				sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: ready, AvailableReplicas: ready,
					UpdatedReplicas: updated, CurrentReplicas: 1 - updated}
				return k8sClient.Status().Update(ctx, sts)
			}).Should(Succeed())
		}
		available := func(g Gomega) *metav1.Condition {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			c := meta.FindStatusCondition(p.Status.Conditions, loyaltyv1alpha1.ConditionAvailable)
			g.Expect(c).NotTo(BeNil())
			return c
		}
		for _, step := range []struct {
			ready, updated int32
			message        string
		}{
			{1, 0, "0 of 1 pods run the current configuration, 1 are ready"},
			{0, 1, "1 of 1 pods run the current configuration, 0 are ready"},
		} {
			setStatus(step.ready, step.updated)
			eventually(ctx, func(g Gomega) {
				c := available(g)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "a pod of a replaced configuration is no availability")
				g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonWorkloadStarting))
				g.Expect(c.Message).To(ContainSubstring(step.message))
			}).Should(Succeed())
		}
		setStatus(1, 1)
		eventually(ctx, func(g Gomega) {
			g.Expect(available(g).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(eventsFor(g, ctx, program)).To(ConsistOf(HavePrefix(corev1.EventTypeNormal + " " + loyaltyv1alpha1.ReasonWorkloadAvailable + ": ")))
		}).Should(Succeed())

		// After that, no ready pod is an outage, and says so.
		setStatus(0, 1)
		eventually(ctx, func(g Gomega) {
			g.Expect(available(g).Reason).To(Equal(loyaltyv1alpha1.ReasonWorkloadUnavailable))
			g.Expect(eventsFor(g, ctx, program)).To(ConsistOf(
				HavePrefix(corev1.EventTypeNormal+" "+loyaltyv1alpha1.ReasonWorkloadAvailable+": "),
				HavePrefix(corev1.EventTypeWarning+" "+loyaltyv1alpha1.ReasonWorkloadUnavailable+": ")))
		}).Should(Succeed())
	})
})

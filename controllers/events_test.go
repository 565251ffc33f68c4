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
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
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

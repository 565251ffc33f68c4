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
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// fakeStats stands in for the programs' accrual services, which envtest cannot
// run: it answers the counts a spec sets.
type fakeStats struct {
	mu     sync.Mutex
	counts map[string]accrualapi.ReferralStats
}

var testStats = &fakeStats{counts: map[string]accrualapi.ReferralStats{}}

func (f *fakeStats) ReadStats(_ context.Context, _ *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := accrualapi.Stats{Referrals: map[string]accrualapi.ReferralStats{}}
	for k, v := range f.counts {
		st.Referrals[k] = v
	}
	return st, nil
}

func (f *fakeStats) set(key string, v accrualapi.ReferralStats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[key] = v
}

func newReferral(ns, name, referrer, referee string) *loyaltyv1alpha1.ReferralDiscount {
	return &loyaltyv1alpha1.ReferralDiscount{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: loyaltyv1alpha1.ReferralDiscountSpec{
			ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "city"},
			Referrer:   loyaltyv1alpha1.NamespacedReference{Name: referrer},
			Referee:    loyaltyv1alpha1.NamespacedReference{Name: referee},
			Discount:   loyaltyv1alpha1.ReferralDiscountValue{Type: loyaltyv1alpha1.DiscountPercent, Percent: "5"},
			Commission: loyaltyv1alpha1.ReferralCommission{Type: loyaltyv1alpha1.CommissionPercent, Percent: "3"},
			CodePrefix: "AGENCY",
		},
	}
}

func referralReady(g Gomega, ctx SpecContext, rd *loyaltyv1alpha1.ReferralDiscount) (*metav1.Condition, *loyaltyv1alpha1.ReferralDiscount) {
	got := &loyaltyv1alpha1.ReferralDiscount{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(rd), got)).To(Succeed())
	g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	c := meta.FindStatusCondition(got.Status.Conditions, loyaltyv1alpha1.ConditionReady)
	g.Expect(c).NotTo(BeNil())
	return c, got
}

func renderedReferrals(g Gomega, ctx SpecContext, ns string) []string {
	program := &loyaltyv1alpha1.LoyaltyProgram{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city"}, program)).To(Succeed())
	referrals := renderedConfig(g, ctx, program).Referrals
	ids := make([]string, 0, len(referrals))
	for _, r := range referrals {
		ids = append(ids, r.ID)
	}
	return ids
}

var _ = Describe("The ReferralDiscount controller", func() {
	It("issues codes only for an agreement whose commission can be settled, and reports its counts", func(ctx SpecContext) {
		ns, elsewhere := newNamespace(ctx), newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		for _, p := range []string{"agency", "printer"} {
			Expect(k8sClient.Create(ctx, newPartner(ns, p, ns, "city"))).To(Succeed())
		}
		Expect(k8sClient.Create(ctx, newPartner(elsewhere, "outsider", ns, "city"))).To(Succeed())
		rd := newReferral(ns, "agency-recommends-printer", "agency", "printer")
		Expect(k8sClient.Create(ctx, rd)).To(Succeed())

		// No cooperation settles them: no codes.
		eventually(ctx, func(g Gomega) {
			c, got := referralReady(g, ctx, rd)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonReferralNotSettled))
			g.Expect(c.Message).To(ContainSubstring("add both to one cooperation"))
			g.Expect(got.Status.CodePrefix).To(Equal("AGENCY"))
			g.Expect(renderedReferrals(g, ctx, ns)).To(BeEmpty())
		}).Should(Succeed())

		// A cooperation settles both, but the printer, the referee, has not
		// consented to owe the commission: still no codes, and it says how.
		Expect(k8sClient.Create(ctx, newCooperation(ns, "city-weekly", "agency", "printer"))).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c, _ := referralReady(g, ctx, rd)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonAwaitingConsent))
			g.Expect(c.Message).To(ContainSubstring("The referee " + ns + "/printer owes the commission and has not consented"))
			g.Expect(c.Message).To(ContainSubstring("{kind: ReferralDiscount, namespace: " + ns + ", name: agency-recommends-printer}"))
			g.Expect(renderedReferrals(g, ctx, ns)).To(BeEmpty())
		}).Should(Succeed())

		// It consents: the agreement runs in the program.
		printer := &loyaltyv1alpha1.Partner{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "printer"}, printer)).To(Succeed())
		printer.Spec.Consents = []loyaltyv1alpha1.Consent{{Kind: loyaltyv1alpha1.AgreementReferral, Name: "agency-recommends-printer"}}
		Expect(k8sClient.Update(ctx, printer)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c, _ := referralReady(g, ctx, rd)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonReferralActive))
			g.Expect(c.Message).To(ContainSubstring("settled by PartnerCooperation city-weekly"))
			g.Expect(renderedReferrals(g, ctx, ns)).To(Equal([]string{ns + "/agency-recommends-printer"}))
		}).Should(Succeed())

		// Counts come from the program's service.
		testStats.set(ns+"/agency-recommends-printer", accrualapi.ReferralStats{CodesIssued: 4, DiscountsGiven: 3, CommissionsPending: 2, CommissionsConfirmed: 1})
		eventually(ctx, func(g Gomega) {
			_, got := referralReady(g, ctx, rd)
			g.Expect(got.Status.CodesIssued).To(Equal(int64(4)))
			g.Expect(got.Status.DiscountsGiven).To(Equal(int64(3)))
			g.Expect(got.Status.CommissionsPending).To(Equal(int64(2)))
			g.Expect(got.Status.CommissionsConfirmed).To(Equal(int64(1)))
			g.Expect(got.Status.StatsUpdatedAt).NotTo(BeNil())
		}).Should(Succeed())

		// An agreement with a partner the program refuses: no codes, and it says who.
		other := newReferral(ns, "outsider-recommends-printer", "outsider", "printer")
		other.Spec.Referrer.Namespace = elsewhere
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c, _ := referralReady(g, ctx, other)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonPartnerNotAccepted))
			g.Expect(c.Message).To(ContainSubstring(elsewhere + "/outsider is refused (" + loyaltyv1alpha1.ReasonNotAllowedByProgram + ")"))
			g.Expect(renderedReferrals(g, ctx, ns)).To(Equal([]string{ns + "/agency-recommends-printer"}))
		}).Should(Succeed())
	})
})

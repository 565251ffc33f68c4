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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

var _ = Describe("Reconcilers before their own issues land", func() {
	It("follow each new generation of a referral discount and never claim Ready", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		coop := &loyaltyv1alpha1.ReferralDiscount{
			ObjectMeta: metav1.ObjectMeta{Name: "observed", Namespace: ns},
			Spec: loyaltyv1alpha1.ReferralDiscountSpec{
				ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "stadtbonus"},
				Referrer:   loyaltyv1alpha1.NamespacedReference{Name: "a"},
				Referee:    loyaltyv1alpha1.NamespacedReference{Name: "b"},
				Discount:   loyaltyv1alpha1.ReferralDiscountValue{Type: "Percent", Percent: "5"},
				Commission: loyaltyv1alpha1.ReferralCommission{Type: loyaltyv1alpha1.CommissionPercent, Percent: "3"},
			},
		}
		Expect(k8sClient.Create(ctx, coop)).To(Succeed())
		key := client.ObjectKeyFromObject(coop)

		expectGeneration := func(generation int64) {
			eventually(ctx, func(g Gomega) {
				got := &loyaltyv1alpha1.ReferralDiscount{}
				g.Expect(k8sClient.Get(ctx, key, got)).To(Succeed())
				g.Expect(got.Generation).To(Equal(generation))
				g.Expect(got.Status.ObservedGeneration).To(Equal(generation))
				ready := meta.FindStatusCondition(got.Status.Conditions, loyaltyv1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).To(Equal(metav1.ConditionUnknown))
				g.Expect(ready.Reason).To(Equal(ReasonNotImplemented))
				g.Expect(ready.ObservedGeneration).To(Equal(generation))
			}).Should(Succeed())
		}
		expectGeneration(1)

		Expect(k8sClient.Get(ctx, key, coop)).To(Succeed())
		coop.Spec.CodePrefix = "NEW"
		Expect(k8sClient.Update(ctx, coop)).To(Succeed())
		expectGeneration(2)
	})

	It("leave the status of a settled object alone", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		partner := &loyaltyv1alpha1.Partner{
			ObjectMeta: metav1.ObjectMeta{Name: "settled", Namespace: ns},
			Spec: loyaltyv1alpha1.PartnerSpec{
				DisplayName: "Settled",
				ProgramRefs: []loyaltyv1alpha1.NamespacedReference{{Name: "nowhere"}},
			},
		}
		Expect(k8sClient.Create(ctx, partner)).To(Succeed())
		key := client.ObjectKeyFromObject(partner)
		var settled string
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.Partner{}
			g.Expect(k8sClient.Get(ctx, key, got)).To(Succeed())
			g.Expect(got.Status.ObservedGeneration).To(Equal(int64(1)))
			settled = got.ResourceVersion
		}).Should(Succeed())

		// A label change is a real event for the controller's cache but no new
		// generation; the reconciler must not answer it with a status write.
		got := &loyaltyv1alpha1.Partner{}
		Expect(k8sClient.Get(ctx, key, got)).To(Succeed())
		got.Labels = map[string]string{"touched": "yes"}
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		touched := got.ResourceVersion
		Expect(touched).NotTo(Equal(settled))
		Consistently(func(g Gomega) {
			now := &loyaltyv1alpha1.Partner{}
			g.Expect(k8sClient.Get(ctx, key, now)).To(Succeed())
			g.Expect(now.ResourceVersion).To(Equal(touched))
		}).WithContext(ctx).WithTimeout(2 * time.Second).Should(Succeed())
	})
})

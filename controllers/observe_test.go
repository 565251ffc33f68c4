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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

var _ = Describe("Reconcilers", func() {
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

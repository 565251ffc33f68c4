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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

var _ = Describe("Applying an owned object", func() {
	It("creates it, writes nothing while it is as desired, and later removes what the desired state drops", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		owner := newProgram(ns, "owner", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, owner)).To(Succeed())
		desired := func(data map[string]string, labels map[string]string) *corev1.ConfigMap {
			return &corev1.ConfigMap{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
				ObjectMeta: metav1.ObjectMeta{Name: "applied", Namespace: ns, Labels: labels},
				Data:       data,
			}
		}
		live := func() *corev1.ConfigMap {
			cm := &corev1.ConfigMap{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "applied"}, cm)).To(Succeed())
			return cm
		}

		// Absent: created, owned by the program, with its fingerprint.
		wrote, err := applyOwned(ctx, k8sClient, scheme, owner, desired(map[string]string{"a": "1", "b": "2"}, map[string]string{"x": "1"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(wrote).To(BeTrue())
		cm := live()
		Expect(cm.Data).To(Equal(map[string]string{"a": "1", "b": "2"}))
		Expect(metav1.IsControlledBy(cm, owner)).To(BeTrue())
		Expect(cm.Annotations).To(HaveKey(loyaltyv1alpha1.AnnotationApplied))

		// As desired: no write.
		wrote, err = applyOwned(ctx, k8sClient, scheme, owner, desired(map[string]string{"a": "1", "b": "2"}, map[string]string{"x": "1"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(wrote).To(BeFalse())
		Expect(live().ResourceVersion).To(Equal(cm.ResourceVersion))

		// A key and a label the desired state no longer has are removed, though the
		// create, not an apply, wrote them; what another manager added stays.
		cm.Data["theirs"] = "kept"
		Expect(k8sClient.Update(ctx, cm, client.FieldOwner("someone-else"))).To(Succeed())
		wrote, err = applyOwned(ctx, k8sClient, scheme, owner, desired(map[string]string{"a": "3"}, nil))
		Expect(err).NotTo(HaveOccurred())
		Expect(wrote).To(BeTrue())
		cm = live()
		Expect(cm.Data).To(Equal(map[string]string{"a": "3", "theirs": "kept"}))
		Expect(cm.Labels).NotTo(HaveKey("x"))
		var ours []metav1.ManagedFieldsEntry
		for _, m := range cm.ManagedFields {
			if m.Manager == FieldOwner {
				ours = append(ours, m)
			}
		}
		Expect(ours).To(HaveLen(1), "the create's fields were handed to the apply: %+v", cm.ManagedFields)
		Expect(ours[0].Operation).To(Equal(metav1.ManagedFieldsOperationApply))

		// A stale copy (another resourceVersion than the live one) hands nothing over.
		stale := cm.DeepCopy()
		stale.ResourceVersion = "1"
		stale.ManagedFields = append(stale.ManagedFields, metav1.ManagedFieldsEntry{Manager: FieldOwner,
			Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:a":{}}}`)})
		Expect(handOverCreatedFields(ctx, k8sClient, stale)).To(MatchError(errStale))
	})
})

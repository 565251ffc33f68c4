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
	"maps"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

var _ = Describe("NetworkObjects (bench/operator's floor)", func() {
	It("are the objects the controllers create for a program and its partners, keys aside", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "floor", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		for _, name := range []string{"b-shop", "a-shop"} {
			Expect(k8sClient.Create(ctx, newPartner(ns, name, "", "floor"))).To(Succeed())
		}
		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), program)).To(Succeed())
			g.Expect(program.Status.Partners).To(Equal(int32(2)))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "floor-accrual"}, &appsv1.StatefulSet{})).To(Succeed())
		}).Should(Succeed())
		partners := &loyaltyv1alpha1.PartnerList{}
		Expect(k8sClient.List(ctx, partners, client.InNamespace(ns))).To(Succeed())
		slices.Reverse(partners.Items) // in any order

		objs, err := NetworkObjects(scheme, program, partners.Items, testImage, testManagerNamespace)
		Expect(err).NotTo(HaveOccurred())

		// The manager reads /v1/stats: its namespace is admitted to the API port
		// (issue 17: under an enforcing CNI its reads were dropped).
		policy := &networkingv1.NetworkPolicy{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "floor-accrual"}, policy)).To(Succeed())
		Expect(policy.Spec.Ingress[0].From[0].NamespaceSelector.MatchExpressions[0].Values).To(ConsistOf(ns, testManagerNamespace))

		// The same set of objects: every one the controllers made, and no other.
		made := map[string]bool{}
		for _, list := range []client.ObjectList{&corev1.SecretList{}, &corev1.ServiceAccountList{}, &corev1.ConfigMapList{},
			&corev1.ServiceList{}, &networkingv1.NetworkPolicyList{}, &appsv1.StatefulSetList{}} {
			Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{loyaltyv1alpha1.LabelManagedBy: loyaltyv1alpha1.ManagedByTreue})).To(Succeed())
			items, err := meta.ExtractList(list)
			Expect(err).NotTo(HaveOccurred())
			for _, item := range items {
				o := item.(client.Object)
				made[kindOf(o)+"/"+o.GetName()] = true
			}
		}
		built := map[string]bool{}
		for _, o := range objs {
			built[kindOf(o)+"/"+o.GetName()] = true
		}
		Expect(slices.Sorted(maps.Keys(built))).To(Equal(slices.Sorted(maps.Keys(made))))

		for _, o := range objs {
			current := o.DeepCopyObject().(client.Object)
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), current)).To(Succeed())
			Expect(o.GetLabels()).To(Equal(current.GetLabels()), kindOf(o))
			Expect(o.GetOwnerReferences()).To(Equal(current.GetOwnerReferences()), kindOf(o))
			switch want := o.(type) {
			case *corev1.Secret:
				// New keys: the same keys of data, other values.
				got := current.(*corev1.Secret)
				Expect(slices.Sorted(maps.Keys(got.Data))).To(Equal(slices.Sorted(maps.Keys(secretData(want)))), want.Name)
			case *appsv1.StatefulSet:
				// Other keys roll other pods: with the cluster's config hash, the
				// desired state is the one the controller applied.
				got := current.(*appsv1.StatefulSet)
				want = want.DeepCopy()
				want.Spec.Template.Annotations[loyaltyv1alpha1.AnnotationConfigHash] = got.Spec.Template.Annotations[loyaltyv1alpha1.AnnotationConfigHash]
				delete(want.Annotations, loyaltyv1alpha1.AnnotationApplied)
				_, fingerprint, err := fingerprinted(want)
				Expect(err).NotTo(HaveOccurred())
				Expect(fingerprint).To(Equal(got.Annotations[loyaltyv1alpha1.AnnotationApplied]))
			default:
				// Nothing else depends on a key: the very desired state applied.
				Expect(o.GetAnnotations()[loyaltyv1alpha1.AnnotationApplied]).To(Equal(current.GetAnnotations()[loyaltyv1alpha1.AnnotationApplied]), kindOf(o))
			}
		}
	})
})

// kindOf names an object's kind whether or not its TypeMeta is set.
func kindOf(o client.Object) string {
	gvk, err := apiutil.GVKForObject(o, scheme)
	Expect(err).NotTo(HaveOccurred())
	return gvk.Kind
}

// secretData is a Secret's data, string data included, as the API server
// stores it.
func secretData(s *corev1.Secret) map[string][]byte {
	out := maps.Clone(s.Data)
	if out == nil {
		out = map[string][]byte{}
	}
	for k, v := range s.StringData {
		out[k] = []byte(v)
	}
	return out
}

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
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// A partner whose namespace is gone from the cache (being deleted) is skipped,
// and the rest of the network keeps running (issue 17): acceptedPartners answered
// no partners, a nil map and no error, which Reconcile then wrote into. The cache
// is a fake client here, as a real API server keeps a deleted namespace until it
// is empty.
func TestAPartnerInAVanishingNamespaceIsSkipped(t *testing.T) {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, loyaltyv1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	program := newProgram("city", "city", loyaltyv1alpha1.NamespacesFromAll, nil)
	stays, goes := newPartner("shop", "shop", "city", "city"), newPartner("gone", "gone", "city", "city")
	key := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: credentialsSecretName("shop", "city", "city")},
		Data: map[string][]byte{"apiKey": []byte("k")}}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "city"}}, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
			program, goes, stays, key).
		WithIndex(&loyaltyv1alpha1.Partner{}, indexPartnerPrograms, func(o client.Object) []string {
			return partnerProgramKeys(o.(*loyaltyv1alpha1.Partner))
		}).Build()
	r := &LoyaltyProgramReconciler{Client: c, APIReader: c, Scheme: scheme}
	accepted, hashes, err := r.acceptedPartners(context.Background(), program)
	if err != nil || hashes == nil || len(accepted) != 1 || accepted[0].Name != "shop" || len(hashes) != 1 {
		t.Fatalf("accepted %v, key hashes %v, %v; want the shop alone", accepted, hashes, err)
	}
}

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
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

var _ = Describe("A program's desired objects", func() {
	It("are valid Kubernetes objects, as the API server judges them", func(ctx SpecContext) {
		for name, change := range map[string]func(*loyaltyv1alpha1.LoyaltyProgram){"embedded": nil, "postgres": postgres3} {
			ns := newNamespace(ctx)
			// treue's objects are created only where a program lives (the
			// admission policy "program-namespaces"); this one's own objects
			// have other names than the sample's.
			Expect(k8sClient.Create(ctx, newProgram(ns, "neighbour", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
			objs := sampleObjects(GinkgoT(), change)
			for _, obj := range objs.all() {
				obj.SetNamespace(ns)
				// The API server's policy sees the new program a moment later.
				eventually(ctx, func() error { return k8sClient.Create(ctx, obj, client.DryRunAll) }).Should(Succeed(),
					"%s: %s %s", name, obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
			}
		}
	})
})

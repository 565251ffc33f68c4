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
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// What the API server accepts can run (issue 17): the longest name each kind
// accepts gives derived objects the API server accepts too. A program of 60
// characters, or with a dot, made a Service name the API server refused; a
// Partner of 70, a credentials label; a cooperation of 64, its CronJob's labels.
var _ = Describe("The longest accepted names", func() {
	It("give every derived object a name and labels the API server accepts", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := "p" + strings.Repeat("r", 43)         // 44
		partner := "partner-" + strings.Repeat("x", 55)  // 63
		coop := "cooperation-" + strings.Repeat("y", 51) // 63
		Expect([]int{len(program), len(partner), len(coop)}).To(Equal([]int{44, 63, 63}))
		Expect(k8sClient.Create(ctx, newProgram(ns, program, loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		Expect(k8sClient.Create(ctx, consenting(newPartner(ns, partner, ns, program), coop))).To(Succeed())
		Expect(k8sClient.Create(ctx, consenting(newPartner(ns, "shop", ns, program), coop))).To(Succeed())
		c := newCooperation(ns, coop, partner, "shop")
		c.Spec.ProgramRef.Name = program
		Expect(k8sClient.Create(ctx, c)).To(Succeed())

		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: program + "-accrual"}, &corev1.Service{})).To(Succeed())
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: program + "-accrual"}, &appsv1.StatefulSet{})).To(Succeed())
			secret := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: credentialsSecretName(partner, ns, program)}, secret)).To(Succeed())
			g.Expect(secret.Labels).To(HaveKeyWithValue(loyaltyv1alpha1.LabelPartner, partner))
			cronJobs := &batchv1.CronJobList{}
			g.Expect(k8sClient.List(ctx, cronJobs, client.InNamespace(ns), client.MatchingLabels{loyaltyv1alpha1.LabelCooperation: coop})).To(Succeed())
			g.Expect(cronJobs.Items).To(HaveLen(1))
			g.Expect(len(cronJobs.Items[0].Name)).To(BeNumerically("<=", 52), "a CronJob's name leaves room for its Jobs' suffix")
		}).Should(Succeed())
	})
})

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
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

func newProgram(ns, name string, from loyaltyv1alpha1.NamespacesFrom, selector map[string]string) *loyaltyv1alpha1.LoyaltyProgram {
	p := &loyaltyv1alpha1.LoyaltyProgram{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: loyaltyv1alpha1.LoyaltyProgramSpec{
			DisplayName: "Test", Currency: "EUR",
			Earning:    loyaltyv1alpha1.EarningRules{BaseRate: loyaltyv1alpha1.EarnRate{Points: 1, Per: "2.00"}},
			Redemption: loyaltyv1alpha1.RedemptionRules{PointValue: "0.01"},
			Partners:   loyaltyv1alpha1.PartnerAdmission{AllowedNamespaces: loyaltyv1alpha1.AllowedNamespaces{From: from}},
		},
	}
	if selector != nil {
		p.Spec.Partners.AllowedNamespaces.Selector = &metav1.LabelSelector{MatchLabels: selector}
	}
	return p
}

func newPartner(ns, name, programNS, program string) *loyaltyv1alpha1.Partner {
	return &loyaltyv1alpha1.Partner{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: loyaltyv1alpha1.PartnerSpec{DisplayName: name,
			ProgramRefs: []loyaltyv1alpha1.NamespacedReference{{Name: program, Namespace: programNS}}},
	}
}

// consenting gives a partner consents to cooperations in its own namespace.
func consenting(p *loyaltyv1alpha1.Partner, cooperations ...string) *loyaltyv1alpha1.Partner {
	for _, n := range cooperations {
		p.Spec.Consents = append(p.Spec.Consents, loyaltyv1alpha1.Consent{Kind: loyaltyv1alpha1.AgreementCooperation, Name: n})
	}
	return p
}

// accepted reads a partner's answer from one program.
func accepted(g Gomega, ctx SpecContext, p *loyaltyv1alpha1.Partner) *metav1.Condition {
	got := &loyaltyv1alpha1.Partner{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
	g.Expect(got.Status.Programs).To(HaveLen(1))
	c := meta.FindStatusCondition(got.Status.Programs[0].Conditions, loyaltyv1alpha1.ConditionAccepted)
	g.Expect(c).NotTo(BeNil())
	return c
}

// renderedConfig reads the configuration the program's pods get.
func renderedConfig(g Gomega, ctx SpecContext, p *loyaltyv1alpha1.LoyaltyProgram) accrualapi.Config {
	cm := &corev1.ConfigMap{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: accrualName(p)}, cm)).To(Succeed())
	var c accrualapi.Config
	g.Expect(json.Unmarshal([]byte(cm.Data["accrual.json"]), &c)).To(Succeed())
	return c
}

func partnerIDs(c accrualapi.Config) []string {
	ids := make([]string, 0, len(c.Partners))
	for _, p := range c.Partners {
		ids = append(ids, p.ID)
	}
	return ids
}

func podHash(g Gomega, ctx SpecContext, p *loyaltyv1alpha1.LoyaltyProgram) string {
	sts := &appsv1.StatefulSet{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: accrualName(p)}, sts)).To(Succeed())
	return sts.Spec.Template.Annotations[loyaltyv1alpha1.AnnotationConfigHash]
}

var _ = Describe("The LoyaltyProgram and Partner controllers", func() {
	It("admit partners across namespaces as the program allows, and revoke what it no longer does", func(ctx SpecContext) {
		programNS, partnerNS := newNamespace(ctx), newNamespace(ctx)
		program := newProgram(programNS, "city", loyaltyv1alpha1.NamespacesFromSelector, map[string]string{"network": "city"})
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		partner := newPartner(partnerNS, "shop", programNS, "city")
		Expect(k8sClient.Create(ctx, partner)).To(Succeed())

		// The partner's namespace is not labelled: refused, with a reason that says what to do.
		eventually(ctx, func(g Gomega) {
			c := accepted(g, ctx, partner)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonNotAllowedByProgram))
			g.Expect(c.Message).To(ContainSubstring("label namespace " + partnerNS))
		}).Should(Succeed())

		// Labelled: accepted, with credentials in the partner's namespace, and in the
		// program's configuration as a hash.
		nsObj := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: partnerNS}, nsObj)).To(Succeed())
		nsObj.Labels["network"] = "city"
		Expect(k8sClient.Update(ctx, nsObj)).To(Succeed())
		secretName := credentialsSecretName("shop", programNS, "city")
		creds := &corev1.Secret{}
		eventually(ctx, func(g Gomega) {
			g.Expect(accepted(g, ctx, partner).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: partnerNS, Name: secretName}, creds)).To(Succeed())
			g.Expect(string(creds.Data["apiKey"])).To(HavePrefix("tk_"))
			g.Expect(string(creds.Data["endpoint"])).To(Equal("http://city-accrual." + programNS + ".svc:8080"))
			// Owned by the Partner: deleting it deletes its credentials.
			g.Expect(metav1.GetControllerOf(creds)).NotTo(BeNil())
			g.Expect(metav1.GetControllerOf(creds).Name).To(Equal("shop"))
			g.Expect(partnerIDs(renderedConfig(g, ctx, program))).To(ConsistOf(partnerNS + "/shop"))
			hashes := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: programNS, Name: accrualSecretsName(program)}, hashes)).To(Succeed())
			g.Expect(hashes.Data[accrualapi.PartnerKeyHashFile(partnerNS, "shop")]).To(Equal(keyHash(creds.Data["apiKey"])))
			g.Expect(string(hashes.Data[accrualapi.PartnerKeyHashFile(partnerNS, "shop")])).NotTo(ContainSubstring(string(creds.Data["apiKey"])))
		}).Should(Succeed())

		// The label goes: refused again, the credentials revoked, the partner out of the configuration.
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: partnerNS}, nsObj)).To(Succeed())
		delete(nsObj.Labels, "network")
		Expect(k8sClient.Update(ctx, nsObj)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(accepted(g, ctx, partner).Reason).To(Equal(loyaltyv1alpha1.ReasonNotAllowedByProgram))
			g.Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: partnerNS, Name: secretName}, &corev1.Secret{}))).To(BeTrue())
			g.Expect(renderedConfig(g, ctx, program).Partners).To(BeEmpty())
		}).Should(Succeed())

		// A program that does not exist says so.
		lost := newPartner(partnerNS, "lost", programNS, "nowhere")
		Expect(k8sClient.Create(ctx, lost)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c := accepted(g, ctx, lost)
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonProgramNotFound))
			g.Expect(c.Message).To(ContainSubstring(programNS + "/nowhere"))
		}).Should(Succeed())
	})

	It("run an embedded program as a StatefulSet of one, roll it on rule changes and credential rotation, and settle without writes", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		partner := newPartner(ns, "shop", "", "city")
		Expect(k8sClient.Create(ctx, partner)).To(Succeed())

		var first string
		eventually(ctx, func(g Gomega) {
			sts := &appsv1.StatefulSet{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-accrual"}, sts)).To(Succeed())
			g.Expect(*sts.Spec.Replicas).To(Equal(int32(1)))
			g.Expect(sts.Spec.VolumeClaimTemplates).To(HaveLen(1))
			g.Expect(sts.OwnerReferences).To(HaveLen(1))
			g.Expect(sts.OwnerReferences[0].Name).To(Equal("city"))
			g.Expect(partnerIDs(renderedConfig(g, ctx, program))).To(ConsistOf(ns + "/shop"))
			got := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), got)).To(Succeed())
			g.Expect(got.Status.Partners).To(Equal(int32(1)))
			g.Expect(got.Status.Endpoint).To(Equal("http://city-accrual." + ns + ".svc:8080"))
			g.Expect(got.Status.ConfigHash).To(Equal(sts.Spec.Template.Annotations[loyaltyv1alpha1.AnnotationConfigHash]))
			first = got.Status.ConfigHash
		}).Should(Succeed())

		// Settled: a reconcile writes nothing at all. Someone else's label on the
		// program's ConfigMap reconciles the program, and an annotation on the
		// partner reconciles the partner (both counted); the manager then sends no
		// write request, while other specs' objects (in their own namespaces) are
		// settled too.
		var settled int64
		eventually(ctx, func(g Gomega) {
			settled = managerWrites.Load()
			g.Consistently(managerWrites.Load).WithTimeout(time.Second).Should(Equal(settled))
		}).Should(Succeed())
		programRuns, partnerRuns := reconciles(Default, "loyaltyprogram"), reconciles(Default, "partner")
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-accrual"}, cm)).To(Succeed())
		pokeCM := client.MergeFrom(cm.DeepCopy())
		cm.Labels["poke"] = "1"
		Expect(k8sClient.Patch(ctx, cm, pokeCM)).To(Succeed())
		got := &loyaltyv1alpha1.Partner{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
		poke := client.MergeFrom(got.DeepCopy())
		got.Annotations = map[string]string{"poke": "1"}
		Expect(k8sClient.Patch(ctx, got, poke)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(reconciles(g, "loyaltyprogram")).To(BeNumerically(">", programRuns))
			g.Expect(reconciles(g, "partner")).To(BeNumerically(">", partnerRuns))
		}).Should(Succeed())
		Consistently(managerWrites.Load).WithContext(ctx).WithTimeout(3 * time.Second).Should(Equal(settled))

		// Someone deletes the ConfigMap: the program makes it again.
		Expect(k8sClient.Delete(ctx, cm)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			again := &corev1.ConfigMap{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), again)).To(Succeed())
			g.Expect(again.UID).NotTo(Equal(cm.UID))
			g.Expect(metav1.IsControlledBy(again, program)).To(BeTrue())
		}).Should(Succeed())

		// A rule change rolls the pods: a new hash on the pod template.
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), program)).To(Succeed())
		rules := client.MergeFrom(program.DeepCopy())
		program.Spec.Earning.BaseRate.Per = "1.00"
		Expect(k8sClient.Patch(ctx, program, rules)).To(Succeed())
		var second string
		eventually(ctx, func(g Gomega) {
			second = podHash(g, ctx, program)
			g.Expect(second).NotTo(Equal(first))
			g.Expect(renderedConfig(g, ctx, program).Rules.Earning.BaseRate.Per).To(Equal("1.00"))
		}).Should(Succeed())

		// Rotating the partner's key: a new key, a new hash, another roll.
		before := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: credentialsSecretName("shop", ns, "city")}, before)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
		rotate := client.MergeFrom(got.DeepCopy())
		got.Annotations = map[string]string{loyaltyv1alpha1.AnnotationRotateCredentials: "2026-11-23"}
		Expect(k8sClient.Patch(ctx, got, rotate)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			after := &corev1.Secret{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(before), after)).To(Succeed())
			g.Expect(after.Data["apiKey"]).NotTo(Equal(before.Data["apiKey"]))
			g.Expect(podHash(g, ctx, program)).NotTo(Equal(second))
		}).Should(Succeed())

		// The workload reports available: the program is Ready.
		sts := &appsv1.StatefulSet{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-accrual"}, sts)).To(Succeed())
		sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
			UpdatedReplicas: 1, CurrentReplicas: 1}
		Expect(k8sClient.Status().Update(ctx, sts)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, loyaltyv1alpha1.ConditionReady)).To(BeTrue())
			g.Expect(meta.IsStatusConditionFalse(p.Status.Conditions, loyaltyv1alpha1.ConditionProgressing)).To(BeTrue())
		}).Should(Succeed())

		// Deleting the partner takes it out of the configuration.
		Expect(k8sClient.Delete(ctx, partner)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(renderedConfig(g, ctx, program).Partners).To(BeEmpty())
		}).Should(Succeed())
	})

	It("run a PostgreSQL program as a Deployment with a PDB, and say when its DSN Secret is missing", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "big", loyaltyv1alpha1.NamespacesFromSame, nil)
		program.Spec.Ledger = loyaltyv1alpha1.LedgerSpec{Type: loyaltyv1alpha1.LedgerPostgreSQL,
			PostgreSQL: &loyaltyv1alpha1.PostgreSQLLedger{DSNSecretRef: loyaltyv1alpha1.SecretKeyReference{Name: "big-db", Key: "dsn"}}}
		program.Spec.Service.Replicas = 3
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			d := meta.FindStatusCondition(p.Status.Conditions, loyaltyv1alpha1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(d.Reason).To(Equal(loyaltyv1alpha1.ReasonPostgreSQLSecret))
			g.Expect(d.Message).To(ContainSubstring(ns + "/big-db"))
			dep := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "big-accrual"}, dep)).To(Succeed())
			g.Expect(*dep.Spec.Replicas).To(Equal(int32(3)))
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "big-accrual"}, &policyv1.PodDisruptionBudget{})).To(Succeed())
		}).Should(Succeed())

		// A rollout that stopped making progress degrades the program.
		dep := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "big-accrual"}, dep)).To(Succeed())
		dep.Status = appsv1.DeploymentStatus{ObservedGeneration: dep.Generation, Replicas: 3, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
			Message: `ReplicaSet "big-accrual-1" has timed out progressing.`,
		}}}
		Expect(k8sClient.Status().Update(ctx, dep)).To(Succeed())

		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "big-db", Namespace: ns},
			StringData: map[string]string{"dsn": "postgres://u:p@db:5432/big"}})).To(Succeed())
		// The Secret is the user's and unlabelled, so no event brings the program
		// back by itself; any change of the program does.
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), program)).To(Succeed())
		patch := client.MergeFrom(program.DeepCopy())
		program.Spec.DisplayName = "Big, with its database"
		Expect(k8sClient.Patch(ctx, program, patch)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			d := meta.FindStatusCondition(p.Status.Conditions, loyaltyv1alpha1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Reason).To(Equal(loyaltyv1alpha1.ReasonRolloutStuck), "the DSN is there now, but the rollout is stuck")
			g.Expect(d.Message).To(ContainSubstring("timed out progressing"))
		}).Should(Succeed())
	})

	It("refuse to roll out rules only the rules engine can check, and say why", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "odd", loyaltyv1alpha1.NamespacesFromSame, nil)
		// Three decimals pass the schema (some currencies have them); EUR has two.
		program.Spec.Earning.MinimumSpend = "1.005"
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), p)).To(Succeed())
			d := meta.FindStatusCondition(p.Status.Conditions, loyaltyv1alpha1.ConditionDegraded)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Reason).To(Equal(loyaltyv1alpha1.ReasonRulesInvalid))
			g.Expect(d.Message).To(ContainSubstring("earning.minimumSpend"))
			ready := meta.FindStatusCondition(p.Status.Conditions, loyaltyv1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal(loyaltyv1alpha1.ReasonRulesInvalid))
		}).Should(Succeed())
		// Nothing that cannot run was rolled out.
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "odd-accrual"}, &appsv1.StatefulSet{}))).To(BeTrue())
	})
})

// reconciles is how many reconciles the manager's controller of that name has
// run, from its metrics.
func reconciles(g Gomega, controller string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var n float64
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

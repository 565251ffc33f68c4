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
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/settlement"
)

// as is a client that acts as user (a service account) through impersonation.
func as(user string) client.Client {
	c, err := client.New(impersonating(user), client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// refused expects a write to be refused by an admission policy, with a message
// that contains one of wants (where several policies refuse a write, the API
// server names one). The policies work from informers: a write right after
// the object it depends on was created may see an older state, so the
// expectation is polled; each attempt is a dry run where the write may create.
func refused(ctx SpecContext, write func() error, wants ...string) {
	GinkgoHelper()
	eventually(ctx, func(g Gomega) {
		err := write()
		g.Expect(err).To(HaveOccurred(), "the write was allowed")
		g.Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring("ValidatingAdmissionPolicy"))
		matchers := make([]types.GomegaMatcher, len(wants))
		for i, w := range wants {
			matchers[i] = ContainSubstring(w)
		}
		g.Expect(err.Error()).To(SatisfyAny(matchers...))
	}).Should(Succeed())
}

var _ = Describe("The admission policies", func() {
	// Issue 17 §3: as the manager, cluster-wide RBAC let it write a privileged
	// Deployment in kube-system, patch CoreDNS's ConfigMap and bind "get
	// Secrets" in any namespace for anyone. Each such write is refused here,
	// while every other spec of this suite runs the manager under the same
	// policies and its own writes pass.
	It("refuse every write of the manager outside treue's own objects", func(ctx SpecContext) {
		mgr := as(testManagerUser)
		ns, victim := newNamespace(ctx), newNamespace(ctx)
		program := newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		coop := newCooperation(ns, "city-weekly", "bakery", "printer")
		Expect(k8sClient.Create(ctx, coop)).To(Succeed())
		// The manager's own objects were written under the policies.
		own := &corev1.ConfigMap{}
		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-accrual"}, own)).To(Succeed())
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, &rbacv1.RoleBinding{})).To(Succeed())
		}).Should(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(program), program)).To(Succeed())
		owner := metav1.OwnerReference{APIVersion: loyaltyv1alpha1.GroupVersion.String(), Kind: "LoyaltyProgram", Name: program.Name,
			UID: program.UID, Controller: ptr.To(true)}
		// forged carries treue's label and a controller reference to the program.
		forged := func(namespace, name string) metav1.ObjectMeta {
			return metav1.ObjectMeta{Namespace: namespace, Name: name, OwnerReferences: []metav1.OwnerReference{owner},
				Labels: map[string]string{loyaltyv1alpha1.LabelManagedBy: loyaltyv1alpha1.ManagedByTreue}}
		}
		// coopForged is forged as the cooperation's, as a job's Role would be.
		coopForged := func(namespace, name string) metav1.ObjectMeta {
			m := forged(namespace, name)
			m.OwnerReferences[0].Kind, m.OwnerReferences[0].Name = "PartnerCooperation", coop.Name
			return m
		}
		dry := client.DryRunAll

		By("a change of its own object passes")
		patch := client.MergeFrom(own.DeepCopy())
		own.Labels["checked"] = "yes"
		Expect(mgr.Patch(ctx, own, patch)).To(Succeed())

		By("a privileged host-path Deployment in kube-system, forged as treue's")
		privileged := func(meta metav1.ObjectMeta) *appsv1.Deployment {
			labels := map[string]string{"app": "x"}
			return &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					HostNetwork: true, ServiceAccountName: meta.Name,
					Volumes: []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
					Containers: []corev1.Container{{Name: "x", Image: "busybox",
						SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)}}},
				}},
			}}
		}
		refused(ctx, func() error { return mgr.Create(ctx, privileged(forged("kube-system", "x")), dry) },
			"kube- namespace", "runs as non-root", "no params found")
		By("an unprivileged Deployment in kube-system, forged as treue's")
		tame := privileged(forged("kube-system", "x"))
		tame.Spec.Template.Spec = *desiredCooperationObjects(coop, testImage, nil).CronJob.Spec.JobTemplate.Spec.Template.Spec.DeepCopy()
		tame.Spec.Template.Spec.ServiceAccountName, tame.Spec.Template.Spec.RestartPolicy = "x", corev1.RestartPolicyAlways
		refused(ctx, func() error { return mgr.Create(ctx, tame, dry) }, "kube- namespace", "no params found")
		By("the same Deployment in the program's own namespace")
		refused(ctx, func() error { return mgr.Create(ctx, privileged(forged(ns, "x")), dry) }, "runs as non-root")

		By("a patch of a ConfigMap and a Secret deleted, in kube-system and beside the program")
		for _, where := range []string{"kube-system", ns} {
			foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: where, Name: "coredns-" + ns}, Data: map[string]string{"Corefile": "."}}
			Expect(k8sClient.Create(ctx, foreign)).To(Succeed())
			// In kube-system the namespace alone refuses it, first.
			want := func(why string) string {
				if where == "kube-system" {
					return "kube- namespace"
				}
				return why
			}
			refused(ctx, func() error {
				return mgr.Patch(ctx, foreign, client.RawPatch(k8stypes.MergePatchType, []byte(`{"data":{"Corefile":"evil"}}`)), dry)
			}, want("its own objects"))
			// Taking it over with treue's label and owner does not make it its own.
			refused(ctx, func() error {
				takeover := foreign.DeepCopy()
				takeover.ObjectMeta = forged(where, foreign.Name)
				takeover.Data = map[string]string{"Corefile": "evil"}
				return mgr.Patch(ctx, takeover, client.MergeFrom(foreign), dry)
			}, want("not its own"))
			// Its RBAC lets it delete Secrets (to revoke credentials), not others'.
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: where, Name: "kept-" + ns}, StringData: map[string]string{"k": "v"}}
			Expect(k8sClient.Create(ctx, secret)).To(Succeed())
			refused(ctx, func() error { return mgr.Delete(ctx, secret, dry) }, want("its own objects"))
		}

		By("a Role and a RoleBinding that let anyone read Secrets, in a namespace without treue objects and in the program's")
		readSecrets := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}}
		binding := func(meta metav1.ObjectMeta) *rbacv1.RoleBinding {
			return &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: meta.Name},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"}}}
		}
		refused(ctx, func() error {
			return mgr.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: victim, Name: "peek"}, Rules: readSecrets}, dry)
		}, "its own objects", "exactly the settlement job's rules")
		refused(ctx, func() error {
			return mgr.Create(ctx, &rbacv1.Role{ObjectMeta: coopForged(victim, "peek"), Rules: readSecrets}, dry)
		}, "no params found", "exactly the settlement job's rules")
		refused(ctx, func() error {
			// The manager holds every right of its own ClusterRole, so RBAC lets
			// it grant them; the policy does not.
			b := binding(metav1.ObjectMeta{Namespace: victim, Name: "peek"})
			b.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "treue-manager"}
			return mgr.Create(ctx, b, dry)
		}, "its own objects", "binds only a settlement job's service account")
		job := desiredCooperationObjects(coop, testImage, nil).Role
		wider := &rbacv1.Role{ObjectMeta: coopForged(ns, "peek"), Rules: append(job.Rules, readSecrets...)}
		refused(ctx, func() error { return mgr.Create(ctx, wider, dry) }, "exactly the settlement job's rules")
		bind := binding(coopForged(ns, "city-weekly-settle"))
		refused(ctx, func() error { return mgr.Create(ctx, bind, dry) }, "binds only a settlement job's service account")
		refused(ctx, func() error {
			b := bind.DeepCopy()
			b.Subjects = []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "city-weekly-settle"}}
			b.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "treue-manager"}
			return mgr.Create(ctx, b, dry)
		}, "binds only a settlement job's service account")

		By("Secrets: in a namespace without treue objects, and a service account token beside the program")
		refused(ctx, func() error {
			return mgr.Create(ctx, &corev1.Secret{ObjectMeta: forged(victim, "loot"), StringData: map[string]string{"k": "v"}}, dry)
		}, "no params found")
		token := &corev1.Secret{ObjectMeta: forged(ns, "token"), Type: corev1.SecretTypeServiceAccountToken}
		token.Annotations = map[string]string{corev1.ServiceAccountNameKey: "default"}
		refused(ctx, func() error { return mgr.Create(ctx, token, dry) }, "only Opaque Secrets")

		By("a Service open to the outside")
		refused(ctx, func() error {
			return mgr.Create(ctx, &corev1.Service{ObjectMeta: forged(ns, "out"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
				Ports: []corev1.ServicePort{{Port: 80}}}}, dry)
		}, "only ClusterIP Services")
	})

	It("let a settlement job write only its own cooperation's Settlements", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		for _, name := range []string{"city-weekly", "city-other"} {
			Expect(k8sClient.Create(ctx, newCooperation(ns, name, "bakery", "printer"))).To(Succeed())
		}
		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, &rbacv1.RoleBinding{})).To(Succeed())
		}).Should(Succeed())
		job := as("system:serviceaccount:" + ns + ":city-weekly-settle")

		w, err := settlement.ParseWindow(settlement.Weekly, "2026-W47", time.UTC)
		Expect(err).NotTo(HaveOccurred())
		of := func(coop string) *loyaltyv1alpha1.Settlement {
			s := settlementFor(ns, w)
			s.Name, s.Spec.CooperationRef.Name = coop+"-2026-w47", coop
			return s
		}
		// Its own: created and its status written (RBAC grants it once the
		// binding is seen, hence the polling).
		mine := of("city-weekly")
		eventually(ctx, func() error { return job.Create(ctx, mine) }).Should(Succeed())
		mine.Status.Currency = "EUR"
		Expect(job.Status().Update(ctx, mine)).To(Succeed())

		// Another cooperation's: refused, whether created or updated.
		refused(ctx, func() error { return job.Create(ctx, of("city-other"), client.DryRunAll) }, "is not the job of city-other")
		theirs := of("city-other")
		Expect(k8sClient.Create(ctx, theirs)).To(Succeed())
		theirs.Status.Currency = "EUR"
		refused(ctx, func() error { return job.Status().Update(ctx, theirs) }, "is not the job of city-other")
	})
})

// Every resource the manager's generated ClusterRole may write is bound by a
// policy, except the status of treue's own kinds and events: a new kind of
// object the manager writes must come with its policy (the README says how).
func TestThePoliciesCoverTheManagersRBAC(t *testing.T) {
	role, err := managerRole()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, obj := range AdmissionPolicies(PolicyOptions{NamePrefix: "treue-", ManagerUser: "system:serviceaccount:treue-system:treue-manager"}) {
		p, ok := obj.(*admissionv1.ValidatingAdmissionPolicy)
		if !ok || (p.Name != "treue-manager-objects" && p.Name != "treue-manager-settlements") {
			continue
		}
		for _, r := range p.Spec.MatchConstraints.ResourceRules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					covered[g+"/"+res] = slices.Contains(r.Operations, admissionv1.Create) && slices.Contains(r.Operations, admissionv1.Update) &&
						slices.Contains(r.Operations, admissionv1.Delete)
				}
			}
		}
	}
	writes := 0
	for _, rule := range role.Rules {
		if !slices.ContainsFunc(rule.Verbs, func(v string) bool { return v == "create" || v == "update" || v == "patch" || v == "delete" }) {
			continue
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				own := g == loyaltyv1alpha1.GroupVersion.Group && strings.HasSuffix(res, "/status") && res != "settlements/status"
				if own || g == "events.k8s.io" {
					continue
				}
				writes++
				if !covered[g+"/"+res] {
					t.Errorf("the manager may write %s %q, and no admission policy bounds it", g, res)
				}
			}
		}
	}
	if writes < 12 {
		t.Fatalf("read %d writable resources from role.yaml; the file changed shape", writes)
	}
}

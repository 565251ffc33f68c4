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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

func newCooperation(ns, name string, partners ...string) *loyaltyv1alpha1.PartnerCooperation {
	coop := &loyaltyv1alpha1.PartnerCooperation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{
			ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "city"},
			Schedule:   loyaltyv1alpha1.SettlementSchedule{Cron: "0 3 * * 1", TimeZone: "Europe/Berlin", Period: loyaltyv1alpha1.PeriodWeekly},
			Netting:    loyaltyv1alpha1.NettingMultilateral,
		},
	}
	for _, p := range partners {
		coop.Spec.Members = append(coop.Spec.Members, loyaltyv1alpha1.CooperationMember{
			PartnerRef:    loyaltyv1alpha1.NamespacedReference{Name: p},
			IssuancePrice: "0.01", RedemptionPrice: "0.008"})
	}
	return coop
}

func cooperationCondition(g Gomega, ctx SpecContext, coop *loyaltyv1alpha1.PartnerCooperation, kind string) *metav1.Condition {
	got := &loyaltyv1alpha1.PartnerCooperation{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(coop), got)).To(Succeed())
	g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	c := meta.FindStatusCondition(got.Status.Conditions, kind)
	g.Expect(c).NotTo(BeNil(), "no %s condition", kind)
	return c
}

var _ = Describe("The PartnerCooperation controller", func() {
	It("schedules settlements with a CronJob that runs as a least-privilege identity", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		for _, p := range []string{"bakery", "printer"} {
			Expect(k8sClient.Create(ctx, consenting(newPartner(ns, p, ns, "city"), "city-weekly"))).To(Succeed())
		}
		coop := newCooperation(ns, "city-weekly", "bakery", "printer")
		Expect(k8sClient.Create(ctx, coop)).To(Succeed())

		cj := &batchv1.CronJob{}
		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, cj)).To(Succeed())
		}).Should(Succeed())
		Expect(cj.Spec.Schedule).To(Equal("0 3 * * 1"))
		Expect(cj.Spec.TimeZone).To(Equal(ptr.To("Europe/Berlin")))
		Expect(cj.Spec.ConcurrencyPolicy).To(Equal(batchv1.ForbidConcurrent))
		Expect(cj.Spec.Suspend).To(Equal(ptr.To(false)))
		Expect(cj.OwnerReferences).To(ContainElement(HaveField("Name", "city-weekly")))
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		Expect(pod.ServiceAccountName).To(Equal("city-weekly-settle"))
		Expect(*pod.SecurityContext.RunAsNonRoot).To(BeTrue())
		// Found on a real node: without the group, the non-root job cannot read its 0440 token.
		Expect(pod.SecurityContext.FSGroup).To(Equal(ptr.To[int64](65532)))
		Expect(pod.Containers).To(HaveLen(1))
		Expect(pod.Containers[0].Image).To(Equal(testImage))
		Expect(pod.Containers[0].Args).To(Equal([]string{"settle", "--cooperation=" + ns + "/city-weekly",
			"--token-file=/etc/treue/settlement/settlement-token"}))
		Expect(*pod.Containers[0].SecurityContext.ReadOnlyRootFilesystem).To(BeTrue())
		Expect(pod.Volumes[0].Secret.SecretName).To(Equal("city-accrual-tokens"))
		Expect(pod.Volumes[0].Secret.Items).To(Equal([]corev1.KeyToPath{{Key: "settlement-token", Path: "settlement-token"}}))

		// The job may read its cooperation and program, by name, and write
		// Settlements: nothing else.
		role := &rbacv1.Role{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, role)).To(Succeed())
		Expect(role.Rules).To(ConsistOf(
			rbacv1.PolicyRule{APIGroups: []string{"loyalty.treue.dev"}, Resources: []string{"partnercooperations"}, ResourceNames: []string{"city-weekly"}, Verbs: []string{"get"}},
			rbacv1.PolicyRule{APIGroups: []string{"loyalty.treue.dev"}, Resources: []string{"loyaltyprograms"}, ResourceNames: []string{"city"}, Verbs: []string{"get"}},
			rbacv1.PolicyRule{APIGroups: []string{"loyalty.treue.dev"}, Resources: []string{"settlements"}, Verbs: []string{"get", "create"}},
			rbacv1.PolicyRule{APIGroups: []string{"loyalty.treue.dev"}, Resources: []string{"settlements/status"}, Verbs: []string{"update"}},
		))
		binding := &rbacv1.RoleBinding{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, binding)).To(Succeed())
		Expect(binding.Subjects).To(Equal([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "city-weekly-settle", Namespace: ns}}))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, &corev1.ServiceAccount{})).To(Succeed())

		// Both partners are accepted: Ready, and the next run is a Monday, 03:00 in Berlin.
		berlin, err := time.LoadLocation("Europe/Berlin")
		Expect(err).NotTo(HaveOccurred())
		eventually(ctx, func(g Gomega) {
			g.Expect(cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionPartnersAccepted).Status).To(Equal(metav1.ConditionTrue))
			ready := cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(ready.Reason).To(Equal(loyaltyv1alpha1.ReasonScheduled))
			got := &loyaltyv1alpha1.PartnerCooperation{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(coop), got)).To(Succeed())
			g.Expect(got.Status.NextScheduleTime).NotTo(BeNil())
			next := got.Status.NextScheduleTime.In(berlin)
			g.Expect(next.Weekday()).To(Equal(time.Monday))
			g.Expect(next.Hour()).To(Equal(3))
			g.Expect(next.Minute()).To(Equal(0))
			g.Expect(time.Until(next)).To(BeNumerically(">", 0))
			g.Expect(time.Until(next)).To(BeNumerically("<=", 7*24*time.Hour))
		}).Should(Succeed())

		// A Settlement of the cooperation shows up as the last one.
		s := &loyaltyv1alpha1.Settlement{
			ObjectMeta: metav1.ObjectMeta{Name: "city-weekly-2026-w47", Namespace: ns, Labels: map[string]string{loyaltyv1alpha1.LabelCooperation: "city-weekly"}},
			Spec: loyaltyv1alpha1.SettlementSpec{CooperationRef: loyaltyv1alpha1.LocalObjectReference{Name: "city-weekly"},
				Period: loyaltyv1alpha1.SettlementPeriod{ID: "2026-W47", Start: metav1.NewTime(time.Date(2026, 11, 15, 23, 0, 0, 0, time.UTC)),
					End: metav1.NewTime(time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC))}},
		}
		Expect(k8sClient.Create(ctx, s)).To(Succeed())
		meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: loyaltyv1alpha1.ConditionCompleted, Status: metav1.ConditionTrue,
			Reason: "Settled", Message: "done"})
		Expect(k8sClient.Status().Update(ctx, s)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			got := &loyaltyv1alpha1.PartnerCooperation{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(coop), got)).To(Succeed())
			g.Expect(got.Status.LastSettlement).NotTo(BeNil())
			g.Expect(*got.Status.LastSettlement).To(Equal(loyaltyv1alpha1.SettlementSummary{Name: "city-weekly-2026-w47", Period: "2026-W47",
				Outcome: loyaltyv1alpha1.ConditionCompleted}))
		}).Should(Succeed())

		// Suspended: the CronJob stops, the status says so.
		got := &loyaltyv1alpha1.PartnerCooperation{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(coop), got)).To(Succeed())
		got.Spec.Suspend = ptr.To(true)
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cj), cj)).To(Succeed())
			g.Expect(cj.Spec.Suspend).To(Equal(ptr.To(true)))
			g.Expect(cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionReady).Reason).To(Equal(loyaltyv1alpha1.ReasonSuspended))
			after := &loyaltyv1alpha1.PartnerCooperation{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(coop), after)).To(Succeed())
			g.Expect(after.Status.NextScheduleTime).To(BeNil())
		}).Should(Succeed())
	})

	It("gives the settlement job exactly the access it needs", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil)
		Expect(k8sClient.Create(ctx, program)).To(Succeed())
		coop := newCooperation(ns, "city-weekly", "bakery", "printer")
		Expect(k8sClient.Create(ctx, coop)).To(Succeed())
		other := newCooperation(ns, "other", "florist", "grocer")
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, &rbacv1.Role{})).To(Succeed())
		}).Should(Succeed())

		// Act as the job: a user bound to the job's Role, like its ServiceAccount.
		user, err := testEnv.AddUser(envtest.User{Name: "settle-" + ns}, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "as-the-job", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "city-weekly-settle"},
			Subjects:   []rbacv1.Subject{{Kind: "User", Name: "settle-" + ns}},
		})).To(Succeed())
		job, err := client.New(user.Config(), client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())

		// What `treue settle` does is allowed.
		Expect(job.Get(ctx, client.ObjectKeyFromObject(coop), &loyaltyv1alpha1.PartnerCooperation{})).To(Succeed())
		Expect(job.Get(ctx, client.ObjectKeyFromObject(program), &loyaltyv1alpha1.LoyaltyProgram{})).To(Succeed())
		s := &loyaltyv1alpha1.Settlement{
			ObjectMeta: metav1.ObjectMeta{Name: "city-weekly-2026-w47", Namespace: ns},
			Spec: loyaltyv1alpha1.SettlementSpec{CooperationRef: loyaltyv1alpha1.LocalObjectReference{Name: "city-weekly"},
				Period: loyaltyv1alpha1.SettlementPeriod{ID: "2026-W47", Start: metav1.NewTime(time.Date(2026, 11, 15, 23, 0, 0, 0, time.UTC)),
					End: metav1.NewTime(time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC))}},
		}
		Expect(job.Create(ctx, s)).To(Succeed())
		Expect(job.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
		s.Status.Currency = "EUR"
		Expect(job.Status().Update(ctx, s)).To(Succeed())

		// Anything else is not.
		forbidden := func(err error) {
			ExpectWithOffset(1, apierrors.IsForbidden(err)).To(BeTrue(), "want Forbidden, got %v", err)
		}
		forbidden(job.Get(ctx, client.ObjectKeyFromObject(other), &loyaltyv1alpha1.PartnerCooperation{}))
		forbidden(job.Update(ctx, s))
		forbidden(job.Delete(ctx, s))
		forbidden(job.List(ctx, &corev1.SecretList{}, client.InNamespace(ns)))
		forbidden(job.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-accrual-tokens"}, &corev1.Secret{}))
		forbidden(job.Update(ctx, coop))
		forbidden(job.List(ctx, &loyaltyv1alpha1.SettlementList{}, client.InNamespace(newNamespace(ctx))))
	})

	It("names the partners the program has not accepted", func(ctx SpecContext) {
		ns, elsewhere := newNamespace(ctx), newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		Expect(k8sClient.Create(ctx, newPartner(ns, "bakery", ns, "city"))).To(Succeed())
		Expect(k8sClient.Create(ctx, newPartner(elsewhere, "agency", ns, "city"))).To(Succeed())
		coop := newCooperation(ns, "city-weekly", "bakery")
		coop.Spec.Members = append(coop.Spec.Members,
			loyaltyv1alpha1.CooperationMember{PartnerRef: loyaltyv1alpha1.NamespacedReference{Namespace: elsewhere, Name: "agency"},
				IssuancePrice: "0.01", RedemptionPrice: "0.008"},
			loyaltyv1alpha1.CooperationMember{PartnerRef: loyaltyv1alpha1.NamespacedReference{Name: "ghost"},
				IssuancePrice: "0.01", RedemptionPrice: "0.008"})
		Expect(k8sClient.Create(ctx, coop)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c := cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionPartnersAccepted)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonPartnerNotAccepted))
			g.Expect(c.Message).To(ContainSubstring(elsewhere + "/agency is refused (" + loyaltyv1alpha1.ReasonNotAllowedByProgram + ")"))
			g.Expect(c.Message).To(ContainSubstring(ns + "/ghost does not exist"))
			g.Expect(c.Message).NotTo(ContainSubstring("bakery"))
			g.Expect(cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())
	})

	It("waits for each member's consent, leaves the others' entries out until then, and again once one withdraws", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		Expect(k8sClient.Create(ctx, consenting(newPartner(ns, "bakery", ns, "city"), "city-weekly"))).To(Succeed())
		printer := newPartner(ns, "printer", ns, "city")
		Expect(k8sClient.Create(ctx, printer)).To(Succeed())
		coop := newCooperation(ns, "city-weekly", "bakery", "printer")
		Expect(k8sClient.Create(ctx, coop)).To(Succeed())
		args := func(g Gomega) []string {
			cj := &batchv1.CronJob{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "city-weekly-settle"}, cj)).To(Succeed())
			return cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		}
		awaiting := func(g Gomega) {
			c := cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonAwaitingConsent))
			g.Expect(c.Message).To(ContainSubstring("Waiting for " + ns + "/printer to consent"))
			g.Expect(c.Message).To(ContainSubstring("{kind: PartnerCooperation, namespace: " + ns + ", name: city-weekly}"))
			g.Expect(c.Message).NotTo(ContainSubstring("bakery"))
			g.Expect(args(g)).To(ContainElement("--exclude=" + ns + "/printer"))
			g.Expect(args(g)).NotTo(ContainElement("--exclude=" + ns + "/bakery"))
		}
		eventually(ctx, awaiting).Should(Succeed())

		// The printer consents from its own Partner: the cooperation runs for both.
		setConsents := func(consents []loyaltyv1alpha1.Consent) {
			got := &loyaltyv1alpha1.Partner{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(printer), got)).To(Succeed())
			got.Spec.Consents = consents
			Expect(k8sClient.Update(ctx, got)).To(Succeed())
		}
		setConsents([]loyaltyv1alpha1.Consent{{Kind: loyaltyv1alpha1.AgreementCooperation, Name: "city-weekly"}})
		eventually(ctx, func(g Gomega) {
			c := cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%+v", c)
			g.Expect(args(g)).NotTo(ContainElement(HavePrefix("--exclude")))
		}).Should(Succeed())

		// It withdraws: its entries are left out of the next settlements again.
		setConsents(nil)
		eventually(ctx, awaiting).Should(Succeed())
	})

	It("refuses a schedule the CronJob could not run before creating anything, and names the field", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		for _, p := range []string{"bakery", "printer"} {
			Expect(k8sClient.Create(ctx, consenting(newPartner(ns, p, ns, "city"), "a", "b", "c"))).To(Succeed())
		}
		for name, tc := range map[string]struct{ cron, zone, field string }{
			"a": {"61 25 * * *", "", "spec.schedule.cron"},
			"b": {"0 3 32 13 *", "", "spec.schedule.cron"},
			"c": {"0 3 * * 1", "Nowhere/Land", "spec.schedule.timeZone"},
		} {
			coop := newCooperation(ns, name, "bakery", "printer")
			coop.Spec.Schedule.Cron = tc.cron
			if tc.zone != "" {
				coop.Spec.Schedule.TimeZone = loyaltyv1alpha1.TimeZone(tc.zone)
			}
			Expect(k8sClient.Create(ctx, coop)).To(Succeed(), "the API server checks only the characters")
			eventually(ctx, func(g Gomega) {
				c := cooperationCondition(g, ctx, coop, loyaltyv1alpha1.ConditionReady)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonInvalidSchedule))
				g.Expect(c.Message).To(ContainSubstring(tc.field))
				g.Expect(c.Message).To(ContainSubstring("no settlement runs until it is fixed"))
			}).Should(Succeed())
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-settle"}, &batchv1.CronJob{}))).To(BeTrue(),
				"a CronJob was created for %q", tc.cron)
		}
	})

	It("settles a partner in one cooperation only, and says which", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		Expect(k8sClient.Create(ctx, newProgram(ns, "city", loyaltyv1alpha1.NamespacesFromSame, nil))).To(Succeed())
		for _, p := range []string{"bakery", "printer", "agency", "florist"} {
			Expect(k8sClient.Create(ctx, consenting(newPartner(ns, p, ns, "city"), "a-first", "b-second"))).To(Succeed())
		}
		first := newCooperation(ns, "a-first", "bakery", "printer")
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(cooperationCondition(g, ctx, first, loyaltyv1alpha1.ConditionConflict).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())
		second := newCooperation(ns, "b-second", "printer", "agency")
		Expect(k8sClient.Create(ctx, second)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			c := cooperationCondition(g, ctx, second, loyaltyv1alpha1.ConditionConflict)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(ContainSubstring(ns + "/printer is settled by PartnerCooperation a-first"))
			cj := &batchv1.CronJob{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "b-second-settle"}, cj)).To(Succeed())
			g.Expect(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args).To(ContainElement("--exclude=" + ns + "/printer"))
			g.Expect(cooperationCondition(g, ctx, first, loyaltyv1alpha1.ConditionConflict).Status).To(Equal(metav1.ConditionFalse))
		}).Should(Succeed())

		// The first lets the printer go: the second settles it now.
		got := &loyaltyv1alpha1.PartnerCooperation{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(first), got)).To(Succeed())
		got.Spec.Members[1].PartnerRef.Name = "florist"
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		eventually(ctx, func(g Gomega) {
			g.Expect(cooperationCondition(g, ctx, second, loyaltyv1alpha1.ConditionConflict).Status).To(Equal(metav1.ConditionFalse))
			cj := &batchv1.CronJob{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "b-second-settle"}, cj)).To(Succeed())
			g.Expect(cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args).NotTo(ContainElement(HavePrefix("--exclude")))
		}).Should(Succeed())
	})
})

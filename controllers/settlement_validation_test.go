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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/settlement"
)

// settlementFor is the Settlement the job would write for one window.
func settlementFor(ns string, w settlement.Window) *loyaltyv1alpha1.Settlement {
	return &loyaltyv1alpha1.Settlement{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "coop-" + strings.ToLower(w.ID)},
		Spec: loyaltyv1alpha1.SettlementSpec{
			CooperationRef: loyaltyv1alpha1.LocalObjectReference{Name: "coop"},
			Period:         loyaltyv1alpha1.SettlementPeriod{ID: w.ID, Start: metav1.NewTime(w.Start), End: metav1.NewTime(w.End)},
		},
	}
}

var _ = Describe("A Settlement's period and status", func() {
	// The rules tie spec.period.id to its dates within a day (the cooperation's
	// time zone is not known to the API server). Every period the job can write,
	// in the time zones furthest from UTC either way and one with daylight saving,
	// must pass them, and the next period's id on the same dates must not.
	It("admits every week and month the settlement job writes, in any time zone, and no other id for them", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		from := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
		until := time.Date(2029, time.January, 8, 0, 0, 0, 0, time.UTC)
		checked := map[string]int{}
		for _, zone := range []string{"Pacific/Kiritimati", "Etc/GMT+12", "Europe/Berlin"} {
			loc, err := time.LoadLocation(zone)
			Expect(err).NotTo(HaveOccurred())
			for _, length := range []string{settlement.Weekly, settlement.Monthly} {
				var previous settlement.Window
				for t := from; t.Before(until); t = t.AddDate(0, 0, 7) {
					w, err := settlement.LastClosed(length, loc, t)
					Expect(err).NotTo(HaveOccurred())
					if w.ID == previous.ID {
						continue
					}
					s := settlementFor(ns, w)
					Expect(k8sClient.Create(ctx, s, client.DryRunAll)).To(Succeed(), "%s %s in %s", length, w.ID, zone)
					checked[length]++
					if previous.ID != "" {
						// The previous period's id on these dates is refused.
						wrong := settlementFor(ns, settlement.Window{ID: previous.ID, Start: w.Start, End: w.End})
						err := k8sClient.Create(ctx, wrong, client.DryRunAll)
						Expect(apierrors.IsInvalid(err)).To(BeTrue(), "id %s with the dates of %s in %s: %v", previous.ID, w.ID, zone, err)
						Expect(err.Error()).To(ContainSubstring("spec.period.id"))
					}
					previous = w
				}
			}
		}
		// Three years of weeks (2026 has 53) and of months, per zone.
		Expect(checked[settlement.Weekly]).To(BeNumerically(">=", 3*156))
		Expect(checked[settlement.Monthly]).To(BeNumerically(">=", 3*36))
	})

	It("refuses a status whose totals contradict its statements, a partner stated twice, or a transfer to itself", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		w, err := settlement.ParseWindow(settlement.Weekly, "2026-W47", time.UTC)
		Expect(err).NotTo(HaveOccurred())
		s := settlementFor(ns, w)
		Expect(k8sClient.Create(ctx, s)).To(Succeed())

		korn := loyaltyv1alpha1.NamespacedReference{Namespace: "baeckerei-korn", Name: "korn"}
		kaffee := loyaltyv1alpha1.NamespacedReference{Namespace: "cafe-bohne", Name: "bohne"}
		good := func() loyaltyv1alpha1.SettlementStatus {
			return loyaltyv1alpha1.SettlementStatus{
				Currency: "EUR",
				Statements: []loyaltyv1alpha1.PartnerStatement{
					{Partner: korn, PointsIssued: 100, PointsRedeemed: 20, Net: "-0.80"},
					{Partner: kaffee, PointsIssued: 50, PointsRedeemed: 30, Net: "0.80"},
				},
				Transfers: []loyaltyv1alpha1.Transfer{{From: "baeckerei-korn/korn", To: "cafe-bohne/bohne", Amount: "0.80"}},
				Totals:    &loyaltyv1alpha1.SettlementTotals{PointsIssued: 150, PointsRedeemed: 50, NetVolume: "0.80"},
			}
		}
		cases := map[string]struct {
			edit func(*loyaltyv1alpha1.SettlementStatus)
			want string
		}{
			"totals.pointsIssued is not the statements' sum": {
				func(st *loyaltyv1alpha1.SettlementStatus) { st.Totals.PointsIssued = 200 }, "sum of the statements' pointsIssued"},
			"totals.pointsRedeemed is not the statements' sum": {
				func(st *loyaltyv1alpha1.SettlementStatus) { st.Totals.PointsRedeemed = 0 }, "sum of the statements' pointsRedeemed"},
			"a partner stated twice": {
				func(st *loyaltyv1alpha1.SettlementStatus) {
					st.Statements[1].Partner = korn
				}, "one statement per partner"},
			"a transfer from a partner to itself": {
				func(st *loyaltyv1alpha1.SettlementStatus) { st.Transfers[0].To = st.Transfers[0].From }, "from and to are different"},
		}
		for name, c := range cases {
			bad := s.DeepCopy()
			bad.Status = good()
			c.edit(&bad.Status)
			err := k8sClient.Status().Update(ctx, bad, client.DryRunAll)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: want Invalid, got %v", name, err)
			Expect(err.Error()).To(ContainSubstring(c.want), name)
		}
		s.Status = good()
		Expect(k8sClient.Status().Update(ctx, s)).To(Succeed(), "a consistent status")
	})
})

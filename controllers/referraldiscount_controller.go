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
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

const (
	defaultReferralCodePrefix  = "REF"
	defaultReferralStatsPeriod = 5 * time.Minute
)

// referralVerdict says whether a referral agreement can run, and if not why:
// the referrer and the referee must differ, be accepted by the program, and be
// settled by the same cooperation (the oldest of the program that lists each),
// or the commission could not be paid. why("ns/name") says why a partner is not
// accepted, "" when it is.
func referralVerdict(rd *loyaltyv1alpha1.ReferralDiscount, why func(key string) string, consented func(key string) bool,
	coops []loyaltyv1alpha1.PartnerCooperation) (reason, message string) {
	referrer, referee := rd.Spec.Referrer.Key(rd.Namespace), rd.Spec.Referee.Key(rd.Namespace)
	if referrer == referee {
		return loyaltyv1alpha1.ReasonReferralSamePartner, fmt.Sprintf("%s cannot refer customers to itself; name another referee", referrer)
	}
	var not []string
	for _, key := range []string{referrer, referee} {
		if w := why(key); w != "" {
			not = append(not, w)
		}
	}
	if len(not) > 0 {
		return loyaltyv1alpha1.ReasonPartnerNotAccepted, fmt.Sprintf("Not accepted by LoyaltyProgram %s: %s; no codes are issued until both are",
			rd.Spec.ProgramRef.Name, strings.Join(not, "; "))
	}
	settledBy := func(key string) *loyaltyv1alpha1.PartnerCooperation {
		var first *loyaltyv1alpha1.PartnerCooperation
		for i := range coops {
			c := &coops[i]
			if c.Namespace != rd.Namespace || c.Spec.ProgramRef.Name != rd.Spec.ProgramRef.Name || !c.DeletionTimestamp.IsZero() {
				continue
			}
			for _, m := range c.Spec.Members {
				if m.PartnerRef.Key(c.Namespace) == key && (first == nil || older(c, first)) {
					first = c
				}
			}
		}
		return first
	}
	a, b := settledBy(referrer), settledBy(referee)
	switch {
	case a == nil || b == nil:
		return loyaltyv1alpha1.ReasonReferralNotSettled, fmt.Sprintf("No PartnerCooperation of LoyaltyProgram %s settles both %s and %s, so the commission "+
			"could not be paid; add both to one cooperation. No codes are issued until then", rd.Spec.ProgramRef.Name, referrer, referee)
	case a.Name != b.Name:
		return loyaltyv1alpha1.ReasonReferralNotSettled, fmt.Sprintf("%s is settled by PartnerCooperation %s and %s by %s, so the commission could not be "+
			"paid; settle both in one cooperation. No codes are issued until then", referrer, a.Name, referee, b.Name)
	case !consented(referee):
		return loyaltyv1alpha1.ReasonAwaitingConsent, fmt.Sprintf("The referee %s owes the commission and has not consented: it adds "+
			"{kind: ReferralDiscount, namespace: %s, name: %s} to its Partner's spec.consents. No codes are issued until then",
			referee, rd.Namespace, rd.Name)
	}
	return "", fmt.Sprintf("Runs in LoyaltyProgram %s; commissions are settled by PartnerCooperation %s", rd.Spec.ProgramRef.Name, a.Name)
}

// ReferralStatsReader reads a program's referral counts from its accrual service.
type ReferralStatsReader interface {
	ReadStats(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.Stats, error)
}

// httpStats reads /v1/stats with the program's settlement token.
type httpStats struct {
	c    client.Client
	http *http.Client
}

func (h httpStats) ReadStats(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.Stats, error) {
	api, err := programAPI(ctx, h.c, h.http, program, settlementTokenKey)
	if err != nil {
		return accrualapi.Stats{}, err
	}
	return api.Stats(ctx)
}

// ReferralDiscountReconciler validates referral agreements (the program
// controller renders those that can run into the program's configuration) and
// reports their counts, read from the program's service at most once per
// StatsInterval.
type ReferralDiscountReconciler struct {
	client.Client
	Recorder      events.EventRecorder
	Stats         ReferralStatsReader
	StatsInterval time.Duration
	Now           func() time.Time

	// lastRead is when each agreement's counts were last read (types.NamespacedName
	// -> time.Time): events may reconcile an agreement often, reads stay rare.
	lastRead sync.Map
}

// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=referraldiscounts,verbs=get;list;watch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=referraldiscounts/status,verbs=get;patch

// Reconcile checks an agreement and refreshes its counts.
func (r *ReferralDiscountReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	rd := &loyaltyv1alpha1.ReferralDiscount{}
	if err := r.Get(ctx, req.NamespacedName, rd); err != nil {
		if apierrors.IsNotFound(err) {
			r.lastRead.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := rd.DeepCopy()
	ready := metav1.Condition{Type: loyaltyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, ObservedGeneration: rd.Generation}
	program := &loyaltyv1alpha1.LoyaltyProgram{}
	err := r.Get(ctx, client.ObjectKey{Namespace: rd.Namespace, Name: rd.Spec.ProgramRef.Name}, program)
	switch {
	case apierrors.IsNotFound(err):
		ready.Status, ready.Reason = metav1.ConditionFalse, loyaltyv1alpha1.ReasonProgramNotFound
		ready.Message = fmt.Sprintf("LoyaltyProgram %s/%s does not exist; create it, or fix spec.programRef", rd.Namespace, rd.Spec.ProgramRef.Name)
		program = nil
	case err != nil:
		return ctrl.Result{}, err
	default:
		coops := &loyaltyv1alpha1.PartnerCooperationList{}
		if err := r.List(ctx, coops, client.InNamespace(rd.Namespace), client.MatchingFields{indexCooperationProgram: program.Name}); err != nil {
			return ctrl.Result{}, err
		}
		consented := func(key string) bool { return partnerConsents(ctx, r.Client, key, rd) }
		reason, message := referralVerdict(rd, func(key string) string { return r.notAccepted(ctx, key, program) }, consented, coops.Items)
		ready.Reason, ready.Message = loyaltyv1alpha1.ReasonReferralActive, message
		if reason != "" {
			ready.Status, ready.Reason = metav1.ConditionFalse, reason
		}
	}
	meta.SetStatusCondition(&rd.Status.Conditions, ready)
	rd.Status.ObservedGeneration = rd.Generation
	rd.Status.CodePrefix = rd.Spec.CodePrefix
	if rd.Status.CodePrefix == "" {
		rd.Status.CodePrefix = defaultReferralCodePrefix
	}
	var result ctrl.Result
	if program != nil && ready.Status == metav1.ConditionTrue {
		r.refreshStats(ctx, rd, program)
		result.RequeueAfter = r.interval()
	}
	if equality.Semantic.DeepEqual(before.Status, rd.Status) {
		return result, nil
	}
	if err := patchStatus(ctx, r.Client, r.Recorder, before, rd, "Validate"); err != nil {
		return ctrl.Result{}, err
	}
	return result, nil
}

func (r *ReferralDiscountReconciler) interval() time.Duration {
	if r.StatsInterval > 0 {
		return r.StatsInterval
	}
	return defaultReferralStatsPeriod
}

// refreshStats reads the counts when the last read is older than the interval.
// Counts that did not change are not written, so a quiet agreement costs no
// status writes; statsUpdatedAt is when the counts last changed.
func (r *ReferralDiscountReconciler) refreshStats(ctx context.Context, rd *loyaltyv1alpha1.ReferralDiscount, program *loyaltyv1alpha1.LoyaltyProgram) {
	if r.Stats == nil {
		return
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	key := client.ObjectKeyFromObject(rd)
	if last, ok := r.lastRead.Load(key); ok && now().Sub(last.(time.Time)) < r.interval() {
		return
	}
	r.lastRead.Store(key, now())
	st, err := r.Stats.ReadStats(ctx, program)
	if err != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Could not read the program's referral counts", "err", err.Error())
		return
	}
	counts := st.Referrals[loyaltyv1alpha1.ObjectKey(rd.Namespace, rd.Name)]
	s := &rd.Status
	if s.CodesIssued == counts.CodesIssued && s.DiscountsGiven == counts.DiscountsGiven &&
		s.CommissionsPending == counts.CommissionsPending && s.CommissionsConfirmed == counts.CommissionsConfirmed {
		return
	}
	s.CodesIssued, s.DiscountsGiven = counts.CodesIssued, counts.DiscountsGiven
	s.CommissionsPending, s.CommissionsConfirmed = counts.CommissionsPending, counts.CommissionsConfirmed
	s.StatsUpdatedAt = &metav1.Time{Time: now().Truncate(time.Second)}
}

// notAccepted says why the program has not accepted a partner, "" when it has.
func (r *ReferralDiscountReconciler) notAccepted(ctx context.Context, key string, program *loyaltyv1alpha1.LoyaltyProgram) string {
	return partnerNotAccepted(ctx, r.Client, key, program.Namespace, program.Name)
}

// partnerConsents says whether the Partner key (namespace/name) consents to the
// referral agreement rd; false when it cannot be read.
func partnerConsents(ctx context.Context, c client.Client, key string, rd *loyaltyv1alpha1.ReferralDiscount) bool {
	ns, name, _ := strings.Cut(key, "/")
	partner := &loyaltyv1alpha1.Partner{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, partner); err != nil {
		return false
	}
	return partner.ConsentsTo(loyaltyv1alpha1.AgreementReferral, rd.Namespace, rd.Name)
}

// partnerNotAccepted reads a Partner's status for one program: "" when accepted,
// otherwise why not.
func partnerNotAccepted(ctx context.Context, c client.Client, key, programNS, program string) string {
	ns, name, _ := strings.Cut(key, "/")
	partner := &loyaltyv1alpha1.Partner{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, partner); err != nil {
		if apierrors.IsNotFound(err) {
			return key + " does not exist"
		}
		return fmt.Sprintf("%s could not be read: %v", key, err)
	}
	why := key + " does not reference the program in spec.programRefs"
	for _, st := range partner.Status.Programs {
		if st.ProgramRef.Namespace != programNS || st.ProgramRef.Name != program {
			continue
		}
		c := meta.FindStatusCondition(st.Conditions, loyaltyv1alpha1.ConditionAccepted)
		switch {
		case c == nil:
			why = key + " has not been admitted yet"
		case c.Status == metav1.ConditionTrue:
			why = ""
		default:
			why = fmt.Sprintf("%s is refused (%s)", key, c.Reason)
		}
	}
	return why
}

// SetupWithManager watches agreements, their programs, the partners they name
// and the cooperations of their program.
func (r *ReferralDiscountReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	c := mgr.GetClient()
	list := func(ns, field, value string) []ctrl.Request {
		return indexedRequests(ctx, c, &loyaltyv1alpha1.ReferralDiscountList{}, ns, field, value)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&loyaltyv1alpha1.ReferralDiscount{}, builderGenerationChanged()).
		Watches(&loyaltyv1alpha1.LoyaltyProgram{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return list(o.GetNamespace(), indexReferralProgram, o.GetName())
		})).
		Watches(&loyaltyv1alpha1.Partner{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return list("", indexReferralPartners, loyaltyv1alpha1.ObjectKey(o.GetNamespace(), o.GetName()))
		})).
		Watches(&loyaltyv1alpha1.PartnerCooperation{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return list(o.GetNamespace(), indexReferralProgram, o.(*loyaltyv1alpha1.PartnerCooperation).Spec.ProgramRef.Name)
		}), builderGenerationChangedWatch()).
		WithOptions(controllerOptions(opts)).
		Named("referraldiscount").
		Complete(requeueOnStale(r))
}

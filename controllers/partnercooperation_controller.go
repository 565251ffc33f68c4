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
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// PartnerCooperationReconciler runs a cooperation's settlements: a CronJob of
// `treue settle`, the ServiceAccount and Role it runs as, and a status that
// says which partners can be settled, which are settled by another
// cooperation, the last settlement and the next run.
type PartnerCooperationReconciler struct {
	client.Client
	Scheme   *runtime.Scheme
	Recorder events.EventRecorder
	// Image is the operator's own image, which runs `treue settle`.
	Image string
	// Now is the clock; nil is the system clock.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=partnercooperations,verbs=get;list;watch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=partnercooperations/status,verbs=get;patch
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;patch
// The job's Role grants these; Kubernetes lets the manager grant only what it holds.
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=settlements,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=settlements/status,verbs=update

// Reconcile brings a cooperation's CronJob and identity to the spec and reports.
func (r *PartnerCooperationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	coop := &loyaltyv1alpha1.PartnerCooperation{}
	if err := r.Get(ctx, req.NamespacedName, coop); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := coop.DeepCopy()
	gen := coop.Generation
	cond := func(kind string, status metav1.ConditionStatus, reason, message string) metav1.Condition {
		return metav1.Condition{Type: kind, Status: status, Reason: reason, Message: message, ObservedGeneration: gen}
	}

	program := &loyaltyv1alpha1.LoyaltyProgram{}
	err := r.Get(ctx, client.ObjectKey{Namespace: coop.Namespace, Name: coop.Spec.ProgramRef.Name}, program)
	if apierrors.IsNotFound(err) {
		meta.SetStatusCondition(&coop.Status.Conditions, cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionFalse, loyaltyv1alpha1.ReasonProgramNotFound,
			fmt.Sprintf("LoyaltyProgram %s/%s does not exist; create it, or fix spec.programRef", coop.Namespace, coop.Spec.ProgramRef.Name)))
		return ctrl.Result{}, r.writeStatus(ctx, before, coop)
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	notAccepted := r.unaccepted(ctx, coop)
	awaiting, err := r.awaitingConsent(ctx, coop)
	if err != nil {
		return ctrl.Result{}, err
	}
	conflicts, err := r.conflicts(ctx, coop)
	if err != nil {
		return ctrl.Result{}, err
	}
	excluded := make([]string, 0, len(conflicts)+len(awaiting))
	for p := range conflicts {
		excluded = append(excluded, p)
	}
	// A member that has not consented owes nothing under this cooperation: its
	// settlements leave it out until it does.
	for _, p := range awaiting {
		if _, dup := conflicts[p]; !dup {
			excluded = append(excluded, p)
		}
	}
	// The schedule is checked before anything is created: the API server refuses a
	// CronJob whose schedule or time zone does not parse, and the cooperation
	// would never settle, with nothing on its status to say why.
	next, scheduleErr := nextRun(coop, r.now())
	if scheduleErr == nil {
		objs := desiredCooperationObjects(coop, r.Image, excluded)
		for _, obj := range []client.Object{objs.ServiceAccount, objs.Role, objs.RoleBinding, objs.CronJob} {
			if _, err := applyOwned(ctx, r.Client, r.Scheme, coop, obj); err != nil {
				return ctrl.Result{}, err
			}
		}
	}

	// Conditions.
	if len(notAccepted) == 0 {
		meta.SetStatusCondition(&coop.Status.Conditions, cond(loyaltyv1alpha1.ConditionPartnersAccepted, metav1.ConditionTrue, loyaltyv1alpha1.ReasonAllAccepted,
			fmt.Sprintf("All %d partners are accepted by LoyaltyProgram %s", len(coop.Spec.Members), program.Name)))
	} else {
		meta.SetStatusCondition(&coop.Status.Conditions, cond(loyaltyv1alpha1.ConditionPartnersAccepted, metav1.ConditionFalse,
			loyaltyv1alpha1.ReasonPartnerNotAccepted,
			fmt.Sprintf("Not accepted by LoyaltyProgram %s: %s; see each Partner's status.programs", program.Name, strings.Join(notAccepted, "; "))))
	}
	if len(conflicts) == 0 {
		meta.SetStatusCondition(&coop.Status.Conditions, cond(loyaltyv1alpha1.ConditionConflict, metav1.ConditionFalse, loyaltyv1alpha1.ReasonNoConflict,
			"No partner of this cooperation is settled by another cooperation of the program"))
	} else {
		var parts []string
		for _, p := range slices.Sorted(func(yield func(string) bool) {
			for p := range conflicts {
				if !yield(p) {
					return
				}
			}
		}) {
			parts = append(parts, fmt.Sprintf("%s is settled by PartnerCooperation %s", p, conflicts[p]))
		}
		meta.SetStatusCondition(&coop.Status.Conditions, cond(loyaltyv1alpha1.ConditionConflict, metav1.ConditionTrue, loyaltyv1alpha1.ReasonPartnerConflict,
			strings.Join(parts, "; ")+"; this cooperation's settlements leave them out; remove them from spec.members, or from the other cooperation"))
	}
	ready := cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionTrue, loyaltyv1alpha1.ReasonScheduled,
		fmt.Sprintf("Settles %s periods by the schedule %q in %s", strings.ToLower(string(coop.Spec.Schedule.PeriodLength())),
			coop.Spec.Schedule.Cron, coop.Spec.Schedule.TimeZoneName()))
	switch dup := coop.Spec.DuplicateMembers(coop.Namespace); {
	case len(dup) > 0:
		ready = cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionFalse, loyaltyv1alpha1.ReasonDuplicatePartner,
			fmt.Sprintf("spec.members lists %s more than once; list each partner once. Its settlements refuse to run until then",
				strings.Join(dup, ", ")))
	case scheduleErr != nil:
		ready = cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionFalse, loyaltyv1alpha1.ReasonInvalidSchedule,
			fmt.Sprintf("%v; no settlement runs until it is fixed", scheduleErr))
	case len(notAccepted) > 0:
		ready = cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionFalse, loyaltyv1alpha1.ReasonPartnerNotAccepted,
			"Some partners are not accepted by the program; see the PartnersAccepted condition")
	case len(awaiting) > 0:
		ready = cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionFalse, loyaltyv1alpha1.ReasonAwaitingConsent,
			fmt.Sprintf("Waiting for %s to consent: each adds {kind: PartnerCooperation, namespace: %s, name: %s} to its Partner's "+
				"spec.consents; until then its entries are left out of this cooperation's settlements",
				strings.Join(awaiting, ", "), coop.Namespace, coop.Name))
	case coop.Spec.Suspended():
		ready = cond(loyaltyv1alpha1.ConditionReady, metav1.ConditionTrue, loyaltyv1alpha1.ReasonSuspended,
			"Suspended: no settlement runs until spec.suspend is false")
	}
	meta.SetStatusCondition(&coop.Status.Conditions, ready)
	coop.Status.NextScheduleTime = nil
	if scheduleErr == nil && !coop.Spec.Suspended() {
		coop.Status.NextScheduleTime = &metav1.Time{Time: next}
	}
	if err := r.lastSettlement(ctx, coop); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.writeStatus(ctx, before, coop); err != nil {
		return ctrl.Result{}, err
	}
	if coop.Status.NextScheduleTime != nil {
		// Refresh nextScheduleTime once it has passed; once per run, not a loop.
		return ctrl.Result{RequeueAfter: time.Until(next) + time.Minute}, nil
	}
	return ctrl.Result{}, nil
}

func (r *PartnerCooperationReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// nextRun is when the CronJob runs next after now, as the CronJob controller
// reads the schedule (robfig/cron, in the schedule's time zone).
func nextRun(coop *loyaltyv1alpha1.PartnerCooperation, now time.Time) (time.Time, error) {
	loc, err := coop.Spec.Schedule.Location()
	if err != nil {
		return time.Time{}, fmt.Errorf("spec.schedule.timeZone: %w: write an IANA time zone such as \"Europe/Berlin\"", err)
	}
	sched, err := cron.ParseStandard(coop.Spec.Schedule.Cron)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec.schedule.cron %q: %w: write five fields within their ranges "+
			"(minute 0-59, hour 0-23, day of month 1-31, month 1-12, day of week 0-6), such as \"0 3 * * 1\"", coop.Spec.Schedule.Cron, err)
	}
	return sched.Next(now.In(loc)).UTC(), nil
}

// unaccepted lists the members the program has not accepted, each with why.
func (r *PartnerCooperationReconciler) unaccepted(ctx context.Context, coop *loyaltyv1alpha1.PartnerCooperation) []string {
	var out []string
	for _, m := range coop.Spec.Members {
		if why := partnerNotAccepted(ctx, r.Client, m.PartnerRef.Key(coop.Namespace), coop.Namespace, coop.Spec.ProgramRef.Name); why != "" {
			out = append(out, why)
		}
	}
	return out
}

// awaitingConsent lists the members (namespace/name) whose Partner exists and
// has not consented to the cooperation. A member that does not exist is not
// accepted either, and reported as such.
func (r *PartnerCooperationReconciler) awaitingConsent(ctx context.Context, coop *loyaltyv1alpha1.PartnerCooperation) ([]string, error) {
	var out []string
	for _, m := range coop.Spec.Members {
		key := m.PartnerRef.Key(coop.Namespace)
		partner := &loyaltyv1alpha1.Partner{}
		err := r.Get(ctx, m.PartnerRef.In(coop.Namespace), partner)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !partner.ConsentsTo(loyaltyv1alpha1.AgreementCooperation, coop.Namespace, coop.Name) && !slices.Contains(out, key) {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out, nil
}

// conflicts maps each member also listed by an older cooperation of the same
// program to that cooperation: a partner's entries are settled by exactly one.
func (r *PartnerCooperationReconciler) conflicts(ctx context.Context, coop *loyaltyv1alpha1.PartnerCooperation) (map[string]string, error) {
	list := &loyaltyv1alpha1.PartnerCooperationList{}
	if err := r.List(ctx, list, client.InNamespace(coop.Namespace),
		client.MatchingFields{indexCooperationProgram: coop.Spec.ProgramRef.Name}); err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, m := range coop.Spec.Members {
		mine[m.PartnerRef.Key(coop.Namespace)] = true
	}
	out := map[string]string{}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Name == coop.Name || !older(other, coop) {
			continue
		}
		for _, m := range other.Spec.Members {
			key := m.PartnerRef.Key(other.Namespace)
			if mine[key] {
				if first, ok := out[key]; !ok || other.Name < first {
					out[key] = other.Name
				}
			}
		}
	}
	return out, nil
}

// older orders cooperations by creation, then by name, so that exactly one of
// two conflicting cooperations keeps a partner.
func older(a, b *loyaltyv1alpha1.PartnerCooperation) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

// lastSettlement points the status at the cooperation's latest Settlement.
func (r *PartnerCooperationReconciler) lastSettlement(ctx context.Context, coop *loyaltyv1alpha1.PartnerCooperation) error {
	list := &loyaltyv1alpha1.SettlementList{}
	if err := r.List(ctx, list, client.InNamespace(coop.Namespace), client.MatchingLabels{loyaltyv1alpha1.LabelCooperation: coop.Name}); err != nil {
		return err
	}
	var last *loyaltyv1alpha1.Settlement
	for i := range list.Items {
		s := &list.Items[i]
		if s.Spec.CooperationRef.Name != coop.Name {
			continue
		}
		if last == nil || s.Spec.Period.Start.After(last.Spec.Period.Start.Time) {
			last = s
		}
	}
	if last == nil {
		coop.Status.LastSettlement = nil
		return nil
	}
	outcome := "Running"
	switch {
	case meta.IsStatusConditionTrue(last.Status.Conditions, loyaltyv1alpha1.ConditionCompleted):
		outcome = loyaltyv1alpha1.ConditionCompleted
	case meta.IsStatusConditionTrue(last.Status.Conditions, loyaltyv1alpha1.ConditionFailed):
		outcome = loyaltyv1alpha1.ConditionFailed
	}
	coop.Status.LastSettlement = &loyaltyv1alpha1.SettlementSummary{Name: last.Name, Period: last.Spec.Period.ID,
		CompletedAt: last.Status.CompletedAt, Outcome: outcome}
	return nil
}

// writeStatus patches the status when it changed, with an event when Ready did.
func (r *PartnerCooperationReconciler) writeStatus(ctx context.Context, before, coop *loyaltyv1alpha1.PartnerCooperation) error {
	coop.Status.ObservedGeneration = coop.Generation
	if equality.Semantic.DeepEqual(before.Status, coop.Status) {
		return nil
	}
	return patchStatus(ctx, r.Client, r.Recorder, before, coop, "Reconcile")
}

// SetupWithManager watches cooperations, what they own, the programs and
// partners they name, the other cooperations of their program, and their
// Settlements.
func (r *PartnerCooperationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	c := mgr.GetClient()
	byField := func(ns, field, value string) []ctrl.Request {
		return indexedRequests(ctx, c, &loyaltyv1alpha1.PartnerCooperationList{}, ns, field, value)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&loyaltyv1alpha1.PartnerCooperation{}, builderGenerationChanged()).
		Owns(&batchv1.CronJob{}).Owns(&corev1.ServiceAccount{}).Owns(&rbacv1.Role{}).Owns(&rbacv1.RoleBinding{}).
		Watches(&loyaltyv1alpha1.LoyaltyProgram{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return byField(o.GetNamespace(), indexCooperationProgram, o.GetName())
		})).
		Watches(&loyaltyv1alpha1.Partner{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return byField("", indexCooperationPartners, o.GetNamespace()+"/"+o.GetName())
		})).
		// Another cooperation of the program may take or release a partner.
		Watches(&loyaltyv1alpha1.PartnerCooperation{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			return byField(o.GetNamespace(), indexCooperationProgram, o.(*loyaltyv1alpha1.PartnerCooperation).Spec.ProgramRef.Name)
		}), builderGenerationChangedWatch()).
		Watches(&loyaltyv1alpha1.Settlement{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			s := o.(*loyaltyv1alpha1.Settlement)
			return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: s.Namespace, Name: s.Spec.CooperationRef.Name}}}
		})).
		WithOptions(controllerOptions(opts)).
		Named("partnercooperation").
		Complete(requeueOnStale(r))
}

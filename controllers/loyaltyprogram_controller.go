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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// deploymentProgressDeadlineExceeded is the reason a Deployment's Progressing
// condition gives when its rollout stopped making progress: the Deployment API's
// vocabulary, not treue's (k8s.io/api names no constant for it).
const deploymentProgressDeadlineExceeded = "ProgressDeadlineExceeded"

// LoyaltyProgramReconciler runs each program's accrual service.
type LoyaltyProgramReconciler struct {
	client.Client
	// APIReader reads what the cache does not hold: the PostgreSQL DSN Secret,
	// which the user owns and does not label.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	// Image is the operator's own image, which runs the accrual service.
	Image string
	// ManagerNamespace is the manager's own, admitted by each service's
	// NetworkPolicy; empty when the manager runs outside the cluster.
	ManagerNamespace string
	// Sinks are the programs' latest reports on their event sinks.
	Sinks *sinkReports
}

// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=loyaltyprograms,verbs=get;list;watch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=loyaltyprograms/status,verbs=get;patch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=partners;referraldiscounts,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps;services;serviceaccounts,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=statefulsets;deployments,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile renders the program's configuration and applies its objects.
func (r *LoyaltyProgramReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	program := &loyaltyv1alpha1.LoyaltyProgram{}
	if err := r.Get(ctx, req.NamespacedName, program); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !program.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // owner references take the workload with it
	}
	before := program.DeepCopy()
	degraded := metav1.Condition{Type: loyaltyv1alpha1.ConditionDegraded, Status: metav1.ConditionFalse, Reason: loyaltyv1alpha1.ReasonAsExpected,
		Message: "The program's configuration is complete", ObservedGeneration: program.Generation}

	partners, hashes, err := r.acceptedPartners(ctx, program)
	if err != nil {
		return ctrl.Result{}, err
	}
	referrals, err := r.runnableReferrals(ctx, program, partners)
	if err != nil {
		return ctrl.Result{}, err
	}
	tokenHashes, err := r.ensureTokens(ctx, program)
	if err != nil {
		return ctrl.Result{}, err
	}
	for k, v := range tokenHashes {
		hashes[k] = v
	}
	config, err := renderAccrualConfig(program, partners, referrals)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The sinks whose signing Secret is good run; the others wait for it, and
	// the status says what to create.
	sinks := declaredSinks(program, partners)
	keys, err := readSigningKeys(ctx, r.APIReader, sinks)
	if err != nil {
		return ctrl.Result{}, err
	}
	var signing map[string][]byte
	var sinkProblems map[string]string
	config.Events, signing, sinkProblems = renderEvents(program, sinks, keys)
	for k, v := range signing {
		hashes[k] = v
	}
	// The API server checked every rule it can; what it cannot (a money amount
	// finer than the currency's minor unit, say) shows here.
	if compiled, err := rules.Compile(config.Rules); err != nil {
		degraded.Status, degraded.Reason = metav1.ConditionTrue, loyaltyv1alpha1.ReasonRulesInvalid
		degraded.Message = fmt.Sprintf("The rules cannot run: %v; fix the spec", err)
	} else {
		for _, rc := range config.Referrals {
			if _, err := rules.CompileReferral(compiled.Currency, rc); err != nil {
				degraded.Status, degraded.Reason = metav1.ConditionTrue, loyaltyv1alpha1.ReasonRulesInvalid
				degraded.Message = fmt.Sprintf("ReferralDiscount %s cannot run: %v; fix it", rc.ID, err)
			}
		}
	}
	if pg := program.Spec.Ledger.PostgreSQL; pg != nil {
		if missing := r.missingDSN(ctx, program.Namespace, pg.DSNSecretRef); missing != "" {
			degraded.Status, degraded.Reason, degraded.Message = metav1.ConditionTrue, loyaltyv1alpha1.ReasonPostgreSQLSecret, missing
		}
	}
	raw, hash, err := configFile(config, hashes)
	if err != nil {
		return ctrl.Result{}, err
	}

	if degraded.Reason != loyaltyv1alpha1.ReasonRulesInvalid {
		// Rules that cannot run are not rolled out: the pods keep the last good ones.
		if err := r.apply(ctx, program, raw, hash, hashes, partnerNamespaces(partners)); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.eventsStatus(ctx, program, sinks, sinkProblems)
	recheck, err := r.updateStatus(ctx, before, program, degraded, hash, int32(len(partners)))
	if err != nil {
		return ctrl.Result{}, err
	}
	if len(sinks) > 0 && (recheck == 0 || recheck > r.Sinks.interval) {
		// The sinks' figures, and their signing Secrets (which no watch covers),
		// are read again after the interval.
		recheck = r.Sinks.interval
	}
	return ctrl.Result{RequeueAfter: recheck}, nil
}

// acceptedPartners are the Partners that reference the program, that it admits,
// and whose credentials exist; with the hashes of their keys by secrets file.
func (r *LoyaltyProgramReconciler) acceptedPartners(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (
	[]loyaltyv1alpha1.Partner, map[string][]byte, error) {
	list := &loyaltyv1alpha1.PartnerList{}
	if err := r.List(ctx, list, client.MatchingFields{indexPartnerPrograms: loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name)}); err != nil {
		return nil, nil, err
	}
	hashes := map[string][]byte{}
	var accepted []loyaltyv1alpha1.Partner
	namespaces := map[string]*corev1.Namespace{}
	for _, p := range list.Items {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		ns, ok := namespaces[p.Namespace]
		if !ok {
			ns = &corev1.Namespace{}
			err := r.Get(ctx, client.ObjectKey{Name: p.Namespace}, ns)
			switch {
			case apierrors.IsNotFound(err):
				// The namespace is going (or the cache has not seen it yet): skip
				// this partner; the rest of the network keeps running.
				ns = nil
			case err != nil:
				return nil, nil, err
			}
			namespaces[p.Namespace] = ns
		}
		if ns == nil {
			continue
		}
		if ok, _ := admits(program, ns); !ok {
			continue
		}
		secret := &corev1.Secret{}
		err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: credentialsSecretName(p.Name, program.Namespace, program.Name)}, secret)
		if apierrors.IsNotFound(err) || (err == nil && len(secret.Data["apiKey"]) == 0) {
			continue // the partner controller has not issued them yet; their Secret's event brings us back
		}
		if err != nil {
			return nil, nil, err
		}
		hashes[accrualapi.PartnerKeyHashFile(p.Namespace, p.Name)] = keyHash(secret.Data["apiKey"])
		accepted = append(accepted, p)
	}
	slices.SortFunc(accepted, func(a, b loyaltyv1alpha1.Partner) int {
		return compareStrings(loyaltyv1alpha1.ObjectKey(a.Namespace, a.Name), loyaltyv1alpha1.ObjectKey(b.Namespace, b.Name))
	})
	return accepted, hashes, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ensureTokens keeps the program's admin and settlement tokens (created once) in
// a Secret of its own, and returns their hashes for the service.
func (r *LoyaltyProgramReconciler) ensureTokens(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) (map[string][]byte, error) {
	name := tokensSecretName(program.Name)
	secret := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: program.Namespace, Name: name}, secret)
	if apierrors.IsNotFound(err) {
		admin, err1 := newAPIKey()
		settlement, err2 := newAPIKey()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("generating tokens: %v %v", err1, err2)
		}
		secret = tokensSecret(program, admin, settlement)
		if err := controllerutil.SetControllerReference(program, secret, r.Scheme); err != nil {
			return nil, err
		}
		if err := r.Create(ctx, secret); apierrors.IsAlreadyExists(err) {
			// The cache has not seen our own earlier create yet: read it live,
			// rather than fail and back off.
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
				return nil, err
			}
		} else if err != nil {
			return nil, fmt.Errorf("creating Secret %s/%s: %w", program.Namespace, name, err)
		}
	} else if err != nil {
		return nil, err
	}
	return tokenHashes(secret), nil
}

// runnableReferrals are the ReferralDiscounts naming the program that can run:
// both partners accepted (with credentials), settled by one cooperation, and the
// referee consented to owe the commission. The
// others get no codes; their own status says why.
func (r *LoyaltyProgramReconciler) runnableReferrals(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram,
	accepted []loyaltyv1alpha1.Partner) ([]loyaltyv1alpha1.ReferralDiscount, error) {
	list := &loyaltyv1alpha1.ReferralDiscountList{}
	if err := r.List(ctx, list, client.InNamespace(program.Namespace), client.MatchingFields{indexReferralProgram: program.Name}); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	coops := &loyaltyv1alpha1.PartnerCooperationList{}
	if err := r.List(ctx, coops, client.InNamespace(program.Namespace), client.MatchingFields{indexCooperationProgram: program.Name}); err != nil {
		return nil, err
	}
	in := map[string]*loyaltyv1alpha1.Partner{}
	for i := range accepted {
		in[loyaltyv1alpha1.ObjectKey(accepted[i].Namespace, accepted[i].Name)] = &accepted[i]
	}
	why := func(key string) string {
		if in[key] != nil {
			return ""
		}
		return key + " is not accepted"
	}
	var out []loyaltyv1alpha1.ReferralDiscount
	for i := range list.Items {
		rd := &list.Items[i]
		consented := func(key string) bool {
			return in[key] != nil && in[key].ConsentsTo(loyaltyv1alpha1.AgreementReferral, rd.Namespace, rd.Name)
		}
		if reason, _ := referralVerdict(rd, why, consented, coops.Items); reason == "" {
			out = append(out, list.Items[i])
		}
	}
	return out, nil
}

// eventsStatus sets the figures of the program's own sinks and their
// EventsDelivering condition; partners' sinks are on the partners' status.
func (r *LoyaltyProgramReconciler) eventsStatus(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram, sinks []declaredSink,
	problems map[string]string) {
	var own []declaredSink
	for _, d := range sinks {
		if d.partner == "" {
			own = append(own, d)
		}
	}
	if want := replayRequested(program, program.Status.LastHandledEventsReplay); want != "" {
		n, names, err := r.Sinks.replayDead(ctx, program, own, problems)
		if err != nil {
			// Tried again at the next reconcile (at least once per sink interval).
			r.Recorder.Eventf(program, nil, corev1.EventTypeWarning, "EventsReplayFailed", "ReplayEvents", "%v", err)
		} else {
			program.Status.LastHandledEventsReplay = want
			r.Recorder.Eventf(program, nil, corev1.EventTypeNormal, "EventsReplayed", "ReplayEvents",
				"Sent %d parked dead events again (sinks: %s), as %s=%q asked", n, strings.Join(names, ", "), loyaltyv1alpha1.AnnotationReplayEvents, want)
		}
	}
	if len(own) == 0 {
		program.Status.Events = nil
		setEventsCondition(&program.Status.Conditions, nil, metav1.Condition{})
		return
	}
	now := time.Now()
	statuses, cond := sinkFigures(own, problems, r.Sinks.get(ctx, program, now), now, program.Generation)
	program.Status.Events = statuses
	setEventsCondition(&program.Status.Conditions, own, cond)
}

// missingDSN says what is wrong with the PostgreSQL DSN Secret, or "".
func (r *LoyaltyProgramReconciler) missingDSN(ctx context.Context, namespace string, ref loyaltyv1alpha1.SecretKeyReference) string {
	secret := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Sprintf("Secret %s/%s with the PostgreSQL DSN does not exist; create it with key %q, or fix spec.ledger.postgresql.dsnSecretRef",
				namespace, ref.Name, ref.Key)
		}
		return fmt.Sprintf("Secret %s/%s could not be read: %v", namespace, ref.Name, err)
	}
	if len(secret.Data[ref.Key]) == 0 {
		return fmt.Sprintf("Secret %s/%s has no key %q with the PostgreSQL DSN", namespace, ref.Name, ref.Key)
	}
	return ""
}

// apply writes the secrets file Secret and the program's objects.
func (r *LoyaltyProgramReconciler) apply(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram, config []byte, hash string,
	hashes map[string][]byte, partnerNamespaces []string) error {
	all := programOwned(program, config, hash, r.Image, hashes, admittedNamespaces(partnerNamespaces, r.ManagerNamespace))
	for _, obj := range all {
		wrote, err := applyOwned(ctx, r.Client, r.Scheme, program, obj)
		if err != nil {
			return err
		}
		if wrote {
			ctrl.LoggerFrom(ctx).Info("Applied object", "kind", obj.GetObjectKind().GroupVersionKind().Kind, "name", obj.GetName())
		}
	}
	return nil
}

// updateStatus computes the conditions from the workload and writes the status
// when it changed. While a new program is starting it asks to be run again when
// its start deadline passes.
func (r *LoyaltyProgramReconciler) updateStatus(ctx context.Context, before, program *loyaltyv1alpha1.LoyaltyProgram,
	degraded metav1.Condition, hash string, partners int32) (time.Duration, error) {
	state := r.workloadState(ctx, program)
	previous := meta.FindStatusCondition(program.Status.Conditions, loyaltyv1alpha1.ConditionAvailable)
	// The decision takes the time as an argument: its tests choose it.
	available, progressing, stuck, recheck := workloadConditions(program, state, previous, time.Now())
	if stuck != "" && degraded.Status != metav1.ConditionTrue {
		degraded.Status, degraded.Reason, degraded.Message = metav1.ConditionTrue, loyaltyv1alpha1.ReasonRolloutStuck, stuck
	}
	ready := metav1.Condition{Type: loyaltyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: loyaltyv1alpha1.ReasonWorkloadAvailable,
		Message: "The accrual service is available", ObservedGeneration: program.Generation}
	switch {
	case degraded.Status == metav1.ConditionTrue:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, degraded.Reason, degraded.Message
	case available.Status != metav1.ConditionTrue:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, available.Reason, available.Message
	}
	for _, c := range []metav1.Condition{ready, available, progressing, degraded} {
		meta.SetStatusCondition(&program.Status.Conditions, c)
	}
	program.Status.ObservedGeneration = program.Generation
	program.Status.Endpoint = accrualEndpoint(program)
	program.Status.Partners = partners
	program.Status.ConfigHash = hash
	if equality.Semantic.DeepEqual(before.Status, program.Status) {
		return recheck, nil
	}
	return recheck, patchStatus(ctx, r.Client, r.Recorder, before, program, "Reconcile")
}

// StartDeadline is how long a new program's first pods may take to become
// available before the program is Degraded (RolloutStuck): a StatefulSet has no
// progress deadline of its own, and a Deployment's is the same ten minutes.
const StartDeadline = 10 * time.Minute

// workloadState is what the StatefulSet or Deployment says about the pods.
type workloadState struct {
	// want is the replicas the spec asks for; ready those available; updated
	// those that run the current pod template.
	want, ready, updated int32
	// current: the workload controller has seen the current template.
	current bool
	// stuck says why the rollout stopped making progress, if it did.
	stuck string
}

// workloadState reads the program's StatefulSet or Deployment.
func (r *LoyaltyProgramReconciler) workloadState(ctx context.Context, program *loyaltyv1alpha1.LoyaltyProgram) workloadState {
	// The replicas wanted come from the spec, not from the cached workload: a
	// workload applied a moment ago may not be in the cache yet, and a count read
	// from it would change the status once more when it arrives.
	w := workloadState{want: 1}
	key := client.ObjectKey{Namespace: program.Namespace, Name: accrualName(program)}
	if program.Spec.Ledger.Type == loyaltyv1alpha1.LedgerPostgreSQL {
		w.want = program.Spec.Service.ReplicaCount()
		d := &appsv1.Deployment{}
		if err := r.Get(ctx, key, d); err == nil {
			w.ready, w.updated = d.Status.AvailableReplicas, d.Status.UpdatedReplicas
			w.current = d.Status.ObservedGeneration >= d.Generation
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == deploymentProgressDeadlineExceeded {
					w.stuck = fmt.Sprintf("The rollout of Deployment %s stopped making progress: %s; see its pods' events", d.Name, c.Message)
				}
			}
		}
		return w
	}
	s := &appsv1.StatefulSet{}
	if err := r.Get(ctx, key, s); err == nil {
		w.ready, w.updated = s.Status.AvailableReplicas, s.Status.UpdatedReplicas
		w.current = s.Status.ObservedGeneration >= s.Generation
	}
	return w
}

// workloadConditions decides Available and Progressing, and says why the
// rollout is stuck, if it is. previous is the program's Available condition.
//
// A program whose service has never been available is Starting: it becomes
// Available only once a pod that runs the current configuration is ready, not
// when a pod of a configuration already replaced is (a new program's
// configuration usually changes while its first pod starts, as its partners are
// accepted, and a StatefulSet of one then replaces that pod: available, then
// not, then again, read like an incident). A start that takes longer than
// StartDeadline is stuck; recheck says when to look again for that. After the
// first availability, no ready pod is WorkloadUnavailable, which is news.
func workloadConditions(program *loyaltyv1alpha1.LoyaltyProgram, w workloadState, previous *metav1.Condition, now time.Time) (
	available, progressing metav1.Condition, stuck string, recheck time.Duration) {
	rolledOut := w.current && w.updated >= w.want
	starting := previous == nil || previous.Reason == loyaltyv1alpha1.ReasonWorkloadStarting
	available = metav1.Condition{Type: loyaltyv1alpha1.ConditionAvailable, Status: metav1.ConditionTrue, Reason: loyaltyv1alpha1.ReasonWorkloadAvailable,
		Message: fmt.Sprintf("%d of %d accrual pods are available", w.ready, w.want), ObservedGeneration: program.Generation}
	stuck = w.stuck
	switch {
	case starting && (w.ready < 1 || !rolledOut):
		available.Status, available.Reason = metav1.ConditionFalse, loyaltyv1alpha1.ReasonWorkloadStarting
		available.Message = fmt.Sprintf("The accrual service is starting: %d of %d pods run the current configuration, %d are ready", w.updated, w.want, w.ready)
		since := now
		if previous != nil {
			since = previous.LastTransitionTime.Time
		}
		available.LastTransitionTime = metav1.NewTime(since)
		if left := since.Add(StartDeadline).Sub(now); left > 0 {
			recheck = left
		} else if stuck == "" {
			stuck = fmt.Sprintf("The accrual service has not become available in %s since %s: %d of %d pods run the current configuration, %d are ready; "+
				"see the events of the pods of %s", StartDeadline, since.UTC().Format(time.RFC3339), w.updated, w.want, w.ready, accrualName(program))
		}
	case w.ready < 1:
		available.Status, available.Reason = metav1.ConditionFalse, loyaltyv1alpha1.ReasonWorkloadUnavailable
		available.Message += "; see the pods of " + accrualName(program) + " for why"
	}
	progressing = metav1.Condition{Type: loyaltyv1alpha1.ConditionProgressing, Status: metav1.ConditionFalse, Reason: loyaltyv1alpha1.ReasonRolloutComplete,
		Message: "Every accrual pod runs the current configuration", ObservedGeneration: program.Generation}
	if !rolledOut {
		progressing.Status, progressing.Reason = metav1.ConditionTrue, loyaltyv1alpha1.ReasonRollingOut
		progressing.Message = fmt.Sprintf("%d of %d accrual pods run the current configuration", w.updated, w.want)
	}
	return available, progressing, stuck, recheck
}

// SetupWithManager watches programs, what they own, and the Partners, credentials
// and ReferralDiscounts their configuration depends on.
func (r *LoyaltyProgramReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		// An annotation asks for a replay of dead events (AnnotationReplayEvents).
		For(&loyaltyv1alpha1.LoyaltyProgram{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.ConfigMap{}, builderOwnedChanged()).Owns(&corev1.Service{}, builderOwnedChanged()).
		Owns(&corev1.ServiceAccount{}, builderOwnedChanged()).Owns(&corev1.Secret{}, builderOwnedChanged()).
		Owns(&appsv1.StatefulSet{}, builderOwnedChanged()).Owns(&appsv1.Deployment{}, builderOwnedChanged()).
		Owns(&policyv1.PodDisruptionBudget{}, builderOwnedChanged()).Owns(&networkingv1.NetworkPolicy{}, builderOwnedChanged()).
		// A Partner's spec (the programs it references) decides; its status, which
		// its own controller writes, holds nothing the program reads.
		Watches(&loyaltyv1alpha1.Partner{}, handlerFunc(programsOfPartner), builderGenerationChangedWatch()).
		Watches(&loyaltyv1alpha1.ReferralDiscount{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			rd := o.(*loyaltyv1alpha1.ReferralDiscount)
			return requestsFor([]string{loyaltyv1alpha1.ObjectKey(rd.Namespace, rd.Spec.ProgramRef.Name)})
		})).
		Watches(&corev1.Secret{}, handlerFunc(programOfCredentials)).
		// A cooperation decides which referral agreements can run.
		Watches(&loyaltyv1alpha1.PartnerCooperation{}, handlerFunc(func(_ context.Context, o client.Object) []ctrl.Request {
			coop := o.(*loyaltyv1alpha1.PartnerCooperation)
			return requestsFor([]string{loyaltyv1alpha1.ObjectKey(coop.Namespace, coop.Spec.ProgramRef.Name)})
		}), builderGenerationChangedWatch()).
		WithOptions(controllerOptions(opts)).
		Complete(requeueOnStale(r))
}

// programOfCredentials maps a partner's credentials Secret to its program.
func programOfCredentials(_ context.Context, o client.Object) []ctrl.Request {
	l := o.GetLabels()
	if l[loyaltyv1alpha1.LabelPartner] == "" || l[loyaltyv1alpha1.LabelProgram] == "" {
		return nil
	}
	return requestsFor([]string{loyaltyv1alpha1.ObjectKey(l[loyaltyv1alpha1.LabelProgramNamespace], l[loyaltyv1alpha1.LabelProgram])})
}

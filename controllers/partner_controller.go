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

	corev1 "k8s.io/api/core/v1"
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
)

// PartnerReconciler admits Partners to the programs they reference, as Gateway
// API admits routes to listeners, and keeps an API key for each accepting program
// in a Secret of the partner's own namespace.
type PartnerReconciler struct {
	client.Client
	// APIReader reads past the cache, for an object this controller created a
	// moment ago that the cache has not seen yet.
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	// Sinks are the programs' latest reports on their event sinks.
	Sinks *sinkReports
}

// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=partners,verbs=get;list;watch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=partners/status,verbs=get;patch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=loyaltyprograms,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile decides each referenced program's answer and keeps the credentials.
func (r *PartnerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	partner := &loyaltyv1alpha1.Partner{}
	if err := r.Get(ctx, req.NamespacedName, partner); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !partner.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // its credentials are owned by it and go with it
	}
	before := partner.DeepCopy()
	namespace := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: partner.Namespace}, namespace); err != nil {
		return ctrl.Result{}, fmt.Errorf("reading namespace %s: %w", partner.Namespace, err)
	}

	// The partner's sinks and their Secrets are the same in every program: read
	// once.
	sinks := declaredSinks(&loyaltyv1alpha1.LoyaltyProgram{}, []loyaltyv1alpha1.Partner{*partner})
	keys, err := readSigningKeys(ctx, r.APIReader, sinks)
	if err != nil {
		return ctrl.Result{}, err
	}
	var statuses []loyaltyv1alpha1.PartnerProgramStatus
	var refused []string
	replay := partnerReplay{want: replayRequested(partner, partner.Status.LastHandledEventsReplay)}
	keep := map[string]bool{}
	for _, programRef := range partner.Spec.ProgramRefs {
		program := programRef.In(partner.Namespace)
		ns, name := program.Namespace, program.Name
		st := previousProgramStatus(before, ns, name)
		accepted, reason, message, programObj := r.admission(ctx, ns, name, namespace)
		status := metav1.ConditionFalse
		if accepted {
			replay.in(ctx, r, programObj, sinks, keys)
			r.eventsStatus(ctx, partner, programObj, sinks, keys, &st)
			status = metav1.ConditionTrue
			secretName, issued, err := r.ensureCredentials(ctx, partner, ns, name)
			if err != nil {
				return ctrl.Result{}, err
			}
			if issued && meta.IsStatusConditionTrue(st.Conditions, loyaltyv1alpha1.ConditionAccepted) {
				// Accepted before: no Accepted event names the new Secret.
				r.Recorder.Eventf(partner, nil, corev1.EventTypeNormal, "CredentialsIssued", "IssueCredentials",
					"Issued a new API key for LoyaltyProgram %s/%s in Secret %s (the previous Secret was gone)", ns, name, secretName)
			}
			keep[secretName] = true
			st.CredentialsSecretRef = &loyaltyv1alpha1.LocalObjectReference{Name: secretName}
			message = fmt.Sprintf("LoyaltyProgram %s/%s accepted this partner; its API key and the program's endpoint are in Secret %s", ns, name, secretName)
		} else {
			st.CredentialsSecretRef = nil
			st.Events = nil
			meta.RemoveStatusCondition(&st.Conditions, loyaltyv1alpha1.ConditionEventsDelivering)
			refused = append(refused, loyaltyv1alpha1.ObjectKey(ns, name))
		}
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: loyaltyv1alpha1.ConditionAccepted, Status: status, Reason: reason, Message: message, ObservedGeneration: partner.Generation,
		})
		statuses = append(statuses, st)
	}
	if err := r.revokeOthers(ctx, partner, keep); err != nil {
		return ctrl.Result{}, err
	}

	replay.done(r, partner)
	partner.Status.Programs = statuses
	partner.Status.AcceptedPrograms = int32(len(statuses) - len(refused))
	ready := metav1.Condition{Type: loyaltyv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: loyaltyv1alpha1.ReasonAccepted,
		Message: "Every referenced program accepted this partner", ObservedGeneration: partner.Generation}
	if len(refused) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, "NotAccepted"
		ready.Message = fmt.Sprintf("Not accepted by %s; see status.programs for why", strings.Join(refused, ", "))
	}
	meta.SetStatusCondition(&partner.Status.Conditions, ready)
	partner.Status.ObservedGeneration = partner.Generation
	var result ctrl.Result
	if partner.Spec.Events != nil && partner.Status.AcceptedPrograms > 0 {
		// The sinks' figures, and their signing Secrets, are read again after
		// the interval.
		result.RequeueAfter = r.Sinks.interval
	}
	if equality.Semantic.DeepEqual(before.Status, partner.Status) {
		return result, nil
	}
	if patched, err := statusPatch(ctx, r.Client, before, partner); !patched {
		return ctrl.Result{}, err
	}
	r.recordTransitions(before, partner)
	return result, nil
}

// partnerReplay sends the parked dead events of the partner's sinks in every
// program that accepted it again, when its annotation asks for it, before the
// figures are read (so that they show it). A failure is an event, and the next
// reconcile (at least once per sink interval) tries again.
type partnerReplay struct {
	want   string
	total  int64
	names  []string
	failed error
}

func (p *partnerReplay) in(ctx context.Context, r *PartnerReconciler, program *loyaltyv1alpha1.LoyaltyProgram, sinks []declaredSink,
	keys map[string]signingKeys) {
	if p.want == "" || p.failed != nil {
		return
	}
	_, _, problems := renderEvents(program, sinks, keys)
	n, replayed, err := r.Sinks.replayDead(ctx, program, sinks, problems)
	p.total += n
	for _, s := range replayed {
		p.names = append(p.names, fmt.Sprintf("%s in %s/%s", s, program.Namespace, program.Name))
	}
	p.failed = err
}

func (p *partnerReplay) done(r *PartnerReconciler, partner *loyaltyv1alpha1.Partner) {
	switch {
	case p.want == "":
	case p.failed != nil:
		r.Recorder.Eventf(partner, nil, corev1.EventTypeWarning, "EventsReplayFailed", "ReplayEvents", "%v", p.failed)
	default:
		partner.Status.LastHandledEventsReplay = p.want
		r.Recorder.Eventf(partner, nil, corev1.EventTypeNormal, "EventsReplayed", "ReplayEvents",
			"Sent %d parked dead events again (sinks: %s), as %s=%q asked", p.total, strings.Join(p.names, ", "), loyaltyv1alpha1.AnnotationReplayEvents, p.want)
	}
}

// eventsStatus sets the figures of the partner's sinks (with their Secrets'
// keys) in one program that accepted it, and their EventsDelivering condition.
func (r *PartnerReconciler) eventsStatus(ctx context.Context, partner *loyaltyv1alpha1.Partner, program *loyaltyv1alpha1.LoyaltyProgram,
	sinks []declaredSink, keys map[string]signingKeys, st *loyaltyv1alpha1.PartnerProgramStatus) {
	if len(sinks) == 0 {
		st.Events = nil
		setEventsCondition(&st.Conditions, nil, metav1.Condition{})
		return
	}
	_, _, problems := renderEvents(program, sinks, keys)
	now := time.Now()
	statuses, cond := sinkFigures(sinks, problems, r.Sinks.get(ctx, program, now), now, partner.Generation)
	st.Events = statuses
	setEventsCondition(&st.Conditions, sinks, cond)
}

func previousProgramStatus(p *loyaltyv1alpha1.Partner, ns, name string) loyaltyv1alpha1.PartnerProgramStatus {
	for _, st := range p.Status.Programs {
		if st.ProgramRef.Name == name && st.ProgramRef.Namespace == ns {
			return *st.DeepCopy()
		}
	}
	return loyaltyv1alpha1.PartnerProgramStatus{ProgramRef: loyaltyv1alpha1.NamespacedReference{Name: name, Namespace: ns}}
}

// admission asks the program whether it accepts the partner's namespace.
func (r *PartnerReconciler) admission(ctx context.Context, ns, name string, partnerNamespace *corev1.Namespace) (
	bool, string, string, *loyaltyv1alpha1.LoyaltyProgram) {
	program := &loyaltyv1alpha1.LoyaltyProgram{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, program); err != nil {
		if apierrors.IsNotFound(err) {
			return false, loyaltyv1alpha1.ReasonProgramNotFound, fmt.Sprintf("LoyaltyProgram %s/%s does not exist; check spec.programRefs", ns, name), nil
		}
		return false, "ProgramUnreadable", fmt.Sprintf("LoyaltyProgram %s/%s could not be read: %v", ns, name, err), nil
	}
	if ok, why := admits(program, partnerNamespace); !ok {
		return false, loyaltyv1alpha1.ReasonNotAllowedByProgram, why, nil
	}
	return true, loyaltyv1alpha1.ReasonAccepted, "", program
}

// ensureCredentials keeps the partner's API key for a program: created once,
// replaced when the Partner's rotation annotation changes. issued says it created
// the Secret just now; the Accepted event that usually comes with it names it.
func (r *PartnerReconciler) ensureCredentials(ctx context.Context, partner *loyaltyv1alpha1.Partner, programNS, program string) (
	name string, issued bool, err error) {
	name = credentialsSecretName(partner.Name, programNS, program)
	rotation := partner.Annotations[loyaltyv1alpha1.AnnotationRotateCredentials]
	endpoint := credentialsEndpoint(programNS, program)
	secret := &corev1.Secret{}
	err = r.Get(ctx, client.ObjectKey{Namespace: partner.Namespace, Name: name}, secret)
	if err != nil && !apierrors.IsNotFound(err) {
		return "", false, err
	}
	if apierrors.IsNotFound(err) {
		key, err := newAPIKey()
		if err != nil {
			return "", false, err
		}
		secret = credentialsSecret(partner, programNS, program, key)
		if err := controllerutil.SetControllerReference(partner, secret, r.Scheme); err != nil {
			return "", false, err
		}
		err = r.Create(ctx, secret)
		switch {
		case apierrors.IsAlreadyExists(err):
			// Our own earlier create, not in the cache yet: read it live and go on
			// with it as it is.
			secret = &corev1.Secret{}
			if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: partner.Namespace, Name: name}, secret); err != nil {
				return "", false, err
			}
		case err != nil:
			return "", false, fmt.Errorf("creating credentials %s/%s: %w", partner.Namespace, name, err)
		default:
			return name, true, nil
		}
	}
	rotate := secret.Annotations[loyaltyv1alpha1.AnnotationRotation] != rotation
	if !rotate && string(secret.Data["endpoint"]) == endpoint {
		return name, false, nil
	}
	patch := client.MergeFrom(secret.DeepCopy())
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	secret.Data["endpoint"] = []byte(endpoint)
	if rotate {
		key, err := newAPIKey()
		if err != nil {
			return "", false, err
		}
		secret.Data["apiKey"] = []byte(key)
		if secret.Annotations == nil {
			secret.Annotations = map[string]string{}
		}
		secret.Annotations[loyaltyv1alpha1.AnnotationRotation] = rotation
	}
	if err := r.Patch(ctx, secret, patch); err != nil {
		return "", false, fmt.Errorf("updating credentials %s/%s: %w", partner.Namespace, name, err)
	}
	if rotate {
		r.Recorder.Eventf(partner, nil, corev1.EventTypeNormal, "CredentialsRotated", "RotateCredentials",
			"Rotated the API key for LoyaltyProgram %s/%s in Secret %s", programNS, program, name)
	}
	return name, false, nil
}

// credentialsSecret is a partner's new credentials for a program: the API key
// and the program's endpoint, in the partner's namespace.
func credentialsSecret(partner *loyaltyv1alpha1.Partner, programNS, program, key string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: kindSecret},
		ObjectMeta: metav1.ObjectMeta{
			Name: credentialsSecretName(partner.Name, programNS, program), Namespace: partner.Namespace,
			Labels: map[string]string{loyaltyv1alpha1.LabelManagedBy: loyaltyv1alpha1.ManagedByTreue, loyaltyv1alpha1.LabelPartner: partner.Name,
				loyaltyv1alpha1.LabelProgram: program, loyaltyv1alpha1.LabelProgramNamespace: programNS},
			Annotations: map[string]string{loyaltyv1alpha1.AnnotationRotation: partner.Annotations[loyaltyv1alpha1.AnnotationRotateCredentials]},
		},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{"apiKey": key, "endpoint": credentialsEndpoint(programNS, program), "program": loyaltyv1alpha1.ObjectKey(programNS, program)},
	}
}

// credentialsEndpoint is the URL a partner's credentials give for a program.
func credentialsEndpoint(programNS, program string) string {
	return fmt.Sprintf("http://%s-accrual.%s.svc:%d", program, programNS, apiPort)
}

// revokeOthers deletes the partner's credentials for programs that no longer
// accept it, or that it no longer references.
func (r *PartnerReconciler) revokeOthers(ctx context.Context, partner *loyaltyv1alpha1.Partner, keep map[string]bool) error {
	secrets := &corev1.SecretList{}
	if err := r.List(ctx, secrets, client.InNamespace(partner.Namespace),
		client.MatchingLabels{loyaltyv1alpha1.LabelManagedBy: loyaltyv1alpha1.ManagedByTreue, loyaltyv1alpha1.LabelPartner: partner.Name}); err != nil {
		return err
	}
	for i := range secrets.Items {
		s := &secrets.Items[i]
		if keep[s.Name] || !metav1.IsControlledBy(s, partner) {
			continue
		}
		if err := r.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("revoking credentials %s/%s: %w", s.Namespace, s.Name, err)
		}
		r.Recorder.Eventf(partner, nil, corev1.EventTypeNormal, "CredentialsRevoked", "RevokeCredentials",
			"Revoked the API key in Secret %s: its program no longer accepts this partner", s.Name)
	}
	return nil
}

// recordTransitions emits an event when a program's answer changes, and none
// when nothing does.
func (r *PartnerReconciler) recordTransitions(before, after *loyaltyv1alpha1.Partner) {
	for _, st := range after.Status.Programs {
		now := meta.FindStatusCondition(st.Conditions, loyaltyv1alpha1.ConditionAccepted)
		prev := previousProgramStatus(before, st.ProgramRef.Namespace, st.ProgramRef.Name)
		was := meta.FindStatusCondition(prev.Conditions, loyaltyv1alpha1.ConditionAccepted)
		if now == nil || (was != nil && was.Status == now.Status && was.Reason == now.Reason) {
			continue
		}
		kind := corev1.EventTypeNormal
		if now.Status != metav1.ConditionTrue {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(after, nil, kind, now.Reason, "Admit", "%s", now.Message)
	}
}

// programsOfPartner maps a Partner to the programs it references now and the
// ones it was accepted by, whose configuration may have to drop it.
func programsOfPartner(_ context.Context, o client.Object) []ctrl.Request {
	p := o.(*loyaltyv1alpha1.Partner)
	keys := partnerProgramKeys(p)
	for _, st := range p.Status.Programs {
		keys = append(keys, loyaltyv1alpha1.ObjectKey(st.ProgramRef.Namespace, st.ProgramRef.Name))
	}
	slices.Sort(keys)
	return requestsFor(slices.Compact(keys))
}

// SetupWithManager watches Partners (their spec, and the rotation annotation),
// their credentials, the programs they reference (through the field index), and
// namespaces, whose labels decide Selector admission.
func (r *PartnerReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	c := mgr.GetClient()
	return ctrl.NewControllerManagedBy(mgr).
		For(&loyaltyv1alpha1.Partner{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&corev1.Secret{}, builderOwnedChanged()).
		// A program's spec decides admission; its status does not.
		Watches(&loyaltyv1alpha1.LoyaltyProgram{}, handlerFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			partners := &loyaltyv1alpha1.PartnerList{}
			if err := c.List(ctx, partners, client.MatchingFields{indexPartnerPrograms: loyaltyv1alpha1.ObjectKey(o.GetNamespace(), o.GetName())}); err != nil {
				return nil
			}
			return partnerRequests(partners)
		}), builderGenerationChangedWatch()).
		Watches(&corev1.Namespace{}, handlerFunc(func(ctx context.Context, o client.Object) []ctrl.Request {
			partners := &loyaltyv1alpha1.PartnerList{}
			if err := c.List(ctx, partners, client.InNamespace(o.GetName())); err != nil {
				return nil
			}
			return partnerRequests(partners)
		}), builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WithOptions(controllerOptions(opts)).
		Complete(requeueOnStale(r))
}

func partnerRequests(list *loyaltyv1alpha1.PartnerList) []ctrl.Request {
	out := make([]ctrl.Request, 0, len(list.Items))
	for _, p := range list.Items {
		out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return out
}

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
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// Field indexes, so that a change of one object finds the objects it affects
// without listing everything.
const (
	// indexPartnerPrograms indexes Partners by the "namespace/name" of each
	// program they reference.
	indexPartnerPrograms = "spec.programRefs"
	// indexReferralProgram indexes ReferralDiscounts by their program's name.
	indexReferralProgram = "spec.programRef.name"
	// indexReferralPartners holds a ReferralDiscount's referrer and referee.
	indexReferralPartners = "spec.partners"
)

// Labels and annotations on the objects the operator writes.
const (
	labelManagedBy        = "app.kubernetes.io/managed-by"
	managedBy             = "treue"
	labelPartner          = "loyalty.treue.dev/partner"
	labelProgramNamespace = "loyalty.treue.dev/program-namespace"
	// RotateCredentialsAnnotation on a Partner asks for new API keys: set it to a
	// new value (such as the date) to rotate.
	RotateCredentialsAnnotation = "loyalty.treue.dev/rotate-credentials"
	// rotationAnnotation on a credentials Secret records the rotation it carries.
	rotationAnnotation = "loyalty.treue.dev/rotation"
)

// Condition reasons of admission.
const (
	ReasonAccepted            = "Accepted"
	ReasonProgramNotFound     = "ProgramNotFound"
	ReasonNotAllowedByProgram = "NotAllowedByProgram"
)

func programKey(namespace, name string) string { return namespace + "/" + name }

// partnerProgramKeys are the programs a Partner references, namespaces resolved.
func partnerProgramKeys(p *loyaltyv1alpha1.Partner) []string {
	keys := make([]string, 0, len(p.Spec.ProgramRefs))
	for _, r := range p.Spec.ProgramRefs {
		ns, name := ref(r, p.Namespace)
		keys = append(keys, programKey(ns, name))
	}
	return keys
}

// admits decides whether a program accepts Partners from a namespace, as a
// Gateway API listener decides on routes; the message says what to change.
func admits(program *loyaltyv1alpha1.LoyaltyProgram, partnerNamespace *corev1.Namespace) (bool, string) {
	allowed := program.Spec.Partners.AllowedNamespaces
	switch allowed.From {
	case loyaltyv1alpha1.NamespacesFromAll:
		return true, ""
	case loyaltyv1alpha1.NamespacesFromSelector:
		sel, err := metav1.LabelSelectorAsSelector(allowed.Selector)
		if err != nil {
			return false, fmt.Sprintf("LoyaltyProgram %s/%s has an invalid namespace selector: %v", program.Namespace, program.Name, err)
		}
		if sel.Matches(labels.Set(partnerNamespace.Labels)) {
			return true, ""
		}
		return false, fmt.Sprintf("LoyaltyProgram %s/%s admits Partners from namespaces matching %s; label namespace %s to match, or ask the program's owners",
			program.Namespace, program.Name, sel, partnerNamespace.Name)
	default:
		if partnerNamespace.Name == program.Namespace {
			return true, ""
		}
		return false, fmt.Sprintf("LoyaltyProgram %s/%s admits Partners from its own namespace only; ask its owners to set spec.partners.allowedNamespaces",
			program.Namespace, program.Name)
	}
}

// credentialsSecretName is the Secret, in the partner's namespace, with its API
// key for one program.
func credentialsSecretName(partner, programNamespace, program string) string {
	name := partner + "-" + programNamespace + "-" + program + "-credentials"
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return partner[:min(len(partner), 200)] + "-" + hex.EncodeToString(sum[:])[:16] + "-credentials"
}

// newAPIKey is a random credential; only its SHA-256 reaches the service.
func newAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "tk_" + base64.RawURLEncoding.EncodeToString(b), nil
}

func keyHash(key []byte) []byte {
	sum := sha256.Sum256(key)
	return []byte(hex.EncodeToString(sum[:]))
}

// accrualEndpoint is the in-cluster URL of a program's accrual service.
func accrualEndpoint(program *loyaltyv1alpha1.LoyaltyProgram) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", accrualName(program), program.Namespace, apiPort)
}

// setupIndexes registers the field indexes the controllers use.
func setupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &loyaltyv1alpha1.Partner{}, indexPartnerPrograms, func(o client.Object) []string {
		return partnerProgramKeys(o.(*loyaltyv1alpha1.Partner))
	}); err != nil {
		return fmt.Errorf("indexing Partners by program: %w", err)
	}
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &loyaltyv1alpha1.ReferralDiscount{}, indexReferralProgram, func(o client.Object) []string {
		return []string{o.(*loyaltyv1alpha1.ReferralDiscount).Spec.ProgramRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing ReferralDiscounts by program: %w", err)
	}
	if err := idx.IndexField(ctx, &loyaltyv1alpha1.ReferralDiscount{}, indexReferralPartners, func(o client.Object) []string {
		rd := o.(*loyaltyv1alpha1.ReferralDiscount)
		referrerNS, referrer := ref(rd.Spec.Referrer, rd.Namespace)
		refereeNS, referee := ref(rd.Spec.Referee, rd.Namespace)
		return []string{partnerID(referrerNS, referrer), partnerID(refereeNS, referee)}
	}); err != nil {
		return fmt.Errorf("indexing ReferralDiscounts by partner: %w", err)
	}
	if err := idx.IndexField(ctx, &loyaltyv1alpha1.PartnerCooperation{}, indexCooperationProgram, func(o client.Object) []string {
		return []string{o.(*loyaltyv1alpha1.PartnerCooperation).Spec.ProgramRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing PartnerCooperations by program: %w", err)
	}
	return idx.IndexField(ctx, &loyaltyv1alpha1.PartnerCooperation{}, indexCooperationPartners, func(o client.Object) []string {
		coop := o.(*loyaltyv1alpha1.PartnerCooperation)
		keys := make([]string, 0, len(coop.Spec.Members))
		for _, m := range coop.Spec.Members {
			keys = append(keys, coop.MemberKey(m))
		}
		return keys
	})
}

// indexedRequests lists the objects whose field index holds value (in namespace
// ns, or everywhere when it is empty) and turns them into reconcile requests.
func indexedRequests(ctx context.Context, c client.Client, list client.ObjectList, ns, field, value string) []ctrl.Request {
	opts := []client.ListOption{client.MatchingFields{field: value}}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing by index", "field", field, "value", value)
		return nil
	}
	var out []ctrl.Request
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(o.(client.Object))})
		return nil
	})
	return out
}

// requestsFor turns keys "namespace/name" into reconcile requests.
func requestsFor(keys []string) []ctrl.Request {
	out := make([]ctrl.Request, 0, len(keys))
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			if k[i] == '/' {
				out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: k[:i], Name: k[i+1:]}})
				break
			}
		}
	}
	return out
}

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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

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

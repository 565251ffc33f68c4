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

package v1alpha1

import "k8s.io/apimachinery/pkg/types"

// ObjectKey is "namespace/name": how treue names an object across namespaces —
// a partner's id in its program's accrual service and on settlement lines, a
// program in index keys and credentials.
func ObjectKey(namespace, name string) string {
	return types.NamespacedName{Namespace: namespace, Name: name}.String()
}

// In resolves the reference as held by an object in holderNamespace: an empty
// namespace is the holder's own.
func (r NamespacedReference) In(holderNamespace string) types.NamespacedName {
	if r.Namespace == "" {
		return types.NamespacedName{Namespace: holderNamespace, Name: r.Name}
	}
	return types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
}

// Key is the ObjectKey of the reference as held by an object in holderNamespace.
// Two references name the same object exactly when their keys are equal.
func (r NamespacedReference) Key(holderNamespace string) string {
	return r.In(holderNamespace).String()
}

// DuplicateMembers lists the partners (namespace/name) that a cooperation in
// holderNamespace lists more than once, however each reference is spelled. The
// API server refuses such a cooperation; an object stored before that rule
// existed may still hold one, and then nothing may settle it (each listing
// would count the partner's entries again).
func (s PartnerCooperationSpec) DuplicateMembers(holderNamespace string) []string {
	seen := map[string]int{}
	var out []string
	for _, m := range s.Members {
		key := m.PartnerRef.Key(holderNamespace)
		seen[key]++
		if seen[key] == 2 {
			out = append(out, key)
		}
	}
	return out
}

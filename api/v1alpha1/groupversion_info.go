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

// Package v1alpha1 contains the v1alpha1 API of the loyalty.treue.dev group:
// loyalty programs, the partners that join them, the cooperations and referral
// discounts between partners, and the settlement records of cooperations.
//
// No field is a float: money is an exact decimal string in the program's currency
// (or integer minor units), rates and multipliers are exact decimal strings, and
// durations are ISO 8601 periods so that months and years keep their calendar
// meaning.
//
// +kubebuilder:object:generate=true
// +groupName=loyalty.treue.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is group version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "loyalty.treue.dev", Version: "v1alpha1"}

	// SchemeBuilder collects the kinds of this group; each registers itself in init.
	SchemeBuilder = &schemeBuilder{}

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// schemeBuilder registers the kinds of this group-version with a scheme. It keeps
// the API package free of controller-runtime, so that clients can import it with
// nothing but apimachinery.
type schemeBuilder struct {
	objects []runtime.Object
}

// Register adds kinds to be added to every scheme later.
func (b *schemeBuilder) Register(objects ...runtime.Object) {
	b.objects = append(b.objects, objects...)
}

// AddToScheme adds every registered kind to s.
func (b *schemeBuilder) AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, b.objects...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PartnerSpec declares a business that joins one or more loyalty programs.
type PartnerSpec struct {
	// displayName is the partner's name as members see it, such as "Bäckerei Korn".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	DisplayName string `json:"displayName"`

	// legalName is the registered name used on settlement statements.
	// +optional
	// +kubebuilder:validation:MaxLength=200
	LegalName string `json:"legalName,omitempty"`

	// contact for operational and settlement questions.
	// +optional
	Contact *PartnerContact `json:"contact,omitempty"`

	// programRefs are the programs this partner joins. Each program decides on its
	// own whether it accepts the partner; the answer is in status.programs.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.exists_one(b, a.name == b.name && (!has(a.__namespace__) || !has(b.__namespace__) || a.__namespace__ == b.__namespace__)))",message="spec.programRefs must not name the same program twice (a program without a namespace is in the partner's; when two programs share a name, write the namespace of each)"
	ProgramRefs []NamespacedReference `json:"programRefs"`

	// defaultCategory is the product category of line items that name none.
	// +optional
	DefaultCategory Category `json:"defaultCategory,omitempty"`

	// settlementAccountRef names a Secret in the partner's namespace with the bank
	// account settlements pay to or collect from. Bank data never stands in the
	// Partner itself.
	// +optional
	SettlementAccountRef *LocalObjectReference `json:"settlementAccountRef,omitempty"`

	// consents are the agreements this partner accepts to owe money under, each
	// granted from the partner's own namespace (as Gateway API's ReferenceGrant
	// grants the use of what a namespace owns): a PartnerCooperation it is a
	// member of (it pays for the points it issues) and a ReferralDiscount whose
	// referee it is (it pays the commission). Until the partner consents, the
	// agreement does not run for it: the cooperation leaves its entries
	// unsettled, and the referral issues no codes. Removing a consent stops new
	// codes and accruals from then on; what is owed already is settled.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.exists_one(b, a.kind == b.kind && a.name == b.name && (!has(a.__namespace__) || !has(b.__namespace__) || a.__namespace__ == b.__namespace__)))",message="spec.consents must not name the same agreement twice (when two agreements share a name, write the namespace of each)"
	Consents []Consent `json:"consents,omitempty"`

	// events declares where this partner's events go: its shop, CRM or e-mail
	// tool hears, as a signed CloudEvent, of what concerns it in every program
	// that accepted it.
	// +optional
	Events *PartnerEvents `json:"events,omitempty"`
}

// AgreementKind names a kind of agreement a partner consents to.
// +kubebuilder:validation:Enum=PartnerCooperation;ReferralDiscount
type AgreementKind string

// The agreements a partner can owe money under.
const (
	// AgreementCooperation is a PartnerCooperation.
	AgreementCooperation AgreementKind = "PartnerCooperation"
	// AgreementReferral is a ReferralDiscount.
	AgreementReferral AgreementKind = "ReferralDiscount"
)

// Consent is a partner's acceptance of one agreement.
type Consent struct {
	// kind of the agreement.
	// +required
	Kind AgreementKind `json:"kind"`

	// name of the agreement.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the agreement (the program's); empty means the partner's own.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a namespace name: lower-case letters, digits and '-'"
	Namespace string `json:"namespace,omitempty"`
}

// ConsentsTo says whether the partner consents to the agreement of kind in
// namespace with name.
func (p *Partner) ConsentsTo(kind AgreementKind, namespace, name string) bool {
	for _, c := range p.Spec.Consents {
		ns := c.Namespace
		if ns == "" {
			ns = p.Namespace
		}
		if c.Kind == kind && ns == namespace && c.Name == name {
			return true
		}
	}
	return false
}

// PartnerContact is who to call about a partner.
type PartnerContact struct {
	// name of the contact person.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	Name string `json:"name,omitempty"`

	// email of the contact.
	// +optional
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$')",message="must be an email address such as \"abrechnung@example.de\""
	Email string `json:"email,omitempty"`

	// phone number of the contact, in international format.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[+][0-9 ]{6,31}$')",message="must be a phone number in international format such as \"+49 30 1234567\""
	Phone string `json:"phone,omitempty"`
}

// PartnerProgramStatus is one program's answer to a partner.
type PartnerProgramStatus struct {
	// programRef names the program, with its namespace filled in.
	// +required
	ProgramRef NamespacedReference `json:"programRef"`

	// conditions are Accepted.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// credentialsSecretRef names the Secret in the partner's namespace that holds
	// the partner's API key for this program and the program's endpoint.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`

	// events is where each of the partner's sinks stands in this program, as the
	// program's service last reported (at most once a minute).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Events []EventSinkStatus `json:"events,omitempty"`
}

// PartnerStatus is the observed state of a Partner.
type PartnerStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// programs is each referenced program's answer.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Programs []PartnerProgramStatus `json:"programs,omitempty"`

	// acceptedPrograms is the number of programs that accepted this partner.
	// +optional
	AcceptedPrograms int32 `json:"acceptedPrograms,omitempty"`

	// lastHandledEventsReplay is the value of the annotation
	// events.treue.dev/replay-requested-at that the operator last acted on:
	// setting the annotation to a new value (say, the time) sends every parked
	// dead event of this object's sinks again.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	LastHandledEventsReplay string `json:"lastHandledEventsReplay,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=treue
// +kubebuilder:printcolumn:name="Display name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Accepted",type=integer,JSONPath=`.status.acceptedPrograms`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Partner is a business in a loyalty network: it issues points to its customers
// and accepts points as payment.
//
// Its name is at most 63 characters: its credentials Secrets carry it as a label.
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters: the partner's credentials carry it as a label"
type Partner struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec declares the partner.
	// +required
	Spec PartnerSpec `json:"spec"`

	// status is the observed state of the partner.
	// +optional
	Status PartnerStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// PartnerList contains a list of Partner.
type PartnerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Partner `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Partner{}, &PartnerList{})
}

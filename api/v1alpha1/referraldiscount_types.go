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

// ReferralDiscountSpec is a referral agreement: the referrer's customers get codes
// that give a discount at the referee, and the referee owes the referrer a
// commission once the holding period has passed.
//
// +kubebuilder:validation:XValidation:rule="self.referrer.name != self.referee.name || (has(self.referrer.__namespace__) && has(self.referee.__namespace__) && self.referrer.__namespace__ != self.referee.__namespace__)",message="spec.referrer and spec.referee must be different partners: a partner cannot refer its own customers to itself (when two partners share a name, write the namespace of both)",fieldPath=.referee
type ReferralDiscountSpec struct {
	// programRef names the program, in this namespace, whose members use the codes.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="programRef is immutable: create a new referral discount for another program"
	ProgramRef LocalObjectReference `json:"programRef"`

	// referrer is the partner that recommends, and earns the commission.
	// +required
	Referrer NamespacedReference `json:"referrer"`

	// referee is the partner recommended, that gives the discount and owes the
	// commission.
	// +required
	Referee NamespacedReference `json:"referee"`

	// discount the referred customer gets at the referee.
	// +required
	Discount ReferralDiscountValue `json:"discount"`

	// commission the referee owes the referrer per referred purchase.
	// +required
	Commission ReferralCommission `json:"commission"`

	// holdingPeriod after a referred purchase before its commission is confirmed;
	// a return inside it cancels the commission, a return after it claws it back.
	// +optional
	// +kubebuilder:default="P14D"
	HoldingPeriod Duration `json:"holdingPeriod,omitempty"`

	// guards limit when a code may be used. A customer can never use a code that
	// was issued to themselves.
	// +optional
	// +kubebuilder:default={eligiblePurchases: FirstPurchase}
	Guards ReferralGuards `json:"guards,omitzero"`

	// codePrefix starts every code issued for this agreement, such as "GRAFIK".
	// +optional
	// +kubebuilder:validation:MaxLength=12
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Z0-9]{2,12}$')",message="must be 2 to 12 capital letters or digits, such as \"GRAFIK\""
	CodePrefix string `json:"codePrefix,omitempty"`
}

// DiscountType says how a referral discount is computed.
// +kubebuilder:validation:Enum=Percent;Fixed
type DiscountType string

const (
	// DiscountPercent takes a percentage off the purchase, up to an optional cap.
	DiscountPercent DiscountType = "Percent"
	// DiscountFixed takes a fixed amount off the purchase.
	DiscountFixed DiscountType = "Fixed"
)

// ReferralDiscountValue is the referred customer's discount.
// +kubebuilder:validation:XValidation:rule="self.type != 'Percent' || (has(self.percent) && !has(self.amount))",message="a Percent discount needs spec.discount.percent (and optionally cap), not amount"
// +kubebuilder:validation:XValidation:rule="self.type != 'Fixed' || (has(self.amount) && !has(self.percent) && !has(self.cap))",message="a Fixed discount needs spec.discount.amount, not percent or cap"
type ReferralDiscountValue struct {
	// type of discount.
	// +required
	Type DiscountType `json:"type"`

	// percent off the purchase, such as "5".
	// +optional
	Percent Percent `json:"percent,omitempty"`

	// cap is the largest discount one purchase gets with a Percent discount.
	// +optional
	Cap MoneyAmount `json:"cap,omitempty"`

	// amount off the purchase with a Fixed discount.
	// +optional
	Amount MoneyAmount `json:"amount,omitempty"`
}

// CommissionType says how a referral commission is computed.
// +kubebuilder:validation:Enum=Percent;Flat
type CommissionType string

const (
	// CommissionPercent is a percentage of the purchase after discount.
	CommissionPercent CommissionType = "Percent"
	// CommissionFlat is a fixed amount per referred purchase.
	CommissionFlat CommissionType = "Flat"
)

// ReferralCommission is what the referee owes the referrer.
// +kubebuilder:validation:XValidation:rule="(self.type == 'Percent') == has(self.percent) && (self.type == 'Flat') == has(self.amount)",message="a Percent commission needs spec.commission.percent, a Flat commission needs spec.commission.amount, and not the other"
type ReferralCommission struct {
	// type of commission.
	// +required
	Type CommissionType `json:"type"`

	// percent of the purchase after discount, such as "3".
	// +optional
	Percent Percent `json:"percent,omitempty"`

	// amount per referred purchase with a Flat commission.
	// +optional
	Amount MoneyAmount `json:"amount,omitempty"`
}

// EligiblePurchases says which of a referred customer's purchases a code covers.
// +kubebuilder:validation:Enum=FirstPurchase;AnyPurchase
type EligiblePurchases string

const (
	// EligibleFirstPurchase covers only the customer's first purchase at the
	// referee.
	EligibleFirstPurchase EligiblePurchases = "FirstPurchase"
	// EligibleAnyPurchase covers every purchase, up to maxUses.
	EligibleAnyPurchase EligiblePurchases = "AnyPurchase"
)

// ReferralGuards limit when a referral code may be used.
// +kubebuilder:validation:XValidation:rule="!has(self.validFrom) || !has(self.validUntil) || self.validFrom < self.validUntil",message="spec.guards.validFrom must be before spec.guards.validUntil",fieldPath=.validUntil
type ReferralGuards struct {
	// eligiblePurchases says which purchases a code covers.
	// +optional
	// +kubebuilder:default=FirstPurchase
	EligiblePurchases EligiblePurchases `json:"eligiblePurchases,omitempty"`

	// minimumSpend is the smallest purchase a code applies to.
	// +optional
	MinimumSpend MoneyAmount `json:"minimumSpend,omitempty"`

	// validFrom is when codes start to work.
	// +optional
	ValidFrom *metav1.Time `json:"validFrom,omitempty"`

	// validUntil is when codes stop working.
	// +optional
	ValidUntil *metav1.Time `json:"validUntil,omitempty"`

	// maxUses is how often one code may be used; empty means no limit beyond
	// eligiblePurchases.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	MaxUses *int32 `json:"maxUses,omitempty"`
}

// ReferralDiscountStatus is the observed state of a ReferralDiscount.
type ReferralDiscountStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, PartnersAccepted, Settled.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// codePrefix in use for this agreement's codes.
	// +optional
	// +kubebuilder:validation:MaxLength=12
	CodePrefix string `json:"codePrefix,omitempty"`

	// codesIssued so far.
	// +optional
	CodesIssued int64 `json:"codesIssued,omitempty"`

	// discountsGiven so far.
	// +optional
	DiscountsGiven int64 `json:"discountsGiven,omitempty"`

	// commissionsPending inside their holding period.
	// +optional
	CommissionsPending int64 `json:"commissionsPending,omitempty"`

	// commissionsConfirmed after their holding period.
	// +optional
	CommissionsConfirmed int64 `json:"commissionsConfirmed,omitempty"`

	// statsUpdatedAt is when the counts, as read from the program's service, last changed.
	// +optional
	StatsUpdatedAt *metav1.Time `json:"statsUpdatedAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=referral,categories=treue
// +kubebuilder:printcolumn:name="Program",type=string,JSONPath=`.spec.programRef.name`
// +kubebuilder:printcolumn:name="Referrer",type=string,JSONPath=`.spec.referrer.name`
// +kubebuilder:printcolumn:name="Referee",type=string,JSONPath=`.spec.referee.name`
// +kubebuilder:printcolumn:name="Discount",type=string,JSONPath=`.spec.discount.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ReferralDiscount is a referral agreement between two partners of a program.
type ReferralDiscount struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec declares the agreement.
	// +required
	Spec ReferralDiscountSpec `json:"spec"`

	// status is the observed state of the agreement.
	// +optional
	Status ReferralDiscountStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// ReferralDiscountList contains a list of ReferralDiscount.
type ReferralDiscountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ReferralDiscount `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReferralDiscount{}, &ReferralDiscountList{})
}

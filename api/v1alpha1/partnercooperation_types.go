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

// PartnerCooperationSpec is a settlement contract between partners of one program.
type PartnerCooperationSpec struct {
	// programRef names the program, in this namespace, whose points the members
	// issue and redeem. It cannot change: settled periods refer to it.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="programRef is immutable: create a new cooperation for another program"
	ProgramRef LocalObjectReference `json:"programRef"`

	// members are the partners in the cooperation, each with its prices per point.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=2
	// +kubebuilder:validation:MaxItems=200
	// +kubebuilder:validation:XValidation:rule="self.all(a, self.exists_one(b, a.partnerRef.name == b.partnerRef.name && (!has(a.partnerRef.__namespace__) || !has(b.partnerRef.__namespace__) || a.partnerRef.__namespace__ == b.partnerRef.__namespace__)))",message="spec.members must not list the same partner twice (a partner without a namespace is in the cooperation's; when two members share a name, write the namespace of each)"
	Members []CooperationMember `json:"members"`

	// referralRefs name the ReferralDiscounts, in this namespace, whose commissions
	// this cooperation settles.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	ReferralRefs []LocalObjectReference `json:"referralRefs,omitempty"`

	// schedule says when periods close and the settlement job runs.
	// +required
	Schedule SettlementSchedule `json:"schedule"`

	// netting says how the partners' positions become transfers.
	// +optional
	// +kubebuilder:default=Multilateral
	Netting NettingMode `json:"netting,omitempty"`

	// rounding rounds each period total to minor units, once; the residual is
	// recorded as its own line.
	// +optional
	// +kubebuilder:default=HalfEven
	Rounding RoundingMode `json:"rounding,omitempty"`

	// minimumTransfer is the smallest amount paid out; smaller net amounts are
	// carried to the next period.
	// +optional
	// +kubebuilder:default="0"
	MinimumTransfer MoneyAmount `json:"minimumTransfer,omitempty"`

	// suspend stops new settlement runs; periods are settled when it is lifted.
	// +optional
	// +kubebuilder:default=false
	Suspend *bool `json:"suspend,omitempty"`
}

// CooperationMember is one partner and its prices per point.
type CooperationMember struct {
	// partnerRef names the Partner; its namespace defaults to this one.
	// +required
	PartnerRef NamespacedReference `json:"partnerRef"`

	// issuancePrice is what the partner owes the network per point it issues.
	// +required
	IssuancePrice PointPrice `json:"issuancePrice"`

	// redemptionPrice is what the network owes the partner per point it accepts.
	// +required
	RedemptionPrice PointPrice `json:"redemptionPrice"`
}

// SettlementPeriodLength is how long one settlement period is.
// +kubebuilder:validation:Enum=Weekly;Monthly
type SettlementPeriodLength string

const (
	// PeriodWeekly settles ISO weeks, Monday to Sunday, as the IATA clearing house
	// settles its periods.
	PeriodWeekly SettlementPeriodLength = "Weekly"
	// PeriodMonthly settles calendar months.
	PeriodMonthly SettlementPeriodLength = "Monthly"
)

// SettlementSchedule says when periods close and are settled.
type SettlementSchedule struct {
	// cron is when the settlement job runs, in the five-field cron format or a
	// macro such as "@weekly". Each run settles the last closed period.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self.matches('^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9*,/-]+ [0-9*,/-]+ [0-9*,/?LW-]+ [0-9A-Za-z*,/-]+ [0-9A-Za-z*,/?L#-]+)$')",message="must be a cron schedule of five fields, such as \"0 3 * * 1\" (Mondays 03:00), or a macro such as \"@weekly\"; put the time zone in spec.schedule.timeZone, not here"
	Cron string `json:"cron"`

	// timeZone of the cron schedule and of the period boundaries.
	// +optional
	// +kubebuilder:default=UTC
	TimeZone TimeZone `json:"timeZone,omitempty"`

	// period is the length of one settlement period.
	// +optional
	// +kubebuilder:default=Weekly
	Period SettlementPeriodLength `json:"period,omitempty"`
}

// NettingMode says how partners' positions become transfers.
// +kubebuilder:validation:Enum=Bilateral;Multilateral
type NettingMode string

const (
	// NettingBilateral nets each pair of partners.
	NettingBilateral NettingMode = "Bilateral"
	// NettingMultilateral nets every partner against the network as central
	// counterparty: one payable or receivable per partner.
	NettingMultilateral NettingMode = "Multilateral"
)

// SettlementSummary points at a settlement run.
type SettlementSummary struct {
	// name of the Settlement.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// period the settlement covers, such as "2026-W47".
	// +required
	// +kubebuilder:validation:MaxLength=32
	Period string `json:"period"`

	// completedAt is when the settlement completed.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// outcome of the run: Completed or Failed.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	Outcome string `json:"outcome,omitempty"`
}

// PartnerCooperationStatus is the observed state of a PartnerCooperation.
type PartnerCooperationStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, PartnersAccepted, Conflict.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastSettlement is the most recent settlement run.
	// +optional
	LastSettlement *SettlementSummary `json:"lastSettlement,omitempty"`

	// nextScheduleTime is when the next settlement run is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=coop,categories=treue
// +kubebuilder:printcolumn:name="Program",type=string,JSONPath=`.spec.programRef.name`
// +kubebuilder:printcolumn:name="Netting",type=string,JSONPath=`.spec.netting`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.schedule.cron`
// +kubebuilder:printcolumn:name="Suspend",type=boolean,JSONPath=`.spec.suspend`
// +kubebuilder:printcolumn:name="Last settlement",type=string,JSONPath=`.status.lastSettlement.period`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// PartnerCooperation is a settlement contract between partners of one program:
// their prices per point, the referral agreements it covers, and how and when it
// is settled.
//
// Its name is at most 63 characters: its CronJob, job identity and Settlements
// carry it as a label (the CronJob's own name is shortened with a hash to fit).
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="metadata.name must be at most 63 characters: the cooperation's CronJob and Settlements carry it as a label"
type PartnerCooperation struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec declares the cooperation.
	// +required
	Spec PartnerCooperationSpec `json:"spec"`

	// status is the observed state of the cooperation.
	// +optional
	Status PartnerCooperationStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// PartnerCooperationList contains a list of PartnerCooperation.
type PartnerCooperationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []PartnerCooperation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PartnerCooperation{}, &PartnerCooperationList{})
}

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

// SignedAmount is an exact amount of money in the major unit of the currency that
// may be negative, such as "-12.50". A rounding residual may carry more decimal
// places than the currency has minor units.
// +kubebuilder:validation:MaxLength=28
// +kubebuilder:validation:XValidation:rule="self.matches('^-?(0|[1-9][0-9]{0,15})([.][0-9]{1,9})?$')",message="must be an exact decimal amount such as \"-12.50\""
type SignedAmount string

// SettlementPeriod is the closed interval a settlement covers.
// +kubebuilder:validation:XValidation:rule="self.start < self.end",message="spec.period.start must be before spec.period.end",fieldPath=.end
// +kubebuilder:validation:XValidation:rule="!self.id.matches('^[0-9]{4}-(0[1-9]|1[0-2])$') || self.end <= self.start || (((self.start + duration('14h')).getDate() == 1 || ((self.start + duration('14h')).getDate() == 2 && (self.start + duration('14h')).getHours() <= 2)) && (self.start + duration('14h')).getFullYear() == int(self.id.substring(0, 4)) && (self.start + duration('14h')).getMonth() + 1 == int(self.id.substring(5, 7)) && self.end - self.start >= duration('671h') && self.end - self.start <= duration('745h'))",message="spec.period.id names a month that does not match spec.period.start and end: a month such as \"2026-11\" starts on its first day at midnight in the cooperation's time zone and ends on the next month's first day",fieldPath=.id
// +kubebuilder:validation:XValidation:rule="!self.id.matches('^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$') || self.end <= self.start || (((self.start + duration('86h')).getDayOfWeek() == 4 || ((self.start + duration('86h')).getDayOfWeek() == 5 && (self.start + duration('86h')).getHours() <= 2)) && ((self.start + duration('86h')).getDayOfWeek() == 4 ? (self.start + duration('86h')) : (self.start + duration('86h')) - duration('24h')).getFullYear() == int(self.id.substring(0, 4)) && ((self.start + duration('86h')).getDayOfWeek() == 4 ? (self.start + duration('86h')) : (self.start + duration('86h')) - duration('24h')).getDayOfYear() / 7 + 1 == int(self.id.substring(6, 8)) && self.end - self.start >= duration('167h') && self.end - self.start <= duration('169h'))",message="spec.period.id names an ISO week that does not match spec.period.start and end: an ISO week such as \"2026-W47\" starts on its Monday at midnight in the cooperation's time zone and lasts seven days",fieldPath=.id
type SettlementPeriod struct {
	// id names the period: "2026-W47" for an ISO week, "2026-11" for a month.
	// +required
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{4}-(W(0[1-9]|[1-4][0-9]|5[0-3])|0[1-9]|1[0-2])$')",message="must be an ISO week such as \"2026-W47\" or a month such as \"2026-11\""
	ID string `json:"id"`

	// start of the period, inclusive.
	// +required
	Start metav1.Time `json:"start"`

	// end of the period, exclusive.
	// +required
	End metav1.Time `json:"end"`
}

// SettlementSpec names what was settled. It is written once by the settlement job
// and never changes.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a Settlement's spec is immutable: it records a settled period"
type SettlementSpec struct {
	// cooperationRef names the PartnerCooperation, in this namespace, that was
	// settled.
	// +required
	CooperationRef LocalObjectReference `json:"cooperationRef"`

	// period that was settled.
	// +required
	Period SettlementPeriod `json:"period"`
}

// PartnerStatement is one partner's position in a settled period. Positive amounts
// are owed to the partner; the partner owes negative ones.
type PartnerStatement struct {
	// partner the statement is for.
	// +required
	Partner NamespacedReference `json:"partner"`

	// pointsIssued to the partner's customers in the period, after returns.
	// +optional
	PointsIssued int64 `json:"pointsIssued,omitempty"`

	// pointsRedeemed at the partner in the period.
	// +optional
	PointsRedeemed int64 `json:"pointsRedeemed,omitempty"`

	// pointsReturned by returns of earlier purchases (clawbacks).
	// +optional
	PointsReturned int64 `json:"pointsReturned,omitempty"`

	// issuanceAmount the partner owes for points issued.
	// +optional
	IssuanceAmount SignedAmount `json:"issuanceAmount,omitempty"`

	// redemptionAmount owed to the partner for points redeemed.
	// +optional
	RedemptionAmount SignedAmount `json:"redemptionAmount,omitempty"`

	// commissionsEarned by the partner as referrer.
	// +optional
	CommissionsEarned SignedAmount `json:"commissionsEarned,omitempty"`

	// commissionsOwed by the partner as referee.
	// +optional
	CommissionsOwed SignedAmount `json:"commissionsOwed,omitempty"`

	// carriedIn from earlier periods below the minimum transfer.
	// +optional
	CarriedIn SignedAmount `json:"carriedIn,omitempty"`

	// carriedOut to the next period because it is below the minimum transfer.
	// +optional
	CarriedOut SignedAmount `json:"carriedOut,omitempty"`

	// net position of the partner: what it receives (positive) or pays (negative).
	// +required
	Net SignedAmount `json:"net"`

	// tierDiscounts the partner granted its customers for their tier in the
	// period: informational, neither part of net nor a transfer.
	// +optional
	TierDiscounts SignedAmount `json:"tierDiscounts,omitempty"`

	// membershipFees the partner collected at its till for the network, less
	// refunds: it owes them (they are part of net).
	// +optional
	MembershipFees SignedAmount `json:"membershipFees,omitempty"`
}

// Transfer is one payment that settles the period. The network clearing account is
// named "network".
// +kubebuilder:validation:XValidation:rule="self.from != self.to",message="a transfer's from and to are different accounts"
type Transfer struct {
	// from is the paying partner ("namespace/name") or "network".
	// +required
	// +kubebuilder:validation:MaxLength=320
	From string `json:"from"`

	// to is the receiving partner ("namespace/name") or "network".
	// +required
	// +kubebuilder:validation:MaxLength=320
	To string `json:"to"`

	// amount paid; always positive.
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('-') && self.matches('[1-9]')",message="a transfer's amount is more than zero: from pays to"
	Amount SignedAmount `json:"amount"`
}

// SettlementTotals sum a settled period.
type SettlementTotals struct {
	// pointsIssued by every partner.
	// +optional
	PointsIssued int64 `json:"pointsIssued,omitempty"`

	// pointsRedeemed at every partner.
	// +optional
	PointsRedeemed int64 `json:"pointsRedeemed,omitempty"`

	// issuanceAmount owed by all partners.
	// +optional
	IssuanceAmount SignedAmount `json:"issuanceAmount,omitempty"`

	// redemptionAmount owed to all partners.
	// +optional
	RedemptionAmount SignedAmount `json:"redemptionAmount,omitempty"`

	// commissions between partners.
	// +optional
	Commissions SignedAmount `json:"commissions,omitempty"`

	// networkMargin is what the network keeps: issuance less redemption.
	// +optional
	NetworkMargin SignedAmount `json:"networkMargin,omitempty"`

	// netVolume is the sum of all transfers.
	// +optional
	NetVolume SignedAmount `json:"netVolume,omitempty"`

	// tierDiscounts every partner granted for their customers' tiers:
	// informational.
	// +optional
	TierDiscounts SignedAmount `json:"tierDiscounts,omitempty"`

	// membershipFees every partner collected for the network.
	// +optional
	MembershipFees SignedAmount `json:"membershipFees,omitempty"`
}

// SettlementStatus is the result of a settlement run, written only by the job.
// +kubebuilder:validation:XValidation:rule="!has(self.statements) || self.statements.all(a, self.statements.exists_one(b, b.partner.name == a.partner.name && has(b.partner.__namespace__) == has(a.partner.__namespace__) && (!has(a.partner.__namespace__) || b.partner.__namespace__ == a.partner.__namespace__)))",message="status.statements holds one statement per partner",fieldPath=.statements
// +kubebuilder:validation:XValidation:rule="!has(self.totals) || (has(self.totals.pointsIssued) ? self.totals.pointsIssued : 0) == (has(self.statements) ? self.statements.map(s, has(s.pointsIssued) ? s.pointsIssued : 0).sum() : 0)",message="status.totals.pointsIssued is the sum of the statements' pointsIssued",fieldPath=.totals.pointsIssued
// +kubebuilder:validation:XValidation:rule="!has(self.totals) || (has(self.totals.pointsRedeemed) ? self.totals.pointsRedeemed : 0) == (has(self.statements) ? self.statements.map(s, has(s.pointsRedeemed) ? s.pointsRedeemed : 0).sum() : 0)",message="status.totals.pointsRedeemed is the sum of the statements' pointsRedeemed",fieldPath=.totals.pointsRedeemed
type SettlementStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Completed, Failed.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// currency of every amount.
	// +optional
	Currency CurrencyCode `json:"currency,omitempty"`

	// statements per partner.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	Statements []PartnerStatement `json:"statements,omitempty"`

	// transfers that settle the period.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20000
	Transfers []Transfer `json:"transfers,omitempty"`

	// totals of the period.
	// +optional
	Totals *SettlementTotals `json:"totals,omitempty"`

	// roundingResidual is the exact total less the rounded total, kept as its own
	// line so that nothing is lost to rounding.
	// +optional
	RoundingResidual SignedAmount `json:"roundingResidual,omitempty"`

	// entriesSettled is the number of ledger entries marked settled by this run.
	// +optional
	EntriesSettled int64 `json:"entriesSettled,omitempty"`

	// checksum is the SHA-256 of the canonical statements and transfers; a re-run
	// must reproduce it.
	// +optional
	// +kubebuilder:validation:MaxLength=71
	Checksum string `json:"checksum,omitempty"`

	// completedAt is when the run completed.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// terms the period was settled with, from the cooperation at the time: a
	// re-run under changed terms says what changed rather than only that the
	// checksum differs.
	// +optional
	Terms *SettlementTerms `json:"terms,omitempty"`
}

// SettlementTerms are the cooperation's terms a settlement was computed with.
type SettlementTerms struct {
	// netting mode.
	// +required
	Netting NettingMode `json:"netting"`

	// rounding mode.
	// +required
	Rounding RoundingMode `json:"rounding"`

	// minimumTransfer below which a position is carried.
	// +optional
	MinimumTransfer MoneyAmount `json:"minimumTransfer,omitempty"`

	// prices per partner settled.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	Prices []SettledPrices `json:"prices,omitempty"`
}

// SettledPrices are one partner's prices per point in a settlement.
type SettledPrices struct {
	// partner the prices are for.
	// +required
	Partner NamespacedReference `json:"partner"`

	// issuancePrice the partner paid per point it issued.
	// +required
	IssuancePrice PointPrice `json:"issuancePrice"`

	// redemptionPrice the partner was paid per point it accepted.
	// +required
	RedemptionPrice PointPrice `json:"redemptionPrice"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=treue
// +kubebuilder:printcolumn:name="Cooperation",type=string,JSONPath=`.spec.cooperationRef.name`
// +kubebuilder:printcolumn:name="Period",type=string,JSONPath=`.spec.period.id`
// +kubebuilder:printcolumn:name="Partners",type=integer,JSONPath=`.status.statements.length()`,priority=1
// +kubebuilder:printcolumn:name="Net volume",type=string,JSONPath=`.status.totals.netVolume`
// +kubebuilder:printcolumn:name="Currency",type=string,JSONPath=`.status.currency`
// +kubebuilder:printcolumn:name="Completed",type=string,JSONPath=`.status.conditions[?(@.type=="Completed")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Settlement is the immutable record of one settled period of a cooperation.
type Settlement struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec names the cooperation and period.
	// +required
	Spec SettlementSpec `json:"spec"`

	// status is the result of the run.
	// +optional
	Status SettlementStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// SettlementList contains a list of Settlement.
type SettlementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []Settlement `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Settlement{}, &SettlementList{})
}

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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LoyaltyProgramSpec declares a points currency and its rules. The operator renders
// it into the configuration of the program's accrual service.
//
// +kubebuilder:validation:XValidation:rule="self.ledger.type != 'Embedded' || self.service.replicas == 1",message="an Embedded ledger runs exactly one replica: set spec.service.replicas to 1, or use a PostgreSQL ledger for more",fieldPath=.service.replicas
// +kubebuilder:validation:XValidation:rule="self.membership.type != 'Paid' || !has(self.membership.pinnedTier) || (has(self.tiers) && self.tiers.levels.exists(l, l.name == self.membership.pinnedTier))",message="spec.membership.pinnedTier must name one of spec.tiers.levels",fieldPath=.membership.pinnedTier
type LoyaltyProgramSpec struct {
	// displayName is the program's name as members see it, such as "StadtBonus".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	DisplayName string `json:"displayName"`

	// pointsUnit is what the program calls its points, such as "StadtPunkte".
	// +optional
	// +kubebuilder:default=points
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	PointsUnit string `json:"pointsUnit,omitempty"`

	// currency is the ISO 4217 code of every money amount in this program, its
	// cooperations and its settlements. It cannot change once set: the ledger's
	// history is kept in it.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="currency is immutable: create a new program for another currency"
	Currency CurrencyCode `json:"currency"`

	// timeZone is the IANA time zone in which calendar rules are evaluated:
	// birthdays, calendar-year tier windows and end-of-year expiry.
	// +optional
	// +kubebuilder:default=UTC
	TimeZone TimeZone `json:"timeZone,omitempty"`

	// earning says how many points a purchase earns.
	// +required
	Earning EarningRules `json:"earning"`

	// pendingPeriod is how long earned points stay pending (not spendable) before
	// they become available: the return window. "P0D" makes them available at once.
	// +optional
	// +kubebuilder:default="P14D"
	PendingPeriod Duration `json:"pendingPeriod,omitempty"`

	// tiers are the program's status levels, such as Bronze, Silber and Gold.
	// Without tiers every member earns at the base rate.
	// +optional
	Tiers *TierRules `json:"tiers,omitempty"`

	// expiry says when points expire. Every credit is its own lot with its own
	// expiry date.
	// +optional
	// +kubebuilder:default={policy: Never}
	Expiry ExpiryRules `json:"expiry,omitzero"`

	// redemption says what a point is worth when spent.
	// +required
	Redemption RedemptionRules `json:"redemption"`

	// returns says how a returned purchase claws back its points.
	// +optional
	// +kubebuilder:default={}
	Returns ReturnRules `json:"returns,omitzero"`

	// membership says whether joining is free or a paid club that pins a tier.
	// +optional
	// +kubebuilder:default={type: Free}
	Membership Membership `json:"membership,omitzero"`

	// partners says which namespaces may attach Partners to this program.
	// +optional
	// +kubebuilder:default={}
	Partners PartnerAdmission `json:"partners,omitzero"`

	// ledger says where the program's points ledger is stored.
	// +optional
	// +kubebuilder:default={type: Embedded}
	Ledger LedgerSpec `json:"ledger,omitzero"`

	// service shapes the program's accrual service workload.
	// +optional
	// +kubebuilder:default={}
	Service ServiceSpec `json:"service,omitzero"`

	// events declares the platform team's event sinks, which receive every event
	// of the program as a signed CloudEvent; partners declare their own on their
	// Partner.
	// +optional
	Events *ProgramEvents `json:"events,omitempty"`
}

// EarningRules turn a purchase into points.
type EarningRules struct {
	// baseRate is how many points a spend earns before multipliers.
	// +required
	BaseRate EarnRate `json:"baseRate"`

	// rounding rounds the exact points of a purchase to whole points.
	// +optional
	// +kubebuilder:default=Floor
	Rounding RoundingMode `json:"rounding,omitempty"`

	// categoryMultipliers scale the points of line items in a product category.
	// +optional
	// +listType=map
	// +listMapKey=category
	// +kubebuilder:validation:MaxItems=64
	CategoryMultipliers []CategoryMultiplier `json:"categoryMultipliers,omitempty"`

	// signupBonus is credited once when a member enrolls.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000
	SignupBonus int64 `json:"signupBonus,omitempty"`

	// birthdayBonus is credited once per calendar year on the member's birthday,
	// in the program's time zone.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000
	BirthdayBonus int64 `json:"birthdayBonus,omitempty"`

	// minimumSpend is the smallest purchase that earns points at all.
	// +optional
	MinimumSpend MoneyAmount `json:"minimumSpend,omitempty"`

	// maxPointsPerTransaction caps the points of one purchase.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000000
	MaxPointsPerTransaction *int64 `json:"maxPointsPerTransaction,omitempty"`

	// maxPointsPerMemberPerDay caps the points one member earns in one day of the
	// program's time zone.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000000
	MaxPointsPerMemberPerDay *int64 `json:"maxPointsPerMemberPerDay,omitempty"`
}

// EarnRate is "points per spend": 1 point per 2.00 EUR is {points: 1, per: "2.00"}.
type EarnRate struct {
	// points earned for every full `per` amount spent.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	Points int64 `json:"points"`

	// per is the spend that earns `points`, in the program's currency.
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches('^0([.]0*)?$')",message="per must be more than zero, such as \"2.00\""
	Per MoneyAmount `json:"per"`
}

// CategoryMultiplier scales the points of one product category.
type CategoryMultiplier struct {
	// category of the line items this applies to.
	// +required
	Category Category `json:"category"`

	// multiplier applied to the line items' base points; "0" excludes the category.
	// +required
	Multiplier Multiplier `json:"multiplier"`
}

// TierRules define status levels qualified for by activity, never by balance.
// +kubebuilder:validation:XValidation:rule="self.qualification.window.type != 'Rolling' || has(self.qualification.window.period)",message="a Rolling qualification window needs spec.tiers.qualification.window.period, such as \"P12M\"",fieldPath=.qualification.window.period
// +kubebuilder:validation:XValidation:rule="self.qualification.window.type != 'CalendarYear' || !has(self.qualification.window.period)",message="a CalendarYear qualification window has no period: remove spec.tiers.qualification.window.period",fieldPath=.qualification.window.period
type TierRules struct {
	// levels from lowest to highest, with strictly increasing thresholds.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:XValidation:rule="self.map(l, l.threshold).isSorted() && self.all(a, self.exists_one(b, b.threshold == a.threshold))",message="tier thresholds must be strictly increasing from the first level to the last"
	Levels []TierLevel `json:"levels"`

	// qualification says what activity counts towards a tier, and over which window.
	// +optional
	// +kubebuilder:default={basis: PointsEarned, window: {type: Rolling, period: "P12M"}}
	Qualification TierQualification `json:"qualification,omitzero"`

	// downgrade says how a member loses a tier.
	// +optional
	// +kubebuilder:default={policy: Recalculate, gracePeriod: "P0D"}
	Downgrade TierDowngrade `json:"downgrade,omitzero"`
}

// TierLevel is one status level.
type TierLevel struct {
	// name of the level, such as "Gold".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40
	Name string `json:"name"`

	// threshold is the qualifying activity needed in the window: points earned, or
	// money spent in minor units when the basis is AmountSpent.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000000
	Threshold int64 `json:"threshold"`

	// earnMultiplier scales the points members of this level earn.
	// +optional
	// +kubebuilder:default="1"
	EarnMultiplier Multiplier `json:"earnMultiplier,omitempty"`

	// discount members of this level get at partners, in percent.
	// +optional
	Discount Percent `json:"discount,omitempty"`
}

// TierBasis is the activity that counts towards a tier.
// +kubebuilder:validation:Enum=PointsEarned;AmountSpent
type TierBasis string

const (
	// TierBasisPointsEarned counts points earned in the window (never the balance:
	// spending points does not cost a member their tier).
	TierBasisPointsEarned TierBasis = "PointsEarned"
	// TierBasisAmountSpent counts money spent in the window, in minor units.
	TierBasisAmountSpent TierBasis = "AmountSpent"
)

// TierQualification says what counts towards a tier and over which window.
type TierQualification struct {
	// basis is the activity that counts.
	// +optional
	// +kubebuilder:default=PointsEarned
	Basis TierBasis `json:"basis,omitempty"`

	// window over which the activity is summed.
	// +optional
	// +kubebuilder:default={type: Rolling, period: "P12M"}
	Window QualificationWindow `json:"window,omitzero"`
}

// WindowType is the shape of a qualification window.
// +kubebuilder:validation:Enum=Rolling;CalendarYear
type WindowType string

const (
	// WindowRolling sums the activity of the last `period` before now.
	WindowRolling WindowType = "Rolling"
	// WindowCalendarYear sums the activity of the current calendar year.
	WindowCalendarYear WindowType = "CalendarYear"
)

// QualificationWindow is the period over which tier activity is summed.
type QualificationWindow struct {
	// type of window.
	// +optional
	// +kubebuilder:default=Rolling
	Type WindowType `json:"type,omitempty"`

	// period of a Rolling window, such as "P12M".
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches('^P(0+Y)?(0+M)?(0+W)?(0+D)?(T(0+H)?(0+M)?(0+S)?)?$')",message="must be longer than zero, such as \"P12M\""
	Period Duration `json:"period,omitempty"`
}

// DowngradePolicy says how a member whose activity fell loses a tier.
// +kubebuilder:validation:Enum=Recalculate;OneLevelPerPeriod;Never
type DowngradePolicy string

const (
	// DowngradeRecalculate puts the member at the level their window activity earns.
	DowngradeRecalculate DowngradePolicy = "Recalculate"
	// DowngradeOneLevelPerPeriod drops at most one level per qualification period.
	DowngradeOneLevelPerPeriod DowngradePolicy = "OneLevelPerPeriod"
	// DowngradeNever keeps the highest level reached.
	DowngradeNever DowngradePolicy = "Never"
)

// TierDowngrade says how and when a member loses a tier.
type TierDowngrade struct {
	// policy for downgrades.
	// +optional
	// +kubebuilder:default=Recalculate
	Policy DowngradePolicy `json:"policy,omitempty"`

	// gracePeriod a member keeps a level after falling below its threshold.
	// +optional
	// +kubebuilder:default="P0D"
	GracePeriod Duration `json:"gracePeriod,omitempty"`
}

// ExpiryPolicy says when a lot of points expires.
// +kubebuilder:validation:Enum=Never;Rolling;EndOfCalendarYear;Inactivity
type ExpiryPolicy string

const (
	// ExpiryNever keeps points forever.
	ExpiryNever ExpiryPolicy = "Never"
	// ExpiryRolling expires each lot `after` its earning date, such as P36M.
	ExpiryRolling ExpiryPolicy = "Rolling"
	// ExpiryEndOfCalendarYear expires each lot at the end of the calendar year it
	// was earned in, plus `additionalYears`.
	ExpiryEndOfCalendarYear ExpiryPolicy = "EndOfCalendarYear"
	// ExpiryInactivity expires all of a member's lots `after` their last earning;
	// every earning extends every lot.
	ExpiryInactivity ExpiryPolicy = "Inactivity"
)

// ExpiryRules say when points expire.
// +kubebuilder:validation:XValidation:rule="(self.policy == 'Rolling' || self.policy == 'Inactivity') == has(self.after)",message="spec.expiry.after is required for the Rolling and Inactivity policies, such as \"P36M\", and not allowed for the others",fieldPath=.after
// +kubebuilder:validation:XValidation:rule="self.policy == 'EndOfCalendarYear' || !has(self.additionalYears)",message="spec.expiry.additionalYears is only allowed with the EndOfCalendarYear policy",fieldPath=.additionalYears
type ExpiryRules struct {
	// policy of expiry.
	// +required
	Policy ExpiryPolicy `json:"policy"`

	// after is how long after earning (Rolling) or after the last earning
	// (Inactivity) points expire.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches('^P(0+Y)?(0+M)?(0+W)?(0+D)?(T(0+H)?(0+M)?(0+S)?)?$')",message="must be longer than zero, such as \"P36M\""
	After Duration `json:"after,omitempty"`

	// additionalYears after the calendar year of earning (EndOfCalendarYear): 0
	// expires points earned in 2026 on 31 December 2026, 2 on 31 December 2028.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	AdditionalYears *int32 `json:"additionalYears,omitempty"`
}

// RedemptionRules say what a point is worth when spent.
type RedemptionRules struct {
	// pointValue is the money value of one point, such as "0.01".
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches('^0+([.]0*)?$')",message="a point must be worth more than zero, such as \"0.01\": points worth nothing cannot be redeemed"
	PointValue PointPrice `json:"pointValue"`

	// minimumPoints is the smallest number of points one redemption may spend.
	// Together with pointValue it must be worth at least one minor unit of the
	// currency: the operator refuses a program where it is not (RulesInvalid).
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000000
	MinimumPoints int64 `json:"minimumPoints,omitempty"`
}

// ClawbackOrder says which points a return takes back first.
// +kubebuilder:validation:Enum=PendingFirst;AvailableFirst
type ClawbackOrder string

const (
	// ClawbackPendingFirst takes pending points first, then available points.
	ClawbackPendingFirst ClawbackOrder = "PendingFirst"
	// ClawbackAvailableFirst takes available points first, then pending points.
	ClawbackAvailableFirst ClawbackOrder = "AvailableFirst"
)

// NegativeBalancePolicy says whether a clawback may take a member below zero.
// +kubebuilder:validation:Enum=Allow;Forbid
type NegativeBalancePolicy string

const (
	// NegativeBalanceAllow lets a clawback take a member below zero; later
	// earnings pay it back first.
	NegativeBalanceAllow NegativeBalancePolicy = "Allow"
	// NegativeBalanceForbid stops a clawback at zero and writes the rest off.
	NegativeBalanceForbid NegativeBalancePolicy = "Forbid"
)

// ReturnRules say how a returned purchase claws back its points.
type ReturnRules struct {
	// clawbackOrder says which points are taken back first.
	// +optional
	// +kubebuilder:default=PendingFirst
	ClawbackOrder ClawbackOrder `json:"clawbackOrder,omitempty"`

	// negativeBalance says whether a clawback may take a member below zero.
	// +optional
	// +kubebuilder:default=Forbid
	NegativeBalance NegativeBalancePolicy `json:"negativeBalance,omitempty"`
}

// MembershipType is how members join.
// +kubebuilder:validation:Enum=Free;Paid
type MembershipType string

const (
	// MembershipFree is a free card.
	MembershipFree MembershipType = "Free"
	// MembershipPaid is a paid club whose fee pins a tier while it is current.
	MembershipPaid MembershipType = "Paid"
)

// Membership says whether joining is free or paid.
// +kubebuilder:validation:XValidation:rule="self.type != 'Paid' || (has(self.fee) && has(self.period))",message="a Paid membership needs spec.membership.fee and spec.membership.period, such as fee \"89.90\" and period \"P1Y\""
// +kubebuilder:validation:XValidation:rule="self.type == 'Paid' || (!has(self.fee) && !has(self.period) && !has(self.pinnedTier))",message="fee, period and pinnedTier are only allowed with spec.membership.type Paid"
type Membership struct {
	// type of membership.
	// +optional
	// +kubebuilder:default=Free
	Type MembershipType `json:"type,omitempty"`

	// fee of a paid membership per period.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches('^0+([.]0*)?$')",message="a paid membership's fee must be more than zero, such as \"89.90\"; a free membership is type Free"
	Fee MoneyAmount `json:"fee,omitempty"`

	// period one fee pays for, such as "P1Y".
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches('^P(0+Y)?(0+M)?(0+W)?(0+D)?(T(0+H)?(0+M)?(0+S)?)?$')",message="must be longer than zero, such as \"P1Y\""
	Period Duration `json:"period,omitempty"`

	// pinnedTier is the tier a paid member holds while the fee is current.
	// +optional
	// +kubebuilder:validation:MaxLength=40
	PinnedTier string `json:"pinnedTier,omitempty"`
}

// NamespacesFrom says which namespaces may attach Partners, as in Gateway API.
// +kubebuilder:validation:Enum=Same;All;Selector
type NamespacesFrom string

const (
	// NamespacesFromSame admits only Partners in the program's namespace.
	NamespacesFromSame NamespacesFrom = "Same"
	// NamespacesFromAll admits Partners from every namespace.
	NamespacesFromAll NamespacesFrom = "All"
	// NamespacesFromSelector admits Partners from namespaces matching a selector.
	NamespacesFromSelector NamespacesFrom = "Selector"
)

// AllowedNamespaces says which namespaces may attach Partners.
// +kubebuilder:validation:XValidation:rule="(self.from == 'Selector') == has(self.selector)",message="spec.partners.allowedNamespaces.selector is required when from is Selector, and not allowed otherwise",fieldPath=.selector
type AllowedNamespaces struct {
	// from says where Partners may come from.
	// +optional
	// +kubebuilder:default=Same
	From NamespacesFrom `json:"from,omitempty"`

	// selector of the namespaces whose Partners may attach, when from is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// PartnerAdmission says which Partners a program accepts.
type PartnerAdmission struct {
	// allowedNamespaces says which namespaces may attach Partners.
	// +optional
	// +kubebuilder:default={from: Same}
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces,omitzero"`
}

// LedgerType is where a program's ledger lives.
// +kubebuilder:validation:Enum=Embedded;PostgreSQL
type LedgerType string

const (
	// LedgerEmbedded keeps the ledger in SQLite on the pod's volume: zero set-up,
	// one replica.
	LedgerEmbedded LedgerType = "Embedded"
	// LedgerPostgreSQL keeps the ledger in PostgreSQL: several replicas.
	LedgerPostgreSQL LedgerType = "PostgreSQL"
)

// LedgerSpec says where a program's ledger is stored.
// +kubebuilder:validation:XValidation:rule="(self.type == 'PostgreSQL') == has(self.postgresql)",message="spec.ledger.postgresql is required when the ledger type is PostgreSQL, and not allowed otherwise",fieldPath=.postgresql
// +kubebuilder:validation:XValidation:rule="self.type == 'Embedded' || !has(self.embedded)",message="spec.ledger.embedded is only allowed when the ledger type is Embedded",fieldPath=.embedded
type LedgerSpec struct {
	// type of ledger.
	// +optional
	// +kubebuilder:default=Embedded
	Type LedgerType `json:"type,omitempty"`

	// embedded ledger settings.
	// +optional
	Embedded *EmbeddedLedger `json:"embedded,omitempty"`

	// postgresql ledger settings.
	// +optional
	PostgreSQL *PostgreSQLLedger `json:"postgresql,omitempty"`
}

// EmbeddedLedger is a SQLite ledger on a PersistentVolumeClaim.
type EmbeddedLedger struct {
	// storage requested for the ledger's volume.
	// +optional
	// +kubebuilder:default="1Gi"
	Storage *resource.Quantity `json:"storage,omitempty"`

	// storageClassName of the ledger's volume; empty uses the cluster default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// PostgreSQLLedger is a ledger in a PostgreSQL database.
type PostgreSQLLedger struct {
	// dsnSecretRef selects the Secret key holding the connection string
	// ("postgres://user:password@host:5432/db?sslmode=require").
	// +required
	DSNSecretRef SecretKeyReference `json:"dsnSecretRef"`
}

// ServiceSpec shapes the accrual service workload.
type ServiceSpec struct {
	// replicas of the accrual service; 1 with an Embedded ledger.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=50
	Replicas int32 `json:"replicas,omitempty"`

	// resources of the accrual container.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitzero"`

	// image overrides the operator's own image for the accrual service.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`
}

// LoyaltyProgramStatus is the observed state of a LoyaltyProgram.
type LoyaltyProgramStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions are Ready, Available, Progressing and Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// endpoint is the in-cluster URL of the program's accrual service.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Endpoint string `json:"endpoint,omitempty"`

	// partners is the number of accepted Partners.
	// +optional
	Partners int32 `json:"partners,omitzero"`

	// configHash is the hash of the rendered service configuration the workload runs.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ConfigHash string `json:"configHash,omitempty"`

	// events is where each of the program's own sinks stands, as its service
	// last reported (at most once a minute).
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	Events []EventSinkStatus `json:"events,omitempty"`

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
// +kubebuilder:resource:shortName=lp;lprog,categories=treue
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Currency",type=string,JSONPath=`.spec.currency`
// +kubebuilder:printcolumn:name="Partners",type=integer,JSONPath=`.status.partners`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// LoyaltyProgram is a points currency with its earning, tier, expiry and redemption
// rules, reconciled into a running point-accrual service.
//
// Its name is a DNS label of at most 44 characters starting with a letter: its
// accrual Service (a DNS-1035 label) and workload are named <name>-accrual, and a
// StatefulSet's pods carry the label <name>-accrual-<10-character revision hash>,
// which must fit in 63.
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 44 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be at most 44 lower-case letters, digits and '-', starting with a letter and without dots: the program's Service and pods are named after it"
type LoyaltyProgram struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec declares the program.
	// +required
	Spec LoyaltyProgramSpec `json:"spec"`

	// status is the observed state of the program.
	// +optional
	Status LoyaltyProgramStatus `json:"status,omitzero"`
}

// +kubebuilder:object:root=true

// LoyaltyProgramList contains a list of LoyaltyProgram.
type LoyaltyProgramList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []LoyaltyProgram `json:"items"`
}

func init() {
	SchemeBuilder.Register(&LoyaltyProgram{}, &LoyaltyProgramList{})
}

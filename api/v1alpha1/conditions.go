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

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The API's condition types and reasons: every condition treue sets, and every
// reason it gives, is defined here once, with when it is set. A reason says what
// happened (CamelCase); the condition's message says what to do about it.

// Condition types.
const (
	// ConditionReady summarises whether the object does what its spec asks. Every
	// kind but Settlement has it.
	ConditionReady = "Ready"
	// ConditionAccepted is a program's answer to a partner that joins it: one per
	// program in a Partner's status.programs, True when the program admits the
	// Partner's namespace.
	ConditionAccepted = "Accepted"
	// ConditionCompleted says a settlement run finished: False while it marks the
	// settled entries, True once the whole period is settled.
	ConditionCompleted = "Completed"
	// ConditionFailed says a settlement run failed, with the reason.
	ConditionFailed = "Failed"
	// ConditionAvailable says a program's accrual service has ready replicas.
	ConditionAvailable = "Available"
	// ConditionProgressing says a program's accrual service is rolling out a
	// change (of rules, partners or credentials).
	ConditionProgressing = "Progressing"
	// ConditionDegraded says something keeps a program from running as declared:
	// invalid rules, a missing PostgreSQL Secret, a stuck rollout.
	ConditionDegraded = "Degraded"
	// ConditionPartnersAccepted says whether the program accepted every member of a
	// cooperation.
	ConditionPartnersAccepted = "PartnersAccepted"
	// ConditionConflict says a member of a cooperation is also settled by an older
	// cooperation of the same program, which keeps it.
	ConditionConflict = "Conflict"
	// ConditionEventsDelivering says whether a program's event sinks (in its
	// status) or a partner's sinks in one program (in the partner's
	// status.programs) take their events: False when a sink cannot run or has
	// failed for longer than its deadAfter.
	ConditionEventsDelivering = "EventsDelivering"
)

// Reasons of EventsDelivering.
const (
	// ReasonDelivering: every sink takes its events.
	ReasonDelivering = "Delivering"
	// ReasonSinkFailing: a sink's receiver has refused or not answered for longer
	// than its deadAfter; events are parked dead until replayed.
	ReasonSinkFailing = "SinkFailing"
	// ReasonSigningSecretMissing: a sink's signing Secret does not exist or holds
	// no valid "secret"; the sink is not run until it does.
	ReasonSigningSecretMissing = "SigningSecretMissing"
	// ReasonEventsUnknown: the program's service could not be asked yet.
	ReasonEventsUnknown = "EventsUnknown"
)

// Reasons of a program's answer to a partner (Accepted, and a Partner's Ready).
const (
	// ReasonAccepted: the program admits the partner's namespace.
	ReasonAccepted = "Accepted"
	// ReasonProgramNotFound: the referenced LoyaltyProgram does not exist. Also the
	// Ready reason of a cooperation or referral whose program does not exist.
	ReasonProgramNotFound = "ProgramNotFound"
	// ReasonNotAllowedByProgram: the program's spec.partners.allowedNamespaces does
	// not admit the partner's namespace.
	ReasonNotAllowedByProgram = "NotAllowedByProgram"
)

// Reasons of a LoyaltyProgram's Ready, Available, Progressing and Degraded.
const (
	// ReasonWorkloadAvailable: the accrual service has ready replicas (Ready and
	// Available True).
	ReasonWorkloadAvailable = "WorkloadAvailable"
	// ReasonWorkloadUnavailable: no replica of the accrual service is ready, after
	// it had been available.
	ReasonWorkloadUnavailable = "WorkloadUnavailable"
	// ReasonWorkloadStarting: a new program's first pods are starting; the
	// service has never been available yet. No event: a normal start is no news.
	ReasonWorkloadStarting = "Starting"
	// ReasonRollingOut: pods with the new configuration are replacing the old ones.
	ReasonRollingOut = "RollingOut"
	// ReasonRolloutComplete: every pod runs the current configuration.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonAsExpected: Degraded is False, nothing is wrong.
	ReasonAsExpected = "AsExpected"
	// ReasonPostgreSQLSecret: the Secret (or key) with the PostgreSQL DSN is
	// missing; the service keeps its last configuration.
	ReasonPostgreSQLSecret = "PostgreSQLSecretMissing"
	// ReasonRulesInvalid: the rules do not compile (a rule the API server cannot
	// check, such as a time zone that does not load); the service keeps its last
	// configuration.
	ReasonRulesInvalid = "RulesInvalid"
	// ReasonRolloutStuck: the rollout passed its progress deadline.
	ReasonRolloutStuck = "RolloutStuck"
)

// Reasons of a PartnerCooperation's Ready, PartnersAccepted and Conflict.
const (
	// ReasonScheduled: the settlement CronJob runs by the schedule.
	ReasonScheduled = "Scheduled"
	// ReasonSuspended: spec.suspend stops new settlement runs.
	ReasonSuspended = "Suspended"
	// ReasonPartnerNotAccepted: a partner the object names is not accepted by the
	// program, so the object cannot take effect for it: a cooperation's member
	// (PartnersAccepted, and Ready), or a referral's referrer or referee (Ready).
	ReasonPartnerNotAccepted = "PartnerNotAccepted"
	// ReasonAllAccepted: the program accepted every member.
	ReasonAllAccepted = "AllAccepted"
	// ReasonPartnerConflict: a member is settled by an older cooperation of the
	// same program; this one leaves it out.
	ReasonPartnerConflict = "PartnerSettledElsewhere"
	// ReasonNoConflict: no other cooperation settles a member of this one.
	ReasonNoConflict = "NoConflict"
	// ReasonInvalidSchedule: the cron schedule or time zone does not parse or load.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonAwaitingConsent: a partner that would owe money under the agreement
	// (a cooperation's member, a referral's referee) has not consented to it in
	// its Partner's spec.consents; the agreement does not run for it until then.
	ReasonAwaitingConsent = "AwaitingConsent"
	// ReasonDuplicatePartner: a cooperation lists one partner twice (spelled
	// two ways, stored before the API server refused it); nothing settles it.
	ReasonDuplicatePartner = "DuplicatePartner"
)

// Reasons of a ReferralDiscount's Ready (and ReasonPartnerNotAccepted above).
const (
	// ReasonReferralActive: codes are issued and the referee's till applies them.
	ReasonReferralActive = "Active"
	// ReasonReferralNotSettled: no one cooperation settles both partners, so the
	// commission could not be paid.
	ReasonReferralNotSettled = "CommissionCannotBeSettled"
	// ReasonReferralSamePartner: the referrer and the referee are one partner.
	ReasonReferralSamePartner = "SelfReferral"
)

// Reasons of a Settlement's Completed and Failed, set by the settlement job.
const (
	// ReasonSettled: the period is settled and its entries marked (Completed True).
	ReasonSettled = "Settled"
	// ReasonMarking: statements are computed and the settled entries are being
	// marked in the ledger (Completed False).
	ReasonMarking = "MarkingEntries"
	// ReasonChecksumMismatch: a re-run computed other figures than the recorded
	// ones; the ledger changed under a settled period.
	ReasonChecksumMismatch = "ChecksumMismatch"
	// ReasonReadFailed: the accrual service's export could not be read.
	ReasonReadFailed = "ReadFailed"
	// ReasonMarkFailed: the settled entries could not be marked.
	ReasonMarkFailed = "MarkFailed"
	// ReasonInvalidInput: the cooperation, program or period cannot be settled as
	// declared (an unknown time zone, a price that does not parse, an open period).
	ReasonInvalidInput = "InvalidInput"
)

// Conditioned is implemented by every kind of this group: it lets one status
// writer serve them all.
// +kubebuilder:object:generate=false
type Conditioned interface {
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	GetObservedGeneration() int64
	SetObservedGeneration(int64)
}

// GetConditions returns the program's conditions.
func (p *LoyaltyProgram) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the program's conditions.
func (p *LoyaltyProgram) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

// GetObservedGeneration returns the generation the status was computed from.
func (p *LoyaltyProgram) GetObservedGeneration() int64 { return p.Status.ObservedGeneration }

// SetObservedGeneration records the generation the status was computed from.
func (p *LoyaltyProgram) SetObservedGeneration(g int64) { p.Status.ObservedGeneration = g }

// GetConditions returns the partner's conditions.
func (p *Partner) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the partner's conditions.
func (p *Partner) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }

// GetObservedGeneration returns the generation the status was computed from.
func (p *Partner) GetObservedGeneration() int64 { return p.Status.ObservedGeneration }

// SetObservedGeneration records the generation the status was computed from.
func (p *Partner) SetObservedGeneration(g int64) { p.Status.ObservedGeneration = g }

// GetConditions returns the cooperation's conditions.
func (c *PartnerCooperation) GetConditions() []metav1.Condition { return c.Status.Conditions }

// SetConditions replaces the cooperation's conditions.
func (c *PartnerCooperation) SetConditions(cs []metav1.Condition) { c.Status.Conditions = cs }

// GetObservedGeneration returns the generation the status was computed from.
func (c *PartnerCooperation) GetObservedGeneration() int64 { return c.Status.ObservedGeneration }

// SetObservedGeneration records the generation the status was computed from.
func (c *PartnerCooperation) SetObservedGeneration(g int64) { c.Status.ObservedGeneration = g }

// GetConditions returns the referral discount's conditions.
func (r *ReferralDiscount) GetConditions() []metav1.Condition { return r.Status.Conditions }

// SetConditions replaces the referral discount's conditions.
func (r *ReferralDiscount) SetConditions(c []metav1.Condition) { r.Status.Conditions = c }

// GetObservedGeneration returns the generation the status was computed from.
func (r *ReferralDiscount) GetObservedGeneration() int64 { return r.Status.ObservedGeneration }

// SetObservedGeneration records the generation the status was computed from.
func (r *ReferralDiscount) SetObservedGeneration(g int64) { r.Status.ObservedGeneration = g }

// GetConditions returns the settlement's conditions.
func (s *Settlement) GetConditions() []metav1.Condition { return s.Status.Conditions }

// SetConditions replaces the settlement's conditions.
func (s *Settlement) SetConditions(c []metav1.Condition) { s.Status.Conditions = c }

// GetObservedGeneration returns the generation the status was computed from.
func (s *Settlement) GetObservedGeneration() int64 { return s.Status.ObservedGeneration }

// SetObservedGeneration records the generation the status was computed from.
func (s *Settlement) SetObservedGeneration(g int64) { s.Status.ObservedGeneration = g }

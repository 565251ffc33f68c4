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

// Condition types shared by the kinds of this group.
const (
	// ConditionReady summarises whether the object does what its spec asks.
	ConditionReady = "Ready"
	// ConditionAccepted is a program's answer to a partner that joins it.
	ConditionAccepted = "Accepted"
	// ConditionCompleted says a settlement run finished.
	ConditionCompleted = "Completed"
	// ConditionFailed says a settlement run failed, with the reason.
	ConditionFailed = "Failed"
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

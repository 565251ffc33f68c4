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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// A new program is Starting until a pod of its current configuration is ready;
// a start that takes longer than StartDeadline is stuck (a StatefulSet has no
// progress deadline to say so), and the reconciler looks again when the deadline
// passes. The clock is the test's.
func TestANewProgramStartsAgainstADeadline(t *testing.T) {
	program := &loyaltyv1alpha1.LoyaltyProgram{ObjectMeta: metav1.ObjectMeta{Namespace: "net", Name: "city", Generation: 2}}
	created := time.Date(2026, time.December, 2, 9, 0, 0, 0, time.UTC)
	starting := &metav1.Condition{Type: loyaltyv1alpha1.ConditionAvailable, Status: metav1.ConditionFalse,
		Reason: loyaltyv1alpha1.ReasonWorkloadStarting, LastTransitionTime: metav1.NewTime(created)}
	wasAvailable := &metav1.Condition{Type: loyaltyv1alpha1.ConditionAvailable, Status: metav1.ConditionTrue,
		Reason: loyaltyv1alpha1.ReasonWorkloadAvailable, LastTransitionTime: metav1.NewTime(created)}

	for _, c := range []struct {
		name     string
		state    workloadState
		previous *metav1.Condition
		now      time.Time
		reason   string
		stuck    bool
		recheck  time.Duration
	}{
		{name: "no workload yet", state: workloadState{want: 1}, now: created,
			reason: loyaltyv1alpha1.ReasonWorkloadStarting, recheck: StartDeadline},
		{name: "a pod of a replaced configuration is ready", state: workloadState{want: 1, ready: 1, updated: 0, current: true},
			previous: starting, now: created.Add(time.Minute), reason: loyaltyv1alpha1.ReasonWorkloadStarting, recheck: StartDeadline - time.Minute},
		{name: "the workload has not seen the current template", state: workloadState{want: 1, ready: 1, updated: 1, current: false},
			previous: starting, now: created.Add(time.Minute), reason: loyaltyv1alpha1.ReasonWorkloadStarting, recheck: StartDeadline - time.Minute},
		{name: "a pod of the current configuration is ready", state: workloadState{want: 1, ready: 1, updated: 1, current: true},
			previous: starting, now: created.Add(2 * time.Minute), reason: loyaltyv1alpha1.ReasonWorkloadAvailable},
		{name: "one of three current pods is ready", state: workloadState{want: 3, ready: 1, updated: 3, current: true},
			previous: starting, now: created.Add(2 * time.Minute), reason: loyaltyv1alpha1.ReasonWorkloadAvailable},
		{name: "a second before the deadline", state: workloadState{want: 1, updated: 1, current: true},
			previous: starting, now: created.Add(StartDeadline - time.Second), reason: loyaltyv1alpha1.ReasonWorkloadStarting, recheck: time.Second},
		{name: "at the deadline", state: workloadState{want: 1, updated: 1, current: true},
			previous: starting, now: created.Add(StartDeadline), reason: loyaltyv1alpha1.ReasonWorkloadStarting, stuck: true},
		{name: "an outage after the first availability", state: workloadState{want: 1, updated: 1, current: true},
			previous: wasAvailable, now: created.Add(time.Hour), reason: loyaltyv1alpha1.ReasonWorkloadUnavailable},
		{name: "a later rollout with an old pod ready", state: workloadState{want: 1, ready: 1, updated: 0, current: true},
			previous: wasAvailable, now: created.Add(time.Hour), reason: loyaltyv1alpha1.ReasonWorkloadAvailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			available, _, stuck, recheck := workloadConditions(program, c.state, c.previous, c.now)
			if available.Reason != c.reason {
				t.Errorf("Available reason %s (%s), want %s", available.Reason, available.Message, c.reason)
			}
			if (available.Status == metav1.ConditionTrue) != (c.reason == loyaltyv1alpha1.ReasonWorkloadAvailable) {
				t.Errorf("Available %s with reason %s", available.Status, available.Reason)
			}
			if (stuck != "") != c.stuck {
				t.Errorf("stuck %q, want stuck %v", stuck, c.stuck)
			}
			if c.stuck && !strings.Contains(stuck, "10m0s since 2026-12-02T09:00:00Z") {
				t.Errorf("stuck %q does not say since when", stuck)
			}
			if recheck != c.recheck {
				t.Errorf("recheck in %s, want %s", recheck, c.recheck)
			}
			if available.Reason == loyaltyv1alpha1.ReasonWorkloadStarting && c.previous != nil && !available.LastTransitionTime.Equal(&c.previous.LastTransitionTime) {
				t.Errorf("a start keeps the time it began: %s", available.LastTransitionTime)
			}
		})
	}
}

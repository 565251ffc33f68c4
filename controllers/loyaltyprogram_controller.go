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
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// LoyaltyProgramReconciler reconciles LoyaltyPrograms. Its workloads arrive with
// the program controller; until then it only observes.
type LoyaltyProgramReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=loyaltyprograms,verbs=get;list;watch
// +kubebuilder:rbac:groups=loyalty.treue.dev,resources=loyaltyprograms/status,verbs=get;patch

// Reconcile records the observed generation of a LoyaltyProgram.
func (r *LoyaltyProgramReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return observeOnly(ctx, r.Client, req, &loyaltyv1alpha1.LoyaltyProgram{}, "run an accrual service for programs")
}

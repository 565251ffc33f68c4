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

// Package controllers holds one reconciler per kind of loyalty.treue.dev. They know
// the API types and Kubernetes objects, never the ledger's tables.
package controllers

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// Options tune every controller of the manager.
type Options struct {
	// MaxConcurrentReconciles is how many objects of one kind reconcile at once.
	MaxConcurrentReconciles int
}

// SetupWithManager registers a reconciler for every kind of the group.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	c := mgr.GetClient()
	reconcilers := []struct {
		obj client.Object
		r   reconcile.Reconciler
	}{
		{&loyaltyv1alpha1.LoyaltyProgram{}, &LoyaltyProgramReconciler{Client: c}},
		{&loyaltyv1alpha1.Partner{}, &PartnerReconciler{Client: c}},
		{&loyaltyv1alpha1.PartnerCooperation{}, &PartnerCooperationReconciler{Client: c}},
		{&loyaltyv1alpha1.ReferralDiscount{}, &ReferralDiscountReconciler{Client: c}},
		{&loyaltyv1alpha1.Settlement{}, &SettlementReconciler{Client: c}},
	}
	for _, rc := range reconcilers {
		// Status writes bump neither generation nor labels; reacting to them would
		// only make each reconcile trigger the next.
		err := ctrl.NewControllerManagedBy(mgr).
			For(rc.obj, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
			WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}).
			Complete(rc.r)
		if err != nil {
			return fmt.Errorf("setting up the %T controller: %w", rc.obj, err)
		}
	}
	return nil
}

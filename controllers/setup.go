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
// the API types and Kubernetes objects, and the accrual service's configuration
// file; never the ledger's tables.
package controllers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// Options tune every controller of the manager.
type Options struct {
	// MaxConcurrentReconciles is how many objects of one kind reconcile at once.
	MaxConcurrentReconciles int
	// Image runs the accrual services: the operator's own.
	Image string
	// ReferralStats reads referral counts from programs' services; nil reads
	// them over HTTP with each program's settlement token.
	ReferralStats ReferralStatsReader
	// ReferralStatsInterval is the least time between two reads of an
	// agreement's counts; 0 is 5 minutes.
	ReferralStatsInterval time.Duration
	// EventSinks reads programs' sink figures from their services; nil reads
	// them over HTTP with each program's admin token.
	EventSinks SinkService
	// EventSinksInterval is the least time between two reads of a program's
	// sink figures; 0 is a minute.
	EventSinksInterval time.Duration
	// ManagerNamespace is where the manager runs: each accrual service's
	// NetworkPolicy admits it to the API port (the manager reads /v1/stats).
	// Empty when the manager runs outside the cluster.
	ManagerNamespace string
}

// CacheOptions keep the manager's cache to what it needs: of all Secrets in the
// cluster, only the ones treue writes (credentials, tokens, key hashes).
// With watchNamespaces, namespaced objects are watched only there (Namespaces,
// being cluster-scoped, are still read cluster-wide for partner admission).
func CacheOptions(watchNamespaces ...string) cache.Options {
	o := cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{loyaltyv1alpha1.LabelManagedBy: loyaltyv1alpha1.ManagedByTreue})},
	}}
	if len(watchNamespaces) > 0 {
		o.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range watchNamespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

// SetupWithManager registers a reconciler for every kind of the group.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if err := setupIndexes(ctx, mgr); err != nil {
		return err
	}
	recorder := mgr.GetEventRecorder("treue")
	c := mgr.GetClient()
	sinkReader := opts.EventSinks
	if sinkReader == nil {
		sinkReader = httpSinks{c: c, http: &http.Client{Timeout: 5 * time.Second}}
	}
	sinks := newSinkReports(sinkReader, opts.EventSinksInterval)
	if err := (&LoyaltyProgramReconciler{Client: c, APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: recorder,
		Image: opts.Image, ManagerNamespace: opts.ManagerNamespace, Sinks: sinks}).SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the LoyaltyProgram controller: %w", err)
	}
	if err := (&PartnerReconciler{Client: c, APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Recorder: recorder, Sinks: sinks}).
		SetupWithManager(mgr, opts); err != nil {
		return fmt.Errorf("setting up the Partner controller: %w", err)
	}
	if err := (&PartnerCooperationReconciler{Client: c, Scheme: mgr.GetScheme(), Recorder: recorder, Image: opts.Image}).
		SetupWithManager(ctx, mgr, opts); err != nil {
		return fmt.Errorf("setting up the PartnerCooperation controller: %w", err)
	}
	stats := opts.ReferralStats
	if stats == nil {
		stats = httpStats{c: c, http: &http.Client{Timeout: 5 * time.Second}}
	}
	if err := (&ReferralDiscountReconciler{Client: c, Recorder: recorder, Stats: stats, StatsInterval: opts.ReferralStatsInterval}).
		SetupWithManager(ctx, mgr, opts); err != nil {
		return fmt.Errorf("setting up the ReferralDiscount controller: %w", err)
	}
	return nil
}

// builderGenerationChanged reacts to spec changes only: status writes bump no
// generation, and reacting to them would make each reconcile trigger the next.
func builderGenerationChanged() builder.ForOption {
	return builder.WithPredicates(predicate.GenerationChangedPredicate{})
}

func builderGenerationChangedWatch() builder.WatchesOption {
	return builder.WithPredicates(predicate.GenerationChangedPredicate{})
}

// builderOwnedChanged watches owned objects for what others do to them: their
// changes and deletion. Their creation is the reconcile's own doing (and on a
// restart the owner's own listing reconciles it anyway); reacting to it only
// repeated the reconcile that had just run.
func builderOwnedChanged() builder.OwnsOption {
	return builder.WithPredicates(predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }})
}

func controllerOptions(opts Options) controller.Options {
	return controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}
}

func handlerFunc(fn func(context.Context, client.Object) []ctrl.Request) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(fn)
}

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
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// statusObject is an object of this group with conditions in its status.
type statusObject interface {
	client.Object
	loyaltyv1alpha1.Conditioned
}

// patchStatus merge-patches obj's status against before, with an event when its
// Ready condition changed status or reason (Warning when it is not True). A new
// program's workload that is starting is no news: Ready=False for that reason
// (Starting) gets no event; the Ready=True that follows does. The caller
// has checked that the status changed.
func patchStatus(ctx context.Context, c client.Client, rec events.EventRecorder, before, obj statusObject, action string) error {
	was := meta.FindStatusCondition(before.GetConditions(), loyaltyv1alpha1.ConditionReady)
	now := meta.FindStatusCondition(obj.GetConditions(), loyaltyv1alpha1.ConditionReady)
	starting := now != nil && now.Reason == loyaltyv1alpha1.ReasonWorkloadStarting
	if patched, err := statusPatch(ctx, c, before, obj); !patched {
		return err
	}
	if now != nil && !starting && (was == nil || was.Status != now.Status || was.Reason != now.Reason) {
		kind := corev1.EventTypeNormal
		if now.Status != metav1.ConditionTrue {
			kind = corev1.EventTypeWarning
		}
		rec.Eventf(obj, nil, kind, now.Reason, action, "%s", now.Message)
	}
	return nil
}

// statusPatch merge-patches obj's status against before, only if before is the
// object as it is now (its resourceVersion), and says whether it did. A reconcile
// that read a stale copy from the cache gets errStale: it patches nothing and
// announces nothing that an earlier reconcile already announced, and is retried
// shortly (requeueOnStale). A deleted object is no error.
func statusPatch(ctx context.Context, c client.Client, before, obj client.Object) (bool, error) {
	err := c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	switch {
	case apierrors.IsConflict(err):
		return false, errStale
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return err == nil, err
}

// errStale marks a reconcile that worked from a stale copy of its object.
var errStale = errors.New("worked from a stale copy")

// staleRetry is how soon a reconcile that worked from a stale copy runs again:
// the cache is usually a few milliseconds behind.
const staleRetry = 200 * time.Millisecond

// requeueOnStale retries a reconcile that worked from a stale copy soon, without
// logging it as an error or backing off; every other outcome passes unchanged.
func requeueOnStale(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if errors.Is(err, errStale) {
			log.FromContext(ctx).V(1).Info("Read a stale copy; trying again", "after", staleRetry)
			return reconcile.Result{RequeueAfter: staleRetry}, nil
		}
		return res, err
	})
}

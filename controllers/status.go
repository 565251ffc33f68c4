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
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// object is what every reconciler of this package works on: a Kubernetes object
// with conditions and an observed generation in its status.
type object interface {
	client.Object
	loyaltyv1alpha1.Conditioned
}

// ReasonNotImplemented is the Ready reason of a kind whose reconciliation has not
// been built yet. It is deliberately not Ready=True: the API server validated the
// spec, but nothing runs for it.
const ReasonNotImplemented = "ReconciliationNotImplemented"

// observeOnly is the whole reconciliation of a kind whose controller has not been
// built yet: it records that the current generation was seen and validated, and
// says honestly, with Ready=Unknown, that nothing was done for it.
func observeOnly(ctx context.Context, c client.Client, req ctrl.Request, obj object, what string) (ctrl.Result, error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := ctrl.LoggerFrom(ctx)
	before := obj.DeepCopyObject().(object)

	conditions := obj.GetConditions()
	meta.SetStatusCondition(&conditions, metav1.Condition{
		Type:               loyaltyv1alpha1.ConditionReady,
		Status:             metav1.ConditionUnknown,
		Reason:             ReasonNotImplemented,
		Message:            fmt.Sprintf("The API server accepted this spec, but this treue build does not %s yet; nothing runs for it", what),
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conditions)
	obj.SetObservedGeneration(obj.GetGeneration())

	if err := patchStatusIfChanged(ctx, c, before, obj); err != nil {
		return ctrl.Result{}, err
	}
	log.V(1).Info("Observed object", "generation", obj.GetGeneration())
	return ctrl.Result{}, nil
}

// patchStatusIfChanged writes obj's status only when it differs from before, so a
// settled object costs the API server nothing on resync.
func patchStatusIfChanged(ctx context.Context, c client.Client, before, after object) error {
	if equality.Semantic.DeepEqual(before.GetConditions(), after.GetConditions()) &&
		before.GetObservedGeneration() == after.GetObservedGeneration() {
		return nil
	}
	if err := c.Status().Patch(ctx, after, client.MergeFrom(before)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patching status of %s %s: %w", after.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(after), err)
	}
	ctrl.LoggerFrom(ctx).Info("Updated status", "generation", after.GetGeneration())
	return nil
}

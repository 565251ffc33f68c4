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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// FieldOwner is the field manager of everything treue creates and applies.
const FieldOwner = "treue"

// applyOwned makes obj, owned by owner, what the cluster holds, unless the copy
// in the cache already carries the fingerprint of exactly this desired state. It
// reports whether it wrote.
//
// An object that does not exist yet is created: a create costs the API server
// less than an apply that creates, and a settling fleet of programs is mostly
// creates (bench/operator). The create records its fields for FieldOwner as an
// update, so before the first apply of a changed desired state those fields are
// handed to FieldOwner's apply (as kubectl does when it moves from client-side to
// server-side apply); else a field dropped from the desired state later would
// stay, owned by the create.
func applyOwned(ctx context.Context, c client.Client, scheme *runtime.Scheme, owner client.Object, obj client.Object) (bool, error) {
	if err := controllerutil.SetControllerReference(owner, obj, scheme); err != nil {
		return false, err
	}
	u, fingerprint, err := fingerprinted(obj)
	if err != nil {
		return false, err
	}

	current := obj.DeepCopyObject().(client.Object)
	err = c.Get(ctx, client.ObjectKeyFromObject(obj), current)
	switch {
	case apierrors.IsNotFound(err):
		err := createOwned(ctx, c, obj, fingerprint)
		return err == nil, err
	case err != nil:
		return false, err
	case current.GetAnnotations()[loyaltyv1alpha1.AnnotationApplied] == fingerprint:
		return false, nil
	}
	if err := handOverCreatedFields(ctx, c, current); err != nil {
		return false, err
	}
	u.SetAnnotations(withFingerprint(u.GetAnnotations(), fingerprint))
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("applying %s %s: %w", u.GetKind(), client.ObjectKeyFromObject(obj), err)
	}
	return true, nil
}

// fingerprinted is obj as it is applied, and the fingerprint of that desired
// state.
func fingerprinted(obj client.Object) (*unstructured.Unstructured, string, error) {
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, "", err
	}
	u := &unstructured.Unstructured{Object: raw}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	b, err := json.Marshal(u.Object)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b)
	return u, hex.EncodeToString(sum[:])[:16], nil
}

// withFingerprint is a copy of annotations that records fingerprint as applied.
func withFingerprint(annotations map[string]string, fingerprint string) map[string]string {
	out := maps.Clone(annotations)
	if out == nil {
		out = map[string]string{}
	}
	out[loyaltyv1alpha1.AnnotationApplied] = fingerprint
	return out
}

// createOwned creates obj with its fingerprint. An object that exists after all
// is one the cache has not seen yet: the reconcile worked from a stale copy.
func createOwned(ctx context.Context, c client.Client, obj client.Object, fingerprint string) error {
	obj = obj.DeepCopyObject().(client.Object)
	obj.SetAnnotations(withFingerprint(obj.GetAnnotations(), fingerprint))
	err := c.Create(ctx, obj, client.FieldOwner(FieldOwner))
	if apierrors.IsAlreadyExists(err) {
		return errStale
	}
	if err != nil {
		return fmt.Errorf("creating %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// handOverCreatedFields moves the fields FieldOwner's create (or any earlier
// update under that name) owns to FieldOwner's apply, so that the apply that
// follows can also remove them. Nothing is sent when there is nothing to move.
// The patch carries the resourceVersion read, so a stale copy is refused.
func handOverCreatedFields(ctx context.Context, c client.Client, current client.Object) error {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(current, sets.New(FieldOwner), FieldOwner)
	if err != nil || patch == nil {
		return err
	}
	err = c.Patch(ctx, current, client.RawPatch(types.JSONPatchType, patch))
	if apierrors.IsConflict(err) {
		return errStale
	}
	if err != nil {
		return fmt.Errorf("handing the fields of %s to server-side apply: %w", client.ObjectKeyFromObject(current), err)
	}
	return nil
}

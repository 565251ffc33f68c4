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

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The request mappers: a change of one object turns into reconcile requests of
// the objects it affects.

// indexedRequests lists the objects whose field index holds value (in namespace
// ns, or everywhere when it is empty) and turns them into reconcile requests.
func indexedRequests(ctx context.Context, c client.Client, list client.ObjectList, ns, field, value string) []ctrl.Request {
	opts := []client.ListOption{client.MatchingFields{field: value}}
	if ns != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing by index", "field", field, "value", value)
		return nil
	}
	var out []ctrl.Request
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		out = append(out, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(o.(client.Object))})
		return nil
	})
	return out
}

// requestsFor turns keys "namespace/name" into reconcile requests.
func requestsFor(keys []string) []ctrl.Request {
	out := make([]ctrl.Request, 0, len(keys))
	for _, k := range keys {
		for i := 0; i < len(k); i++ {
			if k[i] == '/' {
				out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: k[:i], Name: k[i+1:]}})
				break
			}
		}
	}
	return out
}

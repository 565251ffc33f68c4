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
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// NetworkObjects are the objects the operator ends with for an embedded-ledger
// program that accepts every one of partners, each as the controllers create
// it: each partner's credentials Secret, then the program's token Secret and the
// objects of its accrual service, with their owner references and applied
// fingerprints. Keys and tokens are new ones. The program and partners must be
// the stored ones (their UIDs are referenced).
//
// bench/operator creates these directly, without the operator, as its floor.
// The controllers build them with the same functions.
//
// managerNamespace is the manager's (Options.ManagerNamespace), which the
// services' NetworkPolicy admits.
func NetworkObjects(scheme *runtime.Scheme, program *loyaltyv1alpha1.LoyaltyProgram, partners []loyaltyv1alpha1.Partner,
	image, managerNamespace string) ([]client.Object, error) {
	var objs []client.Object
	hashes := map[string][]byte{}
	for i := range partners {
		key, err := newAPIKey()
		if err != nil {
			return nil, err
		}
		secret := credentialsSecret(&partners[i], program.Namespace, program.Name, key)
		if err := controllerutil.SetControllerReference(&partners[i], secret, scheme); err != nil {
			return nil, err
		}
		hashes[accrualapi.PartnerKeyHashFile(partners[i].Namespace, partners[i].Name)] = keyHash([]byte(key))
		objs = append(objs, secret)
	}
	admin, err := newAPIKey()
	if err != nil {
		return nil, err
	}
	settlement, err := newAPIKey()
	if err != nil {
		return nil, err
	}
	tokens := tokensSecret(program, admin, settlement)
	if err := controllerutil.SetControllerReference(program, tokens, scheme); err != nil {
		return nil, err
	}
	objs = append(objs, tokens)
	maps.Copy(hashes, tokenHashes(tokens))

	config, err := renderAccrualConfig(program, partners, nil)
	if err != nil {
		return nil, err
	}
	raw, hash, err := configFile(config, hashes)
	if err != nil {
		return nil, err
	}
	for _, obj := range programOwned(program, raw, hash, image, hashes, admittedNamespaces(partnerNamespaces(partners), managerNamespace)) {
		if err := controllerutil.SetControllerReference(program, obj, scheme); err != nil {
			return nil, err
		}
		_, fingerprint, err := fingerprinted(obj)
		if err != nil {
			return nil, err
		}
		obj.SetAnnotations(withFingerprint(obj.GetAnnotations(), fingerprint))
		objs = append(objs, obj)
	}
	return objs, nil
}

// admittedNamespaces are the namespaces whose pods may call a program's API:
// its accepted partners' and, when it runs in the cluster, the manager's, which
// reads /v1/stats for referral status (the NetworkPolicy adds the program's own).
func admittedNamespaces(partnerNamespaces []string, managerNamespace string) []string {
	if managerNamespace == "" {
		return partnerNamespaces
	}
	return append(slices.Clone(partnerNamespaces), managerNamespace)
}

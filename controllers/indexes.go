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

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// Field indexes, so that a change of one object finds the objects it affects
// without listing everything.
const (
	// indexPartnerPrograms indexes Partners by the "namespace/name" of each
	// program they reference.
	indexPartnerPrograms = "spec.programRefs"
	// indexReferralProgram indexes ReferralDiscounts by their program's name.
	indexReferralProgram = "spec.programRef.name"
	// indexReferralPartners holds a ReferralDiscount's referrer and referee.
	indexReferralPartners = "spec.partners"
	// indexCooperationProgram indexes PartnerCooperations by their program's name.
	indexCooperationProgram = "spec.programRef.name"
	// indexCooperationPartners indexes PartnerCooperations by each member's
	// "namespace/name".
	indexCooperationPartners = "spec.members.partnerRef"
)

// setupIndexes registers the field indexes the controllers use.
func setupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &loyaltyv1alpha1.Partner{}, indexPartnerPrograms, func(o client.Object) []string {
		return partnerProgramKeys(o.(*loyaltyv1alpha1.Partner))
	}); err != nil {
		return fmt.Errorf("indexing Partners by program: %w", err)
	}
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &loyaltyv1alpha1.ReferralDiscount{}, indexReferralProgram, func(o client.Object) []string {
		return []string{o.(*loyaltyv1alpha1.ReferralDiscount).Spec.ProgramRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing ReferralDiscounts by program: %w", err)
	}
	if err := idx.IndexField(ctx, &loyaltyv1alpha1.ReferralDiscount{}, indexReferralPartners, func(o client.Object) []string {
		rd := o.(*loyaltyv1alpha1.ReferralDiscount)
		return []string{rd.Spec.Referrer.Key(rd.Namespace), rd.Spec.Referee.Key(rd.Namespace)}
	}); err != nil {
		return fmt.Errorf("indexing ReferralDiscounts by partner: %w", err)
	}
	if err := idx.IndexField(ctx, &loyaltyv1alpha1.PartnerCooperation{}, indexCooperationProgram, func(o client.Object) []string {
		return []string{o.(*loyaltyv1alpha1.PartnerCooperation).Spec.ProgramRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing PartnerCooperations by program: %w", err)
	}
	return idx.IndexField(ctx, &loyaltyv1alpha1.PartnerCooperation{}, indexCooperationPartners, func(o client.Object) []string {
		coop := o.(*loyaltyv1alpha1.PartnerCooperation)
		keys := make([]string, 0, len(coop.Spec.Members))
		for _, m := range coop.Spec.Members {
			keys = append(keys, m.PartnerRef.Key(coop.Namespace))
		}
		return keys
	})
}

// partnerProgramKeys are the programs a Partner references, namespaces resolved.
func partnerProgramKeys(p *loyaltyv1alpha1.Partner) []string {
	keys := make([]string, 0, len(p.Spec.ProgramRefs))
	for _, r := range p.Spec.ProgramRefs {
		keys = append(keys, r.Key(p.Namespace))
	}
	return keys
}

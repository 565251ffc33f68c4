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
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// embeddedLedgerPath is the SQLite file on an accrual pod's volume.
const embeddedLedgerPath = "/var/lib/treue/ledger.db"

// renderAccrualConfig renders the configuration file of a program's accrual
// service from the program, the partners it accepted and the referral discounts
// that name it. It is a pure function: the same objects give the same bytes, in
// any order, so that its hash changes only when the configuration does.
func renderAccrualConfig(program *loyaltyv1alpha1.LoyaltyProgram, accepted []loyaltyv1alpha1.Partner,
	referrals []loyaltyv1alpha1.ReferralDiscount) (accrualapi.Config, error) {
	spec := program.Spec
	c := accrualapi.Config{
		APIVersion: accrualapi.ConfigVersion,
		Program:    loyaltyv1alpha1.ObjectKey(program.Namespace, program.Name),
		Rules:      renderRules(spec),
	}
	for _, p := range accepted {
		c.Partners = append(c.Partners, accrualapi.PartnerConfig{
			ID:              loyaltyv1alpha1.ObjectKey(p.Namespace, p.Name),
			DefaultCategory: string(p.Spec.DefaultCategory),
			KeyHashFile:     accrualapi.PartnerKeyHashFile(p.Namespace, p.Name),
		})
	}
	slices.SortFunc(c.Partners, func(a, b accrualapi.PartnerConfig) int { return strings.Compare(a.ID, b.ID) })
	for _, r := range referrals {
		if r.Namespace != program.Namespace || r.Spec.ProgramRef.Name != program.Name {
			return accrualapi.Config{}, fmt.Errorf("referral discount %s/%s does not name program %s/%s", r.Namespace, r.Name, program.Namespace, program.Name)
		}
		c.Referrals = append(c.Referrals, renderReferral(r))
	}
	slices.SortFunc(c.Referrals, func(a, b rules.ReferralConfig) int { return strings.Compare(a.ID, b.ID) })
	switch spec.Ledger.Type {
	case loyaltyv1alpha1.LedgerPostgreSQL:
		c.Ledger = accrualapi.LedgerConfig{Backend: accrualapi.PostgreSQL, DSNFile: accrualapi.LedgerDSNFile}
	default:
		c.Ledger = accrualapi.LedgerConfig{Backend: accrualapi.SQLite, Path: embeddedLedgerPath}
	}
	return c, nil
}

func renderRules(spec loyaltyv1alpha1.LoyaltyProgramSpec) rules.Config {
	e := spec.Earning
	c := rules.Config{
		Currency: string(spec.Currency),
		TimeZone: string(spec.TimeZone),
		Earning: rules.EarningConfig{
			BaseRate:      rules.EarnRateConfig{Points: e.BaseRate.Points, Per: string(e.BaseRate.Per)},
			Rounding:      string(e.Rounding),
			SignupBonus:   e.SignupBonus,
			BirthdayBonus: e.BirthdayBonus,
			MinimumSpend:  string(e.MinimumSpend),
		},
		PendingPeriod: string(spec.PendingPeriod),
		Expiry:        rules.ExpiryConfig{Policy: string(spec.Expiry.Policy), After: string(spec.Expiry.After)},
		Redemption:    rules.RedemptionConfig{PointValue: string(spec.Redemption.PointValue), MinimumPoints: spec.Redemption.MinimumPoints},
		Returns:       rules.ReturnsConfig{ClawbackOrder: string(spec.Returns.ClawbackOrder), NegativeBalance: string(spec.Returns.NegativeBalance)},
		Membership: rules.MembershipConfig{Type: string(spec.Membership.Type), Fee: string(spec.Membership.Fee),
			Period: string(spec.Membership.Period), PinnedTier: spec.Membership.PinnedTier},
	}
	if e.MaxPointsPerTransaction != nil {
		c.Earning.MaxPointsPerTransaction = *e.MaxPointsPerTransaction
	}
	if e.MaxPointsPerMemberPerDay != nil {
		c.Earning.MaxPointsPerMemberPerDay = *e.MaxPointsPerMemberPerDay
	}
	for _, m := range e.CategoryMultipliers {
		c.Earning.CategoryMultipliers = append(c.Earning.CategoryMultipliers,
			rules.CategoryMultiplierConfig{Category: string(m.Category), Multiplier: string(m.Multiplier)})
	}
	if spec.Expiry.AdditionalYears != nil {
		c.Expiry.AdditionalYears = int(*spec.Expiry.AdditionalYears)
	}
	if t := spec.Tiers; t != nil {
		tiers := &rules.TiersConfig{
			Basis:       string(t.Qualification.Basis),
			Window:      rules.WindowConfig{Type: string(t.Qualification.Window.Type), Period: string(t.Qualification.Window.Period)},
			Downgrade:   string(t.Downgrade.Policy),
			GracePeriod: string(t.Downgrade.GracePeriod),
		}
		for _, l := range t.Levels {
			tiers.Levels = append(tiers.Levels, rules.TierLevelConfig{
				Name: l.Name, Threshold: l.Threshold, EarnMultiplier: string(l.EarnMultiplier), Discount: string(l.Discount),
			})
		}
		c.Tiers = tiers
	}
	return c
}

func renderReferral(r loyaltyv1alpha1.ReferralDiscount) rules.ReferralConfig {
	s := r.Spec
	c := rules.ReferralConfig{
		ID:       loyaltyv1alpha1.ObjectKey(r.Namespace, r.Name),
		Referrer: s.Referrer.Key(r.Namespace),
		Referee:  s.Referee.Key(r.Namespace),
		Discount: rules.DiscountConfig{
			Type: string(s.Discount.Type), Percent: string(s.Discount.Percent), Cap: string(s.Discount.Cap), Amount: string(s.Discount.Amount),
		},
		Commission:    rules.CommissionConfig{Type: string(s.Commission.Type), Percent: string(s.Commission.Percent), Amount: string(s.Commission.Amount)},
		HoldingPeriod: string(s.HoldingPeriod),
		Guards: rules.GuardsConfig{
			EligiblePurchases: string(s.Guards.EligiblePurchases),
			MinimumSpend:      string(s.Guards.MinimumSpend),
		},
		CodePrefix: s.CodePrefix,
	}
	if s.Guards.ValidFrom != nil {
		t := s.Guards.ValidFrom.UTC()
		c.Guards.ValidFrom = &t
	}
	if s.Guards.ValidUntil != nil {
		t := s.Guards.ValidUntil.UTC()
		c.Guards.ValidUntil = &t
	}
	if s.Guards.MaxUses != nil {
		c.Guards.MaxUses = int64(*s.Guards.MaxUses)
	}
	return c
}

// configFile is the configuration file the pods read, and the hash of it and of
// the secrets they run with.
func configFile(config accrualapi.Config, secrets map[string][]byte) ([]byte, string, error) {
	raw, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return nil, "", err
	}
	return raw, configHash(raw, secrets), nil
}

// partnerNamespaces are the namespaces of partners, in their order.
func partnerNamespaces(partners []loyaltyv1alpha1.Partner) []string {
	out := make([]string, 0, len(partners))
	for _, p := range partners {
		out = append(out, p.Namespace)
	}
	return out
}

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

package v1alpha1

import (
	"fmt"
	"time"
)

// Accessors of fields the API server defaults. An object read from the API
// server has the defaults filled in; one built in code or read from an older
// stored version may not. Every reader goes through these, so that the default
// is written once: here and in the field's +kubebuilder:default marker.

// TimeZoneName is the schedule's time zone, "UTC" when unset.
func (s SettlementSchedule) TimeZoneName() string {
	if s.TimeZone == "" {
		return "UTC"
	}
	return string(s.TimeZone)
}

// Location loads the schedule's time zone. A name that passes the API server's
// pattern but is not a zone this build knows is an error that names it.
func (s SettlementSchedule) Location() (*time.Location, error) {
	loc, err := time.LoadLocation(s.TimeZoneName())
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", s.TimeZoneName(), err)
	}
	return loc, nil
}

// PeriodLength is the length of one settlement period, Weekly when unset.
func (s SettlementSchedule) PeriodLength() SettlementPeriodLength {
	if s.Period == "" {
		return PeriodWeekly
	}
	return s.Period
}

// NettingMode is how the cooperation nets, Multilateral when unset.
func (c PartnerCooperationSpec) NettingMode() NettingMode {
	if c.Netting == "" {
		return NettingMultilateral
	}
	return c.Netting
}

// RoundingMode is how the cooperation rounds period totals, HalfEven when unset.
func (c PartnerCooperationSpec) RoundingMode() RoundingMode {
	if c.Rounding == "" {
		return RoundingHalfEven
	}
	return c.Rounding
}

// Suspended says whether spec.suspend stops new settlement runs (false when
// unset).
func (c PartnerCooperationSpec) Suspended() bool {
	return c.Suspend != nil && *c.Suspend
}

// ReplicaCount is how many replicas of the accrual service the spec asks for, 1
// when unset.
func (s ServiceSpec) ReplicaCount() int32 {
	return max(s.Replicas, 1)
}

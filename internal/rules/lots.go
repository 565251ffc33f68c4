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

package rules

import "time"

// LotTerms are the dates of one lot of points.
type LotTerms struct {
	// PendingUntil is when the lot becomes spendable: the end of the return window.
	PendingUntil time.Time
	// ExpiresAt is when the lot expires, or nil when it does not (Never), or when
	// it expires with the member's inactivity (see ExpiresOnInactivity).
	ExpiresAt *time.Time
	// ExpiresOnInactivity means every lot of the member expires together, After
	// the member's last earning: see InactivityExpiry.
	ExpiresOnInactivity bool
}

// LotTermsAt computes the dates of a lot earned at earnedAt. Calendar rules are
// evaluated in the program's time zone.
func (p *Program) LotTermsAt(earnedAt time.Time) LotTerms {
	local := earnedAt.In(p.Location)
	terms := LotTerms{PendingUntil: p.Pending.AddTo(local)}
	switch p.Expiry.Policy {
	case ExpiryRolling:
		at := p.Expiry.After.AddTo(local)
		terms.ExpiresAt = &at
	case ExpiryEndOfCalendarYear:
		// Points earned in 2026 with no additional years expire at the end of
		// 31 December 2026: the first instant of 2027 in the program's zone.
		at := time.Date(local.Year()+1+p.Expiry.AdditionalYears, time.January, 1, 0, 0, 0, 0, p.Location)
		terms.ExpiresAt = &at
	case ExpiryInactivity:
		terms.ExpiresOnInactivity = true
	}
	return terms
}

// InactivityExpiry is when all of a member's lots expire under the Inactivity
// policy, given the member's last earning; false for other policies.
func (p *Program) InactivityExpiry(lastEarnedAt time.Time) (time.Time, bool) {
	if p.Expiry.Policy != ExpiryInactivity {
		return time.Time{}, false
	}
	return p.Expiry.After.AddTo(lastEarnedAt.In(p.Location)), true
}

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

// Config is a program's rules as the operator renders them into the accrual
// service's configuration file: the LoyaltyProgram spec with every default filled
// in, money as exact decimal strings, durations as ISO 8601 strings. Compile
// checks it and turns it into a Program.
type Config struct {
	Currency      string           `json:"currency"`
	TimeZone      string           `json:"timeZone"`
	Earning       EarningConfig    `json:"earning"`
	PendingPeriod string           `json:"pendingPeriod"`
	Tiers         *TiersConfig     `json:"tiers,omitempty"`
	Expiry        ExpiryConfig     `json:"expiry"`
	Redemption    RedemptionConfig `json:"redemption"`
	Returns       ReturnsConfig    `json:"returns"`
	Membership    MembershipConfig `json:"membership"`
}

// EarningConfig turns purchases into points.
type EarningConfig struct {
	BaseRate                 EarnRateConfig             `json:"baseRate"`
	Rounding                 string                     `json:"rounding"`
	CategoryMultipliers      []CategoryMultiplierConfig `json:"categoryMultipliers,omitempty"`
	SignupBonus              int64                      `json:"signupBonus,omitempty"`
	BirthdayBonus            int64                      `json:"birthdayBonus,omitempty"`
	MinimumSpend             string                     `json:"minimumSpend,omitempty"`
	MaxPointsPerTransaction  int64                      `json:"maxPointsPerTransaction,omitempty"`
	MaxPointsPerMemberPerDay int64                      `json:"maxPointsPerMemberPerDay,omitempty"`
}

// EarnRateConfig is "points per spend".
type EarnRateConfig struct {
	Points int64  `json:"points"`
	Per    string `json:"per"`
}

// CategoryMultiplierConfig scales one product category.
type CategoryMultiplierConfig struct {
	Category   string `json:"category"`
	Multiplier string `json:"multiplier"`
}

// TiersConfig defines the status levels.
type TiersConfig struct {
	Levels      []TierLevelConfig `json:"levels"`
	Basis       string            `json:"basis"`
	Window      WindowConfig      `json:"window"`
	Downgrade   string            `json:"downgrade"`
	GracePeriod string            `json:"gracePeriod"`
}

// TierLevelConfig is one status level.
type TierLevelConfig struct {
	Name           string `json:"name"`
	Threshold      int64  `json:"threshold"`
	EarnMultiplier string `json:"earnMultiplier,omitempty"`
	Discount       string `json:"discount,omitempty"`
}

// WindowConfig is the qualification window.
type WindowConfig struct {
	Type   string `json:"type"`
	Period string `json:"period,omitempty"`
}

// ExpiryConfig says when lots expire.
type ExpiryConfig struct {
	Policy          string `json:"policy"`
	After           string `json:"after,omitempty"`
	AdditionalYears int    `json:"additionalYears,omitempty"`
}

// RedemptionConfig says what a point is worth.
type RedemptionConfig struct {
	PointValue    string `json:"pointValue"`
	MinimumPoints int64  `json:"minimumPoints,omitempty"`
}

// ReturnsConfig says how returns claw back points.
type ReturnsConfig struct {
	ClawbackOrder   string `json:"clawbackOrder"`
	NegativeBalance string `json:"negativeBalance"`
}

// MembershipConfig says whether membership is free or paid.
type MembershipConfig struct {
	Type       string `json:"type"`
	Fee        string `json:"fee,omitempty"`
	Period     string `json:"period,omitempty"`
	PinnedTier string `json:"pinnedTier,omitempty"`
}

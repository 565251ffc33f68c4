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

package money

import (
	"fmt"
	"math/big"
)

// RoundingMode says how an exact value is rounded to an integer. The names are the
// API's (loyalty.treue.dev/v1alpha1 RoundingMode).
type RoundingMode string

// The rounding modes.
const (
	// Floor rounds towards negative infinity: 3.99 EUR at 1 point per 2.00 EUR is 1.
	Floor RoundingMode = "Floor"
	// Ceiling rounds towards positive infinity.
	Ceiling RoundingMode = "Ceiling"
	// HalfUp rounds to the nearest integer, halves away from zero.
	HalfUp RoundingMode = "HalfUp"
	// HalfEven rounds to the nearest integer, halves to the even neighbour.
	HalfEven RoundingMode = "HalfEven"
)

// ParseRoundingMode checks a rounding mode's name.
func ParseRoundingMode(s string) (RoundingMode, error) {
	switch m := RoundingMode(s); m {
	case Floor, Ceiling, HalfUp, HalfEven:
		return m, nil
	}
	return "", fmt.Errorf("rounding mode %q: want Floor, Ceiling, HalfUp or HalfEven", s)
}

// Round rounds r to an integer.
func Round(r *big.Rat, mode RoundingMode) *big.Int {
	num, den := r.Num(), r.Denom()
	// Euclidean division: q = floor(num/den) because den > 0, and 0 <= rem < den.
	q, rem := new(big.Int).DivMod(num, den, new(big.Int))
	if rem.Sign() == 0 {
		return q
	}
	up := func() *big.Int { return q.Add(q, big.NewInt(1)) }
	switch mode {
	case Ceiling:
		return up()
	case HalfUp, HalfEven:
		// Compare the remainder with half the denominator: 2·rem against den.
		switch new(big.Int).Lsh(rem, 1).Cmp(den) {
		case 1:
			return up()
		case 0:
			if mode == HalfUp && num.Sign() > 0 {
				return up()
			}
			if mode == HalfEven && q.Bit(0) == 1 {
				return up()
			}
		}
		return q
	default: // Floor
		return q
	}
}

// RoundInt64 rounds r to an int64, failing when the result does not fit.
func RoundInt64(r *big.Rat, mode RoundingMode) (int64, error) {
	v := Round(r, mode)
	if !v.IsInt64() {
		return 0, fmt.Errorf("%s does not fit in 64 bits: %w", v, ErrRange)
	}
	return v.Int64(), nil
}

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
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// MaxDecimalLength bounds the decimal strings the parsers accept, so that a hostile
// input cannot make them allocate without limit.
const MaxDecimalLength = 40

var (
	// ErrSyntax is returned for a string that is not an exact decimal.
	ErrSyntax = errors.New("not an exact decimal: want digits with an optional '.' and fraction, such as \"2.50\"")
	// ErrRange is returned for a value that does not fit where it must go.
	ErrRange = errors.New("out of range")
)

// ParseDecimal parses an exact decimal such as "2.00", "-0.008" or "15". Exponents,
// a leading '+', commas, spaces, a leading '.', a trailing '.', and leading zeros
// ("007") are refused: an amount of money has one spelling.
func ParseDecimal(s string) (*big.Rat, error) {
	if len(s) == 0 || len(s) > MaxDecimalLength {
		return nil, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	neg := false
	body := s
	if body[0] == '-' {
		neg, body = true, body[1:]
	}
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return nil, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	if len(intPart) > 1 && intPart[0] == '0' {
		return nil, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	num, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return nil, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	if neg {
		if num.Sign() == 0 {
			return nil, fmt.Errorf("%q: negative zero: %w", s, ErrSyntax)
		}
		num.Neg(num)
	}
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	return new(big.Rat).SetFrac(num, den), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatDecimal writes r with exactly scale decimal places. It fails when r cannot
// be written exactly with that many places: it never rounds silently.
func FormatDecimal(r *big.Rat, scale int) (string, error) {
	if scale < 0 || scale > 30 {
		return "", fmt.Errorf("scale %d: %w", scale, ErrRange)
	}
	pow := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(pow))
	if !scaled.IsInt() {
		return "", fmt.Errorf("%s has more than %d decimal places: %w", r.RatString(), scale, ErrRange)
	}
	return formatScaled(scaled.Num(), scale), nil
}

// FormatExact writes r with as few decimal places as it needs, such as "0.2" or
// "-1500"; it fails for values with no finite decimal expansion, such as 1/3.
func FormatExact(r *big.Rat) (string, error) {
	for scale := 0; scale <= 30; scale++ {
		if s, err := FormatDecimal(r, scale); err == nil {
			return s, nil
		}
	}
	return "", fmt.Errorf("%s has no exact decimal form within 30 places: %w", r.RatString(), ErrRange)
}

// formatScaled writes v × 10^-scale.
func formatScaled(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	digits := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

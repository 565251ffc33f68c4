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

// minorUnitExponents lists the ISO 4217 currencies whose minor unit is not the
// hundredth; every other well-formed code has two decimal places.
var minorUnitExponents = map[string]int{
	// No minor unit.
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
	"PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	// Thousandths.
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	// Ten-thousandths (units of account).
	"CLF": 4, "UYW": 4,
}

// iso4217 are the ISO 4217 currencies a network can settle in: the active codes
// of the standard's list one (2025), without the codes of precious metals,
// testing, special drawing rights and "no currency" (XAU, XTS, XDR, XXX, …). A
// well-formed code outside it (ZZZ) is refused rather than given two decimals.
var iso4217 = map[string]bool{
	"AED": true, "AFN": true, "ALL": true, "AMD": true, "ANG": true, "AOA": true, "ARS": true, "AUD": true, "AWG": true, "AZN": true, "BAM": true, "BBD": true,
	"BDT": true, "BGN": true, "BHD": true, "BIF": true, "BMD": true, "BND": true, "BOB": true, "BOV": true, "BRL": true, "BSD": true, "BTN": true, "BWP": true,
	"BYN": true, "BZD": true, "CAD": true, "CDF": true, "CHE": true, "CHF": true, "CHW": true, "CLF": true, "CLP": true, "CNY": true, "COP": true, "COU": true,
	"CRC": true, "CUP": true, "CVE": true, "CZK": true, "DJF": true, "DKK": true, "DOP": true, "DZD": true, "EGP": true, "ERN": true, "ETB": true, "EUR": true,
	"FJD": true, "FKP": true, "GBP": true, "GEL": true, "GHS": true, "GIP": true, "GMD": true, "GNF": true, "GTQ": true, "GYD": true, "HKD": true, "HNL": true,
	"HTG": true, "HUF": true, "IDR": true, "ILS": true, "INR": true, "IQD": true, "IRR": true, "ISK": true, "JMD": true, "JOD": true, "JPY": true, "KES": true,
	"KGS": true, "KHR": true, "KMF": true, "KPW": true, "KRW": true, "KWD": true, "KYD": true, "KZT": true, "LAK": true, "LBP": true, "LKR": true, "LRD": true,
	"LSL": true, "LYD": true, "MAD": true, "MDL": true, "MGA": true, "MKD": true, "MMK": true, "MNT": true, "MOP": true, "MRU": true, "MUR": true, "MVR": true,
	"MWK": true, "MXN": true, "MXV": true, "MYR": true, "MZN": true, "NAD": true, "NGN": true, "NIO": true, "NOK": true, "NPR": true, "NZD": true, "OMR": true,
	"PAB": true, "PEN": true, "PGK": true, "PHP": true, "PKR": true, "PLN": true, "PYG": true, "QAR": true, "RON": true, "RSD": true, "RUB": true, "RWF": true,
	"SAR": true, "SBD": true, "SCR": true, "SDG": true, "SEK": true, "SGD": true, "SHP": true, "SLE": true, "SLL": true, "SOS": true, "SRD": true, "SSP": true,
	"STN": true, "SVC": true, "SYP": true, "SZL": true, "THB": true, "TJS": true, "TMT": true, "TND": true, "TOP": true, "TRY": true, "TTD": true, "TWD": true,
	"TZS": true, "UAH": true, "UGX": true, "USD": true, "USN": true, "UYI": true, "UYU": true, "UYW": true, "UZS": true, "VED": true, "VES": true, "VND": true,
	"VUV": true, "WST": true, "XAF": true, "XCD": true, "XCG": true, "XOF": true, "XPF": true, "YER": true, "ZAR": true, "ZMW": true, "ZWG": true,
}

// Currency is an ISO 4217 currency with the number of decimal places of its minor
// unit: EUR has 2 (cents), JPY 0, KWD 3.
type Currency struct {
	Code     string
	Exponent int
}

// ParseCurrency checks an ISO 4217 code of three capital letters.
func ParseCurrency(code string) (Currency, error) {
	if len(code) != 3 {
		return Currency{}, fmt.Errorf("currency %q: want an ISO 4217 code of three capital letters, such as \"EUR\"", code)
	}
	for i := 0; i < 3; i++ {
		if code[i] < 'A' || code[i] > 'Z' {
			return Currency{}, fmt.Errorf("currency %q: want an ISO 4217 code of three capital letters, such as \"EUR\"", code)
		}
	}
	if !iso4217[code] {
		return Currency{}, fmt.Errorf("currency %q is not an ISO 4217 currency a network can settle in; write one such as \"EUR\", \"CHF\" or \"JPY\"", code)
	}
	exp, ok := minorUnitExponents[code]
	if !ok {
		exp = 2
	}
	return Currency{Code: code, Exponent: exp}, nil
}

// MustCurrency is ParseCurrency for codes known to be valid, such as constants.
func MustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

func (c Currency) String() string { return c.Code }

// minorPerMajor is 10^Exponent: 100 cents to the euro.
func (c Currency) minorPerMajor() *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(c.Exponent)), nil)
}

// ParseAmount parses an amount in the major unit, such as "2.00" EUR, into integer
// minor units (200). It refuses amounts with more decimal places than the currency
// has minor units ("2.005" EUR), and amounts beyond int64 minor units.
func (c Currency) ParseAmount(s string) (int64, error) {
	r, err := ParseDecimal(s)
	if err != nil {
		return 0, err
	}
	return c.MinorUnits(r)
}

// MinorUnits converts an exact amount in the major unit into integer minor units,
// failing when it is not a whole number of them or does not fit in int64.
func (c Currency) MinorUnits(major *big.Rat) (int64, error) {
	minor := new(big.Rat).Mul(major, new(big.Rat).SetInt(c.minorPerMajor()))
	if !minor.IsInt() {
		return 0, fmt.Errorf("%s %s has more than %d decimal places: %w", major.RatString(), c.Code, c.Exponent, ErrRange)
	}
	if !minor.Num().IsInt64() {
		return 0, fmt.Errorf("%s %s is beyond 64-bit minor units: %w", major.RatString(), c.Code, ErrRange)
	}
	return minor.Num().Int64(), nil
}

// Major converts integer minor units into the exact amount in the major unit.
func (c Currency) Major(minor int64) *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(minor), c.minorPerMajor())
}

// Format writes minor units as an amount in the major unit with exactly the
// currency's decimal places: 200 EUR cents is "2.00", 5 JPY is "5".
func (c Currency) Format(minor int64) string {
	return formatScaled(big.NewInt(minor), c.Exponent)
}

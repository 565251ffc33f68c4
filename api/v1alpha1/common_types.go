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

// The value types below carry exact numbers as strings. Each is checked by the API
// server with a CEL rule whose message says what a valid value looks like, so that a
// manifest with "2,00" or "1.5e2" is refused before any controller sees it.

// Decimal is a non-negative exact decimal number such as "1", "1.5" or "0.008".
// +kubebuilder:validation:MaxLength=19
// +kubebuilder:validation:XValidation:rule="self.matches('^(0|[1-9][0-9]{0,11})([.][0-9]{1,6})?$')",message="must be a non-negative decimal with a dot and at most 6 decimal places, such as \"1.5\" or \"0.008\""
type Decimal string

// MoneyAmount is a non-negative amount of money in the major unit of the program's
// currency, written as an exact decimal such as "2.00" or "1500". It may not have
// more decimal places than the currency has minor units.
// +kubebuilder:validation:MaxLength=19
// +kubebuilder:validation:XValidation:rule="self.matches('^(0|[1-9][0-9]{0,14})([.][0-9]{1,3})?$')",message="must be an amount of money in the currency's major unit with a dot and at most 3 decimal places, such as \"2.00\" or \"15\""
type MoneyAmount string

// PointPrice is the money value of one point in the major unit of the currency; it
// may be a fraction of a minor unit, such as "0.008" (0.8 cent) per point.
// +kubebuilder:validation:MaxLength=13
// +kubebuilder:validation:XValidation:rule="self.matches('^(0|[1-9][0-9]{0,5})([.][0-9]{1,6})?$')",message="must be a price per point in the currency's major unit with a dot and at most 6 decimal places, such as \"0.01\" or \"0.008\""
type PointPrice string

// Percent is a percentage from 0 to 100 with at most 4 decimal places, such as "5"
// or "2.5".
// +kubebuilder:validation:MaxLength=8
// +kubebuilder:validation:XValidation:rule="self.matches('^(100([.]0{1,4})?|[1-9]?[0-9]([.][0-9]{1,4})?)$')",message="must be a percentage from 0 to 100 with at most 4 decimal places, such as \"5\" or \"2.5\""
type Percent string

// Multiplier scales points, such as "2" for double points or "0.5" for half; "0"
// earns nothing.
// +kubebuilder:validation:MaxLength=8
// +kubebuilder:validation:XValidation:rule="self.matches('^(0|[1-9][0-9]{0,2})([.][0-9]{1,4})?$')",message="must be a multiplier from 0 to 999 with at most 4 decimal places, such as \"2\" or \"1.25\""
type Multiplier string

// Duration is an ISO 8601 duration such as "P14D", "P36M" or "P1Y6M". Months and
// years keep their calendar meaning: P1M after 31 January is the last day of
// February.
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:XValidation:rule="self.matches('^P([0-9]{1,4}Y)?([0-9]{1,4}M)?([0-9]{1,4}W)?([0-9]{1,5}D)?(T([0-9]{1,5}H)?([0-9]{1,5}M)?([0-9]{1,5}S)?)?$') && self != 'P' && !self.endsWith('T')",message="must be an ISO 8601 duration such as \"P14D\", \"P36M\" or \"PT12H\""
type Duration string

// CurrencyCode is an ISO 4217 alphabetic currency code such as "EUR". The list
// is internal/money's (a test keeps the two the same).
// +kubebuilder:validation:MinLength=3
// +kubebuilder:validation:MaxLength=3
// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Z]{3}$')",message="must be an ISO 4217 currency code of three capital letters, such as \"EUR\""
// +kubebuilder:validation:XValidation:rule="!self.matches('^[A-Z]{3}$') || self in ['AED','AFN','ALL','AMD','ANG','AOA','ARS','AUD','AWG','AZN','BAM','BBD','BDT','BGN','BHD','BIF','BMD','BND','BOB','BOV','BRL','BSD','BTN','BWP','BYN','BZD','CAD','CDF','CHE','CHF','CHW','CLF','CLP','CNY','COP','COU','CRC','CUP','CVE','CZK','DJF','DKK','DOP','DZD','EGP','ERN','ETB','EUR','FJD','FKP','GBP','GEL','GHS','GIP','GMD','GNF','GTQ','GYD','HKD','HNL','HTG','HUF','IDR','ILS','INR','IQD','IRR','ISK','JMD','JOD','JPY','KES','KGS','KHR','KMF','KPW','KRW','KWD','KYD','KZT','LAK','LBP','LKR','LRD','LSL','LYD','MAD','MDL','MGA','MKD','MMK','MNT','MOP','MRU','MUR','MVR','MWK','MXN','MXV','MYR','MZN','NAD','NGN','NIO','NOK','NPR','NZD','OMR','PAB','PEN','PGK','PHP','PKR','PLN','PYG','QAR','RON','RSD','RUB','RWF','SAR','SBD','SCR','SDG','SEK','SGD','SHP','SLE','SLL','SOS','SRD','SSP','STN','SVC','SYP','SZL','THB','TJS','TMT','TND','TOP','TRY','TTD','TWD','TZS','UAH','UGX','USD','USN','UYI','UYU','UYW','UZS','VED','VES','VND','VUV','WST','XAF','XCD','XCG','XOF','XPF','YER','ZAR','ZMW','ZWG']",message="must be an ISO 4217 currency a network can settle in, such as \"EUR\": not a precious metal, a test or \"no currency\" code (XAU, XTS, XXX), nor a code the standard does not list"
type CurrencyCode string

// TimeZone is an IANA time zone name such as "Europe/Berlin", or "UTC".
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:XValidation:rule="self == 'UTC' || self.matches('^[A-Za-z][A-Za-z_-]*(/[A-Za-z0-9_+-]+){1,2}$')",message="must be an IANA time zone name such as \"Europe/Berlin\", or \"UTC\""
type TimeZone string

// Category names a product category, such as "bakery" or "print".
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be lower-case letters, digits and '-', starting and ending with a letter or digit, such as \"bakery\""
type Category string

// RoundingMode says how an exact amount is rounded to whole points or minor units.
// +kubebuilder:validation:Enum=Floor;Ceiling;HalfUp;HalfEven
type RoundingMode string

const (
	// RoundingFloor rounds towards zero: 3.99 EUR at 1 point per 2.00 EUR earns 1.
	RoundingFloor RoundingMode = "Floor"
	// RoundingCeiling rounds away from zero.
	RoundingCeiling RoundingMode = "Ceiling"
	// RoundingHalfUp rounds to the nearest, halves away from zero.
	RoundingHalfUp RoundingMode = "HalfUp"
	// RoundingHalfEven rounds to the nearest, halves to the even neighbour
	// (banker's rounding), which does not drift over many totals.
	RoundingHalfEven RoundingMode = "HalfEven"
)

// LocalObjectReference names an object in the same namespace.
// +structType=atomic
type LocalObjectReference struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// NamespacedReference names an object that may live in another namespace.
// +structType=atomic
type NamespacedReference struct {
	// name of the referenced object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the referenced object; empty means the namespace of the object
	// that holds this reference.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a namespace name: lower-case letters, digits and '-'"
	Namespace string `json:"namespace,omitempty"`
}

// SecretKeyReference selects one key of a Secret in the same namespace.
// +structType=atomic
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

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

package accrualapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Idempotency records: a compatibility surface.
//
// Every write is made under a client's Idempotency-Key. The ledger keeps, with
// the write's entry, its fingerprint and its answer; a retry under the same key
// with the same request gets the stored answer back, and another request under
// that key is refused. A ledger keeps these records as long as its entries, so
// their format outlives any build:
//
//   - The fingerprint is Fingerprint(kind, record): the hex SHA-256 of the entry
//     kind, a NUL byte and the JSON of the request's record below. A record is the
//     wire body with the acting partner and nothing else: not the actor and key
//     (the fingerprint tells requests under one key apart), not what the service
//     adds from its configuration (a partner's default category), so that a retry
//     across a restart or an upgrade is the same request.
//   - The stored answer is the JSON of the route's result type (EnrollResult,
//     EarnResult, RedeemResult, ReverseResult, AdjustResult, ReferralCode), and a
//     replay answers with it unchanged.
//
// The records' JSON names, including the capitalised ones of LineRecord and
// BirthdayRecord, are those the first builds wrote. Changing any of them, or a
// result's JSON, changes what old records mean: it needs a migration of the
// stored records, never an edit. A test pins both, byte for byte.

// Fingerprint is the idempotency fingerprint of a write of kind with record.
func Fingerprint(kind string, record any) (string, error) {
	b, err := json.Marshal(record)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(kind+"\x00"), b...))
	return hex.EncodeToString(sum[:]), nil
}

// EnrollRecord is what the fingerprint of POST /v1/members covers.
type EnrollRecord struct {
	Member   string          `json:"member"`
	Birthday *BirthdayRecord `json:"birthday,omitempty"`
}

// BirthdayRecord is a birthday in an EnrollRecord.
type BirthdayRecord struct {
	Month int `json:"Month"`
	Day   int `json:"Day"`
}

// EarnRecord is what the fingerprint of POST /v1/earn covers.
type EarnRecord struct {
	Member       string       `json:"member"`
	Partner      string       `json:"partner"`
	Amount       int64        `json:"amount"`
	Currency     string       `json:"currency"`
	Lines        []LineRecord `json:"lines,omitempty"`
	ReferralCode string       `json:"referralCode,omitempty"`
}

// LineRecord is a purchase line in an EarnRecord.
type LineRecord struct {
	Amount   int64  `json:"Amount"`
	Category string `json:"Category"`
}

// RedeemRecord is what the fingerprint of POST /v1/redeem covers.
type RedeemRecord struct {
	Member  string `json:"member"`
	Partner string `json:"partner"`
	Points  int64  `json:"points"`
}

// ReverseRecord is what the fingerprint of POST /v1/reverse covers.
type ReverseRecord struct {
	Partner string `json:"partner"`
	EarnID  int64  `json:"earnId"`
	Amount  int64  `json:"amount"`
}

// AdjustRecord is what the fingerprint of POST /v1/adjust covers.
type AdjustRecord struct {
	Member string `json:"member"`
	Points int64  `json:"points"`
	Reason string `json:"reason"`
}

// IssueCodeRecord is what the fingerprint of POST /v1/referral-codes covers.
type IssueCodeRecord struct {
	Referral string `json:"referral"`
	Member   string `json:"member"`
}

// MembershipFeeRecord is what the fingerprint of POST /v1/memberships covers.
type MembershipFeeRecord struct {
	Member  string `json:"member"`
	Partner string `json:"partner"`
	Amount  int64  `json:"amount"`
}

// LapseRecord is what the fingerprint of POST /v1/memberships/lapse covers.
type LapseRecord struct {
	Member string `json:"member"`
	Refund bool   `json:"refund"`
}

// MarkRecord is what the fingerprint of POST /v1/settlement/mark and
// /v1/settlement/commissions/mark covers (Table: "entries" or "commissions").
type MarkRecord struct {
	Table      string  `json:"table"`
	Settlement string  `json:"settlement"`
	IDs        []int64 `json:"ids"`
}

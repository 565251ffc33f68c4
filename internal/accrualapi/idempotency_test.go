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
	"testing"
)

// The fingerprint is what the package documents: SHA-256 of the kind, a NUL and
// the record's JSON, with the record's names as the first builds wrote them.
// The value is the one internal/accrual's pin test finds stored for this
// purchase.
func TestFingerprintIsTheDocumentedHash(t *testing.T) {
	const body = `{"member":"anna","partner":"baeckerei-korn/baeckerei-korn","amount":1500,"currency":"EUR",` +
		`"lines":[{"Amount":1000,"Category":"bakery"},{"Amount":500,"Category":""}]}`
	sum := sha256.Sum256([]byte("earn\x00" + body))
	byHand := hex.EncodeToString(sum[:])
	got, err := Fingerprint(KindEarn, EarnRecord{Member: "anna", Partner: "baeckerei-korn/baeckerei-korn", Amount: 1500, Currency: "EUR",
		Lines: []LineRecord{{Amount: 1000, Category: "bakery"}, {Amount: 500}}})
	if err != nil {
		t.Fatal(err)
	}
	const pinned = "26dbf77a61a294ff90f06dd75101879110b009ad8d9765a5e121ef87c2c946d2"
	if got != byHand || got != pinned {
		t.Errorf("Fingerprint = %s, by hand %s, pinned %s", got, byHand, pinned)
	}
}

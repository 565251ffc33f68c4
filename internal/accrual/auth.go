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

package accrual

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Role is what a credential may do.
type Role string

// The roles.
const (
	// RolePartner earns, redeems, returns and issues codes as itself.
	RolePartner Role = "partner"
	// RoleAdmin enrolls, adjusts and reads anything.
	RoleAdmin Role = "admin"
	// RoleSettlement reads partners' entries and marks them settled.
	RoleSettlement Role = "settlement"
)

// Principal is who a request comes from.
type Principal struct {
	Role    Role
	Partner string // for RolePartner
}

func (p Principal) String() string {
	if p.Role == RolePartner {
		return "partner " + p.Partner
	}
	return string(p.Role)
}

// authenticate finds who holds the bearer token. Credentials are random API keys,
// so their SHA-256 is a safe thing to store; the comparison of hashes runs in
// constant time over every known credential, so timing tells nothing about which
// one nearly matched.
func authenticate(keys map[[32]byte]Principal, r *http.Request) (Principal, bool) {
	header := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" || len(token) > 512 {
		return Principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	var found Principal
	match := 0
	for k, p := range keys {
		if subtle.ConstantTimeCompare(k[:], sum[:]) == 1 {
			found, match = p, 1
		}
	}
	return found, match == 1
}

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

package controllers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// A partner's credentials: its API key, in a Secret of its own namespace, and the
// key's hash, which alone reaches the program's accrual service.

// credentialsSecretName is the Secret, in the partner's namespace, with its API
// key for one program.
func credentialsSecretName(partner, programNamespace, program string) string {
	name := partner + "-" + programNamespace + "-" + program + "-credentials"
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return partner[:min(len(partner), 200)] + "-" + hex.EncodeToString(sum[:])[:16] + "-credentials"
}

// newAPIKey is a random credential; only its SHA-256 reaches the service.
func newAPIKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "tk_" + base64.RawURLEncoding.EncodeToString(b), nil
}

func keyHash(key []byte) []byte {
	sum := sha256.Sum256(key)
	return []byte(hex.EncodeToString(sum[:]))
}

// accrualEndpoint is the in-cluster URL of a program's accrual service.
func accrualEndpoint(program *loyaltyv1alpha1.LoyaltyProgram) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", accrualName(program), program.Namespace, apiPort)
}

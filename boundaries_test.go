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

package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The packages' boundaries, as their doc.go files state them, over everything
// each package pulls in (lint's depguard sees direct imports only).
func TestBoundaries(t *testing.T) {
	const module = "github.com/treue-dev/treue/"
	deps := func(pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	// The operator and the settlement job reach the ledger through the accrual
	// service's API, never its tables or its process.
	for _, pkg := range []string{"controllers", "internal/settlement/job"} {
		for _, d := range deps(pkg) {
			if d == module+"internal/ledger" || d == module+"internal/accrual" {
				t.Errorf("%s depends on %s: use internal/accrualapi", pkg, d)
			}
		}
	}
	// The data plane never knows Kubernetes; the pure core knows only the
	// standard library and itself.
	pure := map[string]bool{"internal/rules": true, "internal/money": true, "internal/period": true,
		"internal/settlement": true, "internal/accrualapi": true}
	for _, pkg := range []string{"internal/rules", "internal/money", "internal/period", "internal/settlement", "internal/accrualapi",
		"internal/ledger", "internal/accrual"} {
		for _, d := range deps(pkg) {
			if strings.HasPrefix(d, "k8s.io/") || strings.HasPrefix(d, "sigs.k8s.io/") {
				t.Errorf("%s depends on %s: it must not know Kubernetes", pkg, d)
			}
			if pure[pkg] && !pure[strings.TrimPrefix(d, module)] {
				t.Errorf("%s depends on %s: it may import only the standard library and the pure packages", pkg, d)
			}
		}
	}
}

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

// Package testbin serves tests: the real treue binary run as a process, and the
// event schemas docs/events publishes.
package testbin

import (
	"net"
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildTreue builds the treue binary into the test's temporary directory. It is
// built with the test's own settings, so that the test's build cache serves it.
func BuildTreue(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "treue")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/treue-dev/treue").CombinedOutput(); err != nil {
		t.Fatalf("building treue: %v\n%s", err, out)
	}
	return bin
}

// FreeAddr is a loopback address with a port nothing listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

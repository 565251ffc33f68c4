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
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/treue-dev/treue/internal/version"
)

func TestRunDispatchesSubcommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "version", args: []string{"version"}, wantCode: exitOK, wantStdout: version.Version + "\n"},
		{name: "help", args: []string{"help"}, wantCode: exitOK, wantStdout: "Commands:"},
		{name: "accrual without its configuration", args: []string{"accrual", "--config", "/nonexistent/accrual.json"}, wantCode: exitUsage,
			wantStderr: "bad configuration"},
		{name: "settle needs a cooperation", args: []string{"settle", "--cooperation", "name"}, wantCode: exitUsage, wantStderr: "give --cooperation NAMESPACE/NAME"},
		{name: "settle needs the token", args: []string{"settle", "--cooperation", "ns/name", "--token-file", "/nonexistent/token"}, wantCode: exitUsage,
			wantStderr: "reading the settlement token"},
		{name: "unknown command", args: []string{"sttle"}, wantCode: exitUsage, wantStderr: "unknown command \"sttle\""},
		{name: "manager flag typo", args: []string{"manager", "--leader-elct"}, wantCode: exitUsage, wantStderr: "flag provided but not defined: -leader-elct"},
		{name: "flags without a command go to the manager", args: []string{"--no-such-flag"}, wantCode: exitUsage, wantStderr: "Usage of treue manager"},
		{name: "manager help", args: []string{"manager", "-h"}, wantCode: exitOK, wantStderr: "-leader-elect"},
		{name: "manager takes no arguments", args: []string{"manager", "extra"}, wantCode: exitUsage, wantStderr: "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d; stderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("run(%q) stdout = %q, want it to contain %q", tt.args, stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q", tt.args, stderr.String(), tt.wantStderr)
			}
		})
	}
}

// The image holds nothing but the binary, so the binary must carry the time zone
// database: without it, a program in Europe/Berlin cannot run (seen on a real node).
func TestTheBinaryCarriesTimeZones(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/treue-dev/treue").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(out)), "time/tzdata") {
		t.Error("treue does not link time/tzdata; import it in main.go")
	}
}

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
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/rules"
)

// Loaded is a checked configuration with its secrets read.
type Loaded struct {
	Config    accrualapi.Config
	Program   *rules.Program
	Referrals map[string]*rules.Referral
	// Keys maps the SHA-256 of every credential to who holds it.
	Keys map[[32]byte]Principal
	// Partners by ID.
	Partners map[string]accrualapi.PartnerConfig
	// LedgerDSN is the SQLite path or the PostgreSQL DSN.
	LedgerDSN string
	// Events are the program's sinks; nil when it sends no events.
	Events *LoadedEvents
}

var (
	partnerID = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	fileName  = regexp.MustCompile(`^[A-Za-z0-9][-A-Za-z0-9_.]{0,200}$`)
)

// LoadConfig reads and checks the configuration file and the secrets it names.
// Every error names the field (or secret file) that is wrong.
func LoadConfig(path, secretsDir string) (*Loaded, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var c accrualapi.Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return load(c, secretsDir)
}

func load(c accrualapi.Config, secretsDir string) (*Loaded, error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.APIVersion != accrualapi.ConfigVersion {
		fail("apiVersion", "%q: this build reads %q", c.APIVersion, accrualapi.ConfigVersion)
	}
	if c.Program == "" {
		fail("program", "is empty: want the program's namespace/name")
	}
	l := &Loaded{Config: c, Referrals: map[string]*rules.Referral{}, Keys: map[[32]byte]Principal{}, Partners: map[string]accrualapi.PartnerConfig{}}
	program, err := rules.Compile(c.Rules)
	if err != nil {
		fail("rules", "%v", err)
	}
	l.Program = program
	readHash := func(field, name string, who Principal) {
		if !fileName.MatchString(name) {
			fail(field, "%q is not a file name in the secrets directory", name)
			return
		}
		b, err := os.ReadFile(filepath.Join(secretsDir, name))
		if err != nil {
			fail(field, "reading secret %s: %v", name, err)
			return
		}
		sum, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(sum) != 32 {
			fail(field, "secret %s does not hold a hex SHA-256", name)
			return
		}
		key := [32]byte(sum)
		if other, dup := l.Keys[key]; dup {
			fail(field, "secret %s holds the same credential as %s", name, other)
			return
		}
		l.Keys[key] = who
	}
	for i, p := range c.Partners {
		field := fmt.Sprintf("partners[%d]", i)
		if !partnerID.MatchString(p.ID) {
			fail(field+".id", "%q is not namespace/name", p.ID)
			continue
		}
		if _, dup := l.Partners[p.ID]; dup {
			fail(field+".id", "%q is listed twice", p.ID)
			continue
		}
		l.Partners[p.ID] = p
		readHash(field+".keyHashFile", p.KeyHashFile, Principal{Role: RolePartner, Partner: p.ID})
	}
	readHash("secrets", accrualapi.AdminTokenHashFile, Principal{Role: RoleAdmin})
	readHash("secrets", accrualapi.SettlementTokenHashFile, Principal{Role: RoleSettlement})
	if program != nil {
		for i, rc := range c.Referrals {
			r, err := rules.CompileReferral(program.Currency, rc)
			if err != nil {
				fail(fmt.Sprintf("referrals[%d]", i), "%v", err)
				continue
			}
			l.Referrals[r.ID] = r
		}
	}
	switch c.Ledger.Backend {
	case accrualapi.SQLite:
		if c.Ledger.Path == "" {
			fail("ledger.path", "the sqlite ledger needs the path of its file")
		}
		l.LedgerDSN = c.Ledger.Path
	case accrualapi.PostgreSQL:
		if !fileName.MatchString(c.Ledger.DSNFile) {
			fail("ledger.dsnFile", "%q is not a file name in the secrets directory", c.Ledger.DSNFile)
			break
		}
		b, err := os.ReadFile(filepath.Join(secretsDir, c.Ledger.DSNFile))
		if err != nil || strings.TrimSpace(string(b)) == "" {
			fail("ledger.dsnFile", "reading secret %s: the PostgreSQL DSN is missing or empty", c.Ledger.DSNFile)
			break
		}
		l.LedgerDSN = strings.TrimSpace(string(b))
	default:
		fail("ledger.backend", "%q: want sqlite or postgres", c.Ledger.Backend)
	}
	if c.Events != nil {
		l.Events = loadEvents(*c.Events, secretsDir, l.Partners, fail)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return l, nil
}

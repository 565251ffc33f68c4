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

package testbin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EventSchemas compiles the JSON Schemas docs/events publishes for the data
// of each event type, and returns a check of one event's data against its
// type's schema.
func EventSchemas(t testing.TB, types []string) func(typ string, data []byte) error {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "docs", "events")
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schemas := map[string]*jsonschema.Schema{}
	for _, typ := range types {
		s, err := c.Compile(filepath.Join(dir, typ+".schema.json"))
		if err != nil {
			t.Fatalf("the schema of %s: %v", typ, err)
		}
		schemas[typ] = s
	}
	return func(typ string, data []byte) error {
		s, ok := schemas[typ]
		if !ok {
			return fmt.Errorf("no schema for event type %q", typ)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return err
		}
		if err := s.Validate(v); err != nil {
			return fmt.Errorf("the data of %s does not match docs/events/%s.schema.json: %w", typ, typ, err)
		}
		return nil
	}
}

// EventExample reads docs/events/<type>.example.json.
func EventExample(t testing.TB, typ string) map[string]json.RawMessage {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	var out map[string]json.RawMessage
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "docs", "events", typ+".example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("the example of %s: %v", typ, err)
	}
	return out
}

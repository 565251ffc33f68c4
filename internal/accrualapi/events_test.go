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

package accrualapi_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/testbin"
)

// Every event type has a schema and an example in docs/events, the example's
// data matches the schema, and the README names the type and links both.
func TestEveryEventTypeIsDocumented(t *testing.T) {
	check := testbin.EventSchemas(t, accrualapi.EventTypes)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(accrualapi.EventData) != len(accrualapi.EventTypes) {
		t.Fatalf("%d types have data, %d are listed", len(accrualapi.EventData), len(accrualapi.EventTypes))
	}
	for _, typ := range accrualapi.EventTypes {
		ex := testbin.EventExample(t, typ)
		var gotType string
		if err := json.Unmarshal(ex["type"], &gotType); err != nil || gotType != typ {
			t.Errorf("the example of %s has type %s", typ, ex["type"])
		}
		if err := check(typ, ex["data"]); err != nil {
			t.Error(err)
		}
		if !strings.Contains(string(readme), "docs/events/"+typ+".example.json") {
			t.Errorf("the README does not link the example of %s", typ)
		}
	}
	// The schemas are strict: an unknown field or a string amount is refused.
	if err := check(accrualapi.EventPointsEarned, []byte(`{"entry": {"id": 1, "kind": "earn", "member": "anna", "createdAt": "2026-11-20T09:30:00Z",
		"points": 12, "amount": 2480, "colour": "red"}, "result": {"entryId": 1, "points": 12, "discount": 0, "amountDue": 2480,
		"pendingUntil": "2026-12-04T09:30:00Z"}}`)); err == nil {
		t.Error("the schema of points.earned took an unknown field")
	}
	if err := check(accrualapi.EventCommissionAccrued, []byte(`{"commission": {"id": 1, "kind": "accrual", "referral": "a/b",
		"referrer": "a/c", "referee": "a/d", "micros": "285000000", "dueAt": "2026-12-04T09:30:00Z", "earnId": 4}}`)); err == nil {
		t.Error("the schema of commission.accrued took a string amount")
	}
}

// A sink's types filter (the CRDs' enum) names exactly the types the service
// emits, in the same order.
func TestTheCRDsNameEveryEventType(t *testing.T) {
	for _, crd := range []string{"loyalty.treue.dev_partners.yaml", "loyalty.treue.dev_loyaltyprograms.yaml"} {
		b, err := os.ReadFile("../../config/crd/bases/" + crd)
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for line := range strings.Lines(string(b)) {
			if item, ok := strings.CutPrefix(strings.TrimSpace(line), "- dev.treue."); ok {
				listed = append(listed, "dev.treue."+item)
			}
		}
		if strings.Join(listed, " ") != strings.Join(accrualapi.EventTypes, " ") {
			t.Errorf("%s lists the types %q, the service emits %q", crd, listed, accrualapi.EventTypes)
		}
	}
}

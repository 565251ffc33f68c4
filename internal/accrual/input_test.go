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
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/ledger"
)

// Hostile text is refused the same way on both backends, with a 400 that names
// the field, before the ledger sees it (issue 16): PostgreSQL answered 500 to a NUL
// byte or invalid UTF-8 and SQLite stored them (invalid UTF-8 replaced, so the id
// stored differed from the one sent); duplicate names were decoded last-wins, and
// a name differing only in case matched.
func TestHostileInputIsRefusedOnEveryBackend(t *testing.T) {
	for _, backend := range []ledger.Backend{ledger.SQLite, ledger.PostgreSQL} {
		t.Run(string(backend), func(t *testing.T) {
			f := newFixtureOn(t, nil, backend)
			f.expect(f.call("POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"}), http.StatusOK)
			long := strings.Repeat("x", 60<<10)
			tests := []struct {
				name, method, path, who, body, detail string
			}{
				{"a NUL in a member id", "POST", "/v1/earn", baecker, `{"member": "an\u0000na", "amount": 500, "currency": "EUR"}`, `field "member"`},
				{"invalid UTF-8 in a member id", "POST", "/v1/earn", baecker, "{\"member\": \"an\xffna\", \"amount\": 500, \"currency\": \"EUR\"}", `field "member": invalid UTF-8`},
				{"a lone surrogate", "POST", "/v1/members", baecker, `{"member": "\ud800"}`, `field "member"`},
				{"a bidi override in a code", "POST", "/v1/earn", baecker, `{"member": "anna", "amount": 500, "currency": "EUR", "referralCode": "REF-\u202eX"}`, `field "referralCode"`},
				{"a control character in a category", "POST", "/v1/earn", baecker, `{"member": "anna", "amount": 500, "currency": "EUR", "lines": [{"amount": 500, "category": "b\u0007"}]}`, `field "lines[0].category"`},
				{"a NUL in a reason", "POST", "/v1/adjust", "admin", `{"member": "anna", "points": 5, "reason": "goodwill\u0000"}`, `field "reason"`},
				{"a reason of 2,000 bytes", "POST", "/v1/adjust", "admin", `{"member": "anna", "points": 5, "reason": "` + strings.Repeat("r", 2000) + `"}`, `field "reason": 2000 bytes, at most 1000`},
				{"a member id of 201 bytes", "POST", "/v1/members", baecker, `{"member": "` + strings.Repeat("m", 201) + `"}`, `field "member": 201 bytes`},
				{"a 60 KB settlement id", "POST", "/v1/settlement/mark", "settlement", `{"settlement": "` + long[:60000] + `", "entryIds": [1]}`, `field "settlement"`},
				{"a NUL in a settlement id", "POST", "/v1/settlement/mark", "settlement", `{"settlement": "s\u0000", "entryIds": [1]}`, `field "settlement"`},
				{"a NUL in the path", "GET", "/v1/members/an%00na", baecker, "", `field "path"`},
				{"invalid UTF-8 in the path", "GET", "/v1/referral-codes/REF-%FF", baecker, "", `field "path"`},
				{"a NUL in the query", "GET", "/v1/settlement/entries?partner=x%00&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", "settlement", "", `field "partner"`},
				{"a duplicate name", "POST", "/v1/redeem", baecker, `{"member": "anna", "points": 10, "points": 1000}`, `field "points": it appears more than once`},
				{"a name in another case", "POST", "/v1/redeem", baecker, `{"member": "anna", "Points": 10}`, `unknown field "Points"`},
				{"null for the body", "POST", "/v1/redeem", baecker, `null`, "not a JSON object"},
				{"an array for the body", "POST", "/v1/redeem", baecker, `[]`, "not a JSON object"},
			}
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					f.t = t
					var body any
					if tt.body != "" {
						body = tt.body
					}
					r := f.expect(f.call(tt.method, tt.path, tt.who, "hostile-"+string(rune('a'+i)), body), http.StatusBadRequest)
					if d, _ := r.body["detail"].(string); !strings.Contains(d, tt.detail) {
						t.Errorf("detail %q does not say %q", d, tt.detail)
					}
				})
			}
			f.t = t
			// An Idempotency-Key that is not text.
			f.expect(f.call("POST", "/v1/redeem", baecker, "key\xff", map[string]any{"member": "anna", "points": 10}), http.StatusBadRequest)
			// The media type exactly.
			for ct, status := range map[string]int{
				"":                                 http.StatusUnsupportedMediaType,
				"application/jsonx":                http.StatusUnsupportedMediaType,
				"application/json-patch+json":      http.StatusUnsupportedMediaType,
				"text/plain":                       http.StatusUnsupportedMediaType,
				"application/json; charset=latin1": http.StatusUnsupportedMediaType,
				"application/json; charset=UTF-8":  http.StatusUnprocessableEntity, // accepted as JSON: anna has 50 points, not 1,000
			} {
				req, _ := http.NewRequest("POST", f.url+"/v1/redeem", strings.NewReader(`{"member": "anna", "points": 1000}`))
				req.Header.Set("Authorization", "Bearer "+f.keys[baecker])
				req.Header.Set("Idempotency-Key", "ct-"+ct)
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = res.Body.Close()
				if res.StatusCode != status {
					t.Errorf("Content-Type %q: %d, want %d", ct, res.StatusCode, status)
				}
			}
			// None of it reached the ledger: anna has her signup bonus only.
			entries, _, err := f.ledger.History(context.Background(), "anna", 0, 100)
			if err != nil || len(entries) != 1 {
				t.Fatalf("history after refused requests: %+v, %v", entries, err)
			}
			if strings.Contains(f.logs.String(), `"level":"ERROR"`) {
				t.Fatalf("a refused request was logged as a server error:\n%s", f.logs.String())
			}
		})
	}
}

// fuzzDecoder is the property every request decoder holds: it never panics and
// refuses with a 4xx, never a 5xx; what it accepts holds only text (valid UTF-8,
// no control or bidi characters, within its bound) and survives being written and
// read again unchanged; a body with a name twice is never accepted.
func fuzzDecoder[T any](f *testing.F, seeds ...string) {
	for _, s := range append(seeds, `[]`, `null`, `{} {}`, `{"x": 1}`, `{"member": "a\u0000"}`, "{\"member\": \"\xff\"}") {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req T
		err := decodeJSON(bytes.NewReader(data), &req)
		if err != nil {
			if st := classify(err).status; st < 400 || st >= 500 {
				t.Fatalf("decoding %q: refused with %d: %v", data, st, err)
			}
			return
		}
		if err := checkStrings(reflect.ValueOf(&req), ""); err != nil {
			t.Fatalf("accepted %q with a string that is not text: %v", data, err)
		}
		if dup := duplicateName(data); dup != "" {
			t.Fatalf("accepted %q, which has %q twice", data, dup)
		}
		again, _ := json.Marshal(req)
		var back T
		if err := decodeJSON(bytes.NewReader(again), &back); err != nil {
			t.Fatalf("re-decoding %s: %v", again, err)
		}
		if a, b := mustJSON(req), mustJSON(back); a != b {
			t.Fatalf("%s became %s", a, b)
		}
	})
}

// duplicateName is a member name that appears twice in one object of data, read
// with encoding/json's tokenizer (which allows duplicates), or "".
func duplicateName(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	type object struct {
		seen map[string]bool
		key  bool // the next string token is a name
	}
	var stack []*object
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.key {
			if name, ok := tok.(string); ok {
				if top.seen[name] {
					return name
				}
				top.seen[name] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{seen: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &object{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a name comes next.
		if len(stack) > 0 && stack[len(stack)-1].seen != nil {
			stack[len(stack)-1].key = true
		}
	}
}

func FuzzDecodeEnroll(f *testing.F) {
	fuzzDecoder[accrualapi.EnrollRequest](f, `{"member": "anna", "birthday": "05-04"}`, `{"member": "anna", "member": "ben"}`)
}

func FuzzDecodeEarn(f *testing.F) {
	fuzzDecoder[accrualapi.EarnRequest](f, `{"member": "anna", "amount": 100, "currency": "EUR"}`,
		`{"member": "anna", "amount": 100, "currency": "EUR", "lines": [{"amount": 100, "category": "bakery"}]}`,
		`{"amount": 1e30}`, `{"amount": "1"}`, `{"points": 1}`, `{"amount": 1, "Amount": 2}`)
}

func FuzzDecodeRedeem(f *testing.F) {
	fuzzDecoder[accrualapi.RedeemRequest](f, `{"member": "anna", "points": 5}`, `{"member": "anna", "points": 100, "points": 1000}`)
}

func FuzzDecodeReverse(f *testing.F) {
	fuzzDecoder[accrualapi.ReverseRequest](f, `{"earnId": 1, "amount": 100}`, `{"earnId": 1, "amount": 9223372036854775808}`)
}

func FuzzDecodeAdjust(f *testing.F) {
	fuzzDecoder[accrualapi.AdjustRequest](f, `{"member": "anna", "points": -5, "reason": "x"}`, `{"member": "anna", "points": 5, "reason": "\u202e"}`)
}

func FuzzDecodeIssueCode(f *testing.F) {
	fuzzDecoder[accrualapi.IssueCodeRequest](f, `{"referral": "a/b", "member": "anna"}`)
}

func FuzzDecodeMark(f *testing.F) {
	fuzzDecoder[accrualapi.MarkRequest](f, `{"settlement": "s1", "entryIds": [1, 2, 3]}`, `{"entryIds": [1e99]}`)
}

func FuzzDecodeMarkCommissions(f *testing.F) {
	fuzzDecoder[accrualapi.MarkCommissionsRequest](f, `{"settlement": "s1", "commissionIds": [1]}`)
}

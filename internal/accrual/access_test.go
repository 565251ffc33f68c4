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
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// The access model, cell by cell: the README's table of role × route × fields
// (issue 16). Anna is enrolled at the bakery, buys there, redeems at the printer,
// returns at the bakery and gets an adjustment from the admin; the agency (the
// referrer) issued her a code for purchases at the printer (the referee).
func TestEachPartnerSeesItsOwnShare(t *testing.T) {
	f := newFixture(t)
	code := clientWrites(t, f)
	roles := []string{baecker, drucker, grafik, "admin", "settlement"}
	period := "&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z"

	// Route × role: the status each role gets.
	statuses := []struct {
		method, path string
		want         map[string]int
	}{
		{"GET", "/v1/members/anna", map[string]int{baecker: 200, drucker: 200, grafik: 200, "admin": 200, "settlement": 403}},
		{"GET", "/v1/members/anna/history", map[string]int{baecker: 200, drucker: 200, grafik: 200, "admin": 200, "settlement": 403}},
		{"GET", "/v1/referral-codes/" + code, map[string]int{baecker: 404, drucker: 200, grafik: 200, "admin": 200, "settlement": 403}},
		{"GET", "/v1/settlement/entries?partner=" + url.QueryEscape(baecker) + period, map[string]int{baecker: 403, drucker: 403, grafik: 403, "admin": 403, "settlement": 200}},
		{"GET", "/v1/settlement/commissions?partner=" + url.QueryEscape(drucker) + period, map[string]int{baecker: 403, drucker: 403, grafik: 403, "admin": 403, "settlement": 200}},
		{"GET", "/v1/stats", map[string]int{baecker: 403, drucker: 403, grafik: 403, "admin": 200, "settlement": 200}},
		{"POST", "/v1/adjust", map[string]int{baecker: 403, drucker: 403, grafik: 403, "settlement": 403}},
		{"POST", "/v1/earn", map[string]int{"admin": 403, "settlement": 403}},
		{"POST", "/v1/settlement/mark", map[string]int{baecker: 403, drucker: 403, grafik: 403, "admin": 403}},
		{"POST", "/v1/settlement/events", map[string]int{baecker: 403, drucker: 403, grafik: 403, "admin": 403}},
		{"GET", "/v1/events/sinks", map[string]int{baecker: 403, drucker: 403, grafik: 403, "admin": 200, "settlement": 403}},
		{"GET", "/v1/events/sinks/shop/dead", map[string]int{baecker: 403, drucker: 403, grafik: 403, "settlement": 403}},
		{"POST", "/v1/events/sinks/shop/replay", map[string]int{baecker: 403, drucker: 403, grafik: 403, "settlement": 403}},
	}
	for _, c := range statuses {
		for _, who := range roles {
			want, ok := c.want[who]
			if !ok {
				continue
			}
			t.Run(c.method+" "+c.path+" as "+who, func(t *testing.T) {
				f.t = t
				var body any
				if c.method == "POST" {
					body = map[string]any{}
				}
				f.expect(f.call(c.method, c.path, who, "k", body), want)
			})
		}
	}
	f.t = t

	// The fields: a partner's history holds only its own tills' entries.
	kinds := func(who string) []string {
		r := f.expect(f.call("GET", "/v1/members/anna/history", who, "", nil), http.StatusOK)
		entries := r.body["entries"].([]any)
		out := make([]string, 0, len(entries))
		for _, e := range entries {
			e := e.(map[string]any)
			if who != "admin" && e["partner"] != who {
				t.Fatalf("%s read an entry of %v: %v", who, e["partner"], e)
			}
			out = append(out, e["kind"].(string))
		}
		return out
	}
	for who, want := range map[string][]string{
		baecker: {"reverse", "earn"}, drucker: {"redeem"}, grafik: nil,
		"admin": {"adjust", "reverse", "redeem", "earn", "signup_bonus"},
	} {
		if got := kinds(who); !slices.Equal(got, want) {
			t.Errorf("%s reads anna's history as %v, want %v", who, got, want)
		}
	}
	// A till reads what it needs to serve the member, whoever served her before.
	m := f.expect(f.call("GET", "/v1/members/anna", grafik, "", nil), http.StatusOK)
	if b := m.body["balance"].(map[string]any); b["available"].(float64) != 50-20+7 {
		t.Errorf("the agency reads anna's balance as %v", b)
	}
	if _, ok := m.body["tier"].(map[string]any); !ok {
		t.Errorf("the agency reads no tier: %s", m.raw)
	}
	// The referee checks a code without learning whose customer it was issued to;
	// the referrer and the admin see the owner.
	for who, owner := range map[string]string{drucker: "", grafik: "anna", "admin": "anna"} {
		r := f.expect(f.call("GET", "/v1/referral-codes/"+code, who, "", nil), http.StatusOK)
		if r.body["owner"] != owner {
			t.Errorf("%s reads the code's owner as %q, want %q", who, r.body["owner"], owner)
		}
	}
	// A partner cannot return another partner's purchase.
	hist := f.expect(f.call("GET", "/v1/members/anna/history", baecker, "", nil), http.StatusOK)
	earnID := hist.body["entries"].([]any)[1].(map[string]any)["id"]
	f.expect(f.call("POST", "/v1/reverse", drucker, "steal", map[string]any{"earnId": earnID, "amount": 1}), http.StatusForbidden)
}

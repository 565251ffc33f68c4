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
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/treue-dev/treue/internal/accrualapi"
)

// The typed client of internal/accrualapi against the real service: every route
// it calls answers into its types, replays say so, and an error carries the
// service's problem document.
func TestTheTypedClientSpeaksToTheService(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	code := clientWrites(t, f)
	bakery, printer := f.client(baecker), f.client(drucker)
	if looked, err := printer.LookupCode(ctx, code); err != nil || looked.Referral != referral {
		t.Fatalf("LookupCode: %+v, %v", looked, err)
	}
	member, err := bakery.Member(ctx, "anna", 7)
	if err != nil || member.Member != "anna" || member.Balance.Available != 50-20+7 {
		t.Fatalf("Member: %+v, %v", member, err)
	}
	admin := f.client("admin")
	page, err := admin.History(ctx, "anna", 0, 2)
	if err != nil || len(page.Entries) != 2 || page.Next == 0 || page.Entries[0].Kind != accrualapi.KindAdjust {
		t.Fatalf("History: %+v, %v", page, err)
	}
	rest, err := admin.History(ctx, "anna", page.Next, 100)
	if err != nil || len(rest.Entries) != 3 || rest.Next != 0 {
		t.Fatalf("History after %d: %+v, %v", page.Next, rest, err)
	}
	// A partner reads only the entries of its own tills.
	own, err := bakery.History(ctx, "anna", 0, 100)
	if err != nil || len(own.Entries) == 0 {
		t.Fatalf("the bakery's history: %+v, %v", own, err)
	}
	for _, e := range own.Entries {
		if e.Partner != baecker {
			t.Fatalf("the bakery read an entry of %q: %+v", e.Partner, e)
		}
	}
	stats, err := f.client("admin").Stats(ctx)
	if err != nil || stats.Members != 1 || stats.Referrals[referral].CodesIssued != 1 {
		t.Fatalf("Stats: %+v, %v", stats, err)
	}

	// An error is the service's problem, typed.
	_, _, err = printer.Redeem(ctx, "t4", accrualapi.RedeemRequest{Member: "nobody", Points: 20})
	var apiErr *accrualapi.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Problem.Type == "" || apiErr.Problem.Detail == "" {
		t.Fatalf("a redemption for nobody: %v", err)
	}
	if _, err := (&accrualapi.Client{Endpoint: f.url, Token: "wrong"}).Stats(ctx); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("a wrong token: %v", err)
	}
}

// client is the typed client with who's credential (the endpoint with a
// trailing slash, which the client must take as well).
func (f *fixture) client(who string) *accrualapi.Client {
	return &accrualapi.Client{Endpoint: f.url + "/", Token: f.keys[who]}
}

// clientWrites makes every write the client has, checks each answer, and
// returns the referral code it issued.
func clientWrites(t *testing.T, f *fixture) string {
	t.Helper()
	ctx := context.Background()
	bakery, printer, agency := f.client(baecker), f.client(drucker), f.client(grafik)

	enrolled, replayed, err := bakery.Enroll(ctx, "e-anna", accrualapi.EnrollRequest{Member: "anna", Birthday: "05-04"})
	if err != nil || !enrolled.Created || enrolled.SignupBonus != 50 || replayed {
		t.Fatalf("Enroll: %+v, replayed %v, %v", enrolled, replayed, err)
	}
	earned, _, err := bakery.Earn(ctx, "t1", accrualapi.EarnRequest{Member: "anna", Amount: 1000, Currency: "EUR",
		Lines: []accrualapi.Line{{Amount: 1000, Category: "bakery"}}})
	if err != nil || earned.Points != 5 || earned.AmountDue != 1000 {
		t.Fatalf("Earn: %+v, %v", earned, err)
	}
	again, replayed, err := bakery.Earn(ctx, "t1", accrualapi.EarnRequest{Member: "anna", Amount: 1000, Currency: "EUR",
		Lines: []accrualapi.Line{{Amount: 1000, Category: "bakery"}}})
	if err != nil || !replayed || again.EntryID != earned.EntryID {
		t.Fatalf("the retried Earn: %+v, replayed %v, %v", again, replayed, err)
	}
	redeemed, _, err := printer.Redeem(ctx, "t2", accrualapi.RedeemRequest{Member: "anna", Points: 20})
	if err != nil || redeemed.Points != 20 || redeemed.Value != 20 {
		t.Fatalf("Redeem: %+v, %v", redeemed, err)
	}
	returned, _, err := bakery.Reverse(ctx, "t3", accrualapi.ReverseRequest{EarnID: earned.EntryID, Amount: 1000})
	if err != nil || returned.Points != 5 || returned.ClawedBack != 5 {
		t.Fatalf("Reverse: %+v, %v", returned, err)
	}
	adjusted, _, err := f.client("admin").Adjust(ctx, "a1", accrualapi.AdjustRequest{Member: "anna", Points: 7, Reason: "goodwill"})
	if err != nil || adjusted.Points != 7 {
		t.Fatalf("Adjust: %+v, %v", adjusted, err)
	}
	code, _, err := agency.IssueCode(ctx, "c1", accrualapi.IssueCodeRequest{Referral: referral, Member: "anna"})
	if err != nil || code.Owner != "anna" {
		t.Fatalf("IssueCode: %+v, %v", code, err)
	}
	return code.Code
}

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

package job

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/settlement"
	"github.com/treue-dev/treue/internal/testbin"
)

const (
	fischhaus = "fischhaus/fischhaus"
	reederei  = "reederei/reederei"
)

// startAccrualProcess runs `treue accrual` for a program as its own process.
func startAccrualProcess(t *testing.T, bin, program string, partners []string, referrals bool) *accrualService {
	t.Helper()
	dir, keys := accrualConfig(t, program, partners, referrals)
	addr := testbin.FreeAddr(t)
	logs, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "accrual", "--config", filepath.Join(dir, "accrual.json"), "--secrets-dir", dir,
		"--listen", addr, "--metrics-listen", testbin.FreeAddr(t), "--sweep-interval", "0")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait(); _ = logs.Close() })
	for deadline := time.Now().Add(30 * time.Second); ; {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			raw, _ := os.ReadFile(logs.Name())
			t.Fatalf("%s did not get ready:\n%s", program, raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &accrualService{url: "http://" + addr, keys: keys}
}

func createHafenBonus(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hafenbonus"}}); err != nil {
		t.Fatal(err)
	}
	program := &loyaltyv1alpha1.LoyaltyProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "hafenbonus", Namespace: "hafenbonus"},
		Spec: loyaltyv1alpha1.LoyaltyProgramSpec{DisplayName: "HafenBonus", Currency: "EUR",
			Earning:    loyaltyv1alpha1.EarningRules{BaseRate: loyaltyv1alpha1.EarnRate{Points: 1, Per: "2.00"}},
			Redemption: loyaltyv1alpha1.RedemptionRules{PointValue: "0.01"}},
	}
	members := make([]loyaltyv1alpha1.CooperationMember, 0, 2)
	for _, key := range []string{fischhaus, reederei} {
		members = append(members, loyaltyv1alpha1.CooperationMember{PartnerRef: ref(key), IssuancePrice: "0.02", RedemptionPrice: "0.015"})
	}
	coop := &loyaltyv1alpha1.PartnerCooperation{
		ObjectMeta: metav1.ObjectMeta{Name: "hafenbonus-weekly", Namespace: "hafenbonus"},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{
			ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "hafenbonus"}, Members: members,
			Schedule: loyaltyv1alpha1.SettlementSchedule{Cron: "0 3 * * 1", TimeZone: "Europe/Berlin", Period: loyaltyv1alpha1.PeriodWeekly},
			Netting:  loyaltyv1alpha1.NettingBilateral, Rounding: loyaltyv1alpha1.RoundingHalfEven, MinimumTransfer: "0",
		},
	}
	for _, o := range []client.Object{program, coop} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
}

// Two programs, each with its accrual service as a real process, settled by
// their own cooperations; then `treue settle` itself, as the CronJob runs it.
func TestTwoProgramsWithRealServices(t *testing.T) {
	c, env := startAPIServerWithEnv(t)
	createCooperation(t, c)
	createHafenBonus(t, c)
	bin := testbin.BuildTreue(t)
	stadt := startAccrualProcess(t, bin, "stadtbonus/stadtbonus", []string{baecker, drucker, grafik}, true)
	hafen := startAccrualProcess(t, bin, "hafenbonus/hafenbonus", []string{fischhaus, reederei}, false)
	ctx := context.Background()

	// StadtBonus: the traffic of TestSettleAgainstARealAccrualService. HafenBonus:
	// Anna (a customer of both) buys 600.00 EUR of fish (300 points) and pays a
	// harbour tour with 120 points.
	stadt.call(t, "POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	stadt.call(t, "POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 20000, "currency": "EUR"})
	stadt.call(t, "POST", "/v1/redeem", grafik, "t2", map[string]any{"member": "anna", "points": 60})
	stadt.call(t, "POST", "/v1/members", drucker, "e2", map[string]any{"member": "ben"})
	code := stadt.call(t, "POST", "/v1/referral-codes", grafik, "c1", map[string]any{"referral": referral, "member": "anna"})
	referred := stadt.call(t, "POST", "/v1/earn", drucker, "t3", map[string]any{"member": "ben", "amount": 10000, "currency": "EUR",
		"referralCode": code["code"]})
	stadt.call(t, "POST", "/v1/reverse", drucker, "t4", map[string]any{"earnId": referred["entryId"], "amount": 1900})
	hafen.call(t, "POST", "/v1/members", fischhaus, "e1", map[string]any{"member": "anna"})
	hafen.call(t, "POST", "/v1/earn", fischhaus, "t1", map[string]any{"member": "anna", "amount": 60000, "currency": "EUR"})
	hafen.call(t, "POST", "/v1/redeem", reederei, "t2", map[string]any{"member": "anna", "points": 120})

	// First, the binary, as the CronJob runs it, for last week: nothing happened
	// then, and the run says so with an empty, completed Settlement.
	user, err := env.AddUser(envtest.User{Name: "settle", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(hafen.keys["settlement"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	berlin := mustBerlin(t)
	last, err := settlement.LastClosed(settlement.Weekly, berlin, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	settle := func() string {
		cmd := exec.Command(bin, "settle", "--cooperation", "hafenbonus/hafenbonus-weekly", "--period", last.ID,
			"--endpoint", hafen.url, "--token-file", filepath.Join(dir, "token"))
		cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("treue settle: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := settle(); !strings.HasPrefix(out, "settled "+last.ID) {
		t.Errorf("first run printed %q", out)
	}
	if out := settle(); !strings.HasPrefix(out, "verified "+last.ID) {
		t.Errorf("second run printed %q", out)
	}

	// Then this week, for both programs, as next week's runs will.
	now := time.Now()
	run := func(coop string, svc *accrualService) *Outcome {
		ns, name, _ := strings.Cut(coop, "/")
		out, err := Run(ctx, c, Options{Cooperation: types.NamespacedName{Namespace: ns, Name: name}, Endpoint: svc.url,
			Token: svc.keys["settlement"], Now: func() time.Time { return now.AddDate(0, 0, 7) }})
		if err != nil {
			t.Fatalf("%s: %v", coop, err)
		}
		return out
	}
	hafenOut := run("hafenbonus/hafenbonus-weekly", hafen)
	stadtOut := run("stadtbonus/stadtbonus-weekly", stadt)

	// HafenBonus, bilateral, by hand: the fish shop owes 300 × 2.0 ct = 6.00 EUR;
	// the shipping line is owed 120 × 1.5 ct = 1.80 EUR; the network keeps 4.20.
	record := &loyaltyv1alpha1.Settlement{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "hafenbonus", Name: hafenOut.Name}, record); err != nil {
		t.Fatal(err)
	}
	st := record.Status
	if len(st.Statements) != 2 || st.Statements[0].Net != "-6.00" || st.Statements[1].Net != "1.80" || st.Totals.NetworkMargin != "4.20" {
		t.Errorf("HafenBonus statements %+v, totals %+v", st.Statements, st.Totals)
	}
	want := []loyaltyv1alpha1.Transfer{{From: fischhaus, To: "network", Amount: "6.00"}, {From: "network", To: reederei, Amount: "1.80"}}
	if len(st.Transfers) != 2 || st.Transfers[0] != want[0] || st.Transfers[1] != want[1] {
		t.Errorf("HafenBonus transfers %+v, want %+v", st.Transfers, want)
	}
	// StadtBonus: issuance 1.00 + 0.38 EUR, redemption 0.54 EUR, commissions 2.28 EUR.
	if err := c.Get(ctx, types.NamespacedName{Namespace: "stadtbonus", Name: stadtOut.Name}, record); err != nil {
		t.Fatal(err)
	}
	if st := record.Status; st.Totals.IssuanceAmount != "1.38" || st.Totals.RedemptionAmount != "0.54" || st.Totals.NetworkMargin != "0.84" ||
		st.Totals.Commissions != "2.28" ||
		!meta.IsStatusConditionTrue(st.Conditions, loyaltyv1alpha1.ConditionCompleted) {
		t.Errorf("StadtBonus totals %+v, conditions %+v", st.Totals, st.Conditions)
	}

	// Again: nothing changes, nothing is settled twice.
	for _, again := range []*Outcome{run("hafenbonus/hafenbonus-weekly", hafen), run("stadtbonus/stadtbonus-weekly", stadt)} {
		if !again.Verified || again.EntriesMarked != 0 {
			t.Errorf("%s again: verified %v, %d marked", again.Name, again.Verified, again.EntriesMarked)
		}
	}
	entries := hafen.call(t, "GET", "/v1/settlement/entries?partner="+fischhaus+"&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
		"settlement", "", nil)["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["settlement"] != hafenOut.Name {
		t.Errorf("the fish shop's entries: %v", entries)
	}
}

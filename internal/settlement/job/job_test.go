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
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevent "github.com/cloudevents/sdk-go/v2/event"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrual"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/events"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/rules"
	"github.com/treue-dev/treue/internal/settlement"
)

const (
	baecker  = "baeckerei-korn/baeckerei-korn"
	drucker  = "druckerei-blau/druckerei-blau"
	grafik   = "grafikagentur-linie/grafikagentur-linie"
	referral = "stadtbonus/grafik-empfiehlt-druck"
)

// startAPIServer starts envtest with treue's CRDs.
func startAPIServer(t *testing.T) client.Client {
	c, _ := startAPIServerWithEnv(t)
	return c
}

func startAPIServerWithEnv(t *testing.T) (client.Client, *envtest.Environment) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds the control plane from source and sets it")
	}
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := loyaltyv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, env
}

// service is a real accrual service of the StadtBonus program (embedded
// ledger, referral with no holding period so that its commissions fall due in
// the period of the sale) with a key per partner and the settlement token.
type accrualService struct {
	url  string
	keys map[string]string
}

// accrualConfig writes the configuration and secrets of a program's service
// into a new directory: rules as StadtBonus's, the given partners, and
// optionally the referral of Grafik to the print shop with no holding period.
func accrualConfig(t *testing.T, program string, partners []string, referrals bool) (dir string, keys map[string]string) {
	t.Helper()
	return accrualConfigWith(t, program, partners, referrals, nil)
}

// accrualConfigWith is accrualConfig with the configuration changed by change,
// which may write further secrets into dir.
func accrualConfigWith(t *testing.T, program string, partners []string, referrals bool, change func(c *accrualapi.Config, dir string)) (
	dir string, keys map[string]string) {
	t.Helper()
	dir = t.TempDir()
	c := accrualapi.Config{
		APIVersion: accrualapi.ConfigVersion, Program: program,
		Rules: rules.Config{
			Currency: "EUR", TimeZone: "Europe/Berlin",
			Earning:       rules.EarningConfig{BaseRate: rules.EarnRateConfig{Points: 1, Per: "2.00"}, SignupBonus: 50},
			PendingPeriod: "P0D", Expiry: rules.ExpiryConfig{Policy: "Rolling", After: "P36M"},
			Redemption: rules.RedemptionConfig{PointValue: "0.01"},
		},
		Ledger: accrualapi.LedgerConfig{Backend: ledger.SQLite, Path: filepath.Join(dir, "ledger.db")},
	}
	files := map[string]string{"admin": accrualapi.AdminTokenHashFile, "settlement": accrualapi.SettlementTokenHashFile}
	for i, p := range partners {
		file := fmt.Sprintf("partner-%d.sha256", i)
		c.Partners = append(c.Partners, accrualapi.PartnerConfig{ID: p, KeyHashFile: file})
		files[p] = file
	}
	if referrals {
		c.Referrals = []rules.ReferralConfig{{ID: referral, Referrer: grafik, Referee: drucker,
			Discount: rules.DiscountConfig{Type: "Percent", Percent: "5"}, Commission: rules.CommissionConfig{Type: "Percent", Percent: "3"},
			HoldingPeriod: "P0D", CodePrefix: "GRAFIK"}}
	}
	keys = map[string]string{}
	for who, file := range files {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		keys[who] = "tk_" + hex.EncodeToString(b)
		sum := sha256.Sum256([]byte(keys[who]))
		if err := os.WriteFile(filepath.Join(dir, file), []byte(hex.EncodeToString(sum[:])), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if change != nil {
		change(&c, dir)
	}
	raw, _ := json.Marshal(c)
	if err := os.WriteFile(filepath.Join(dir, "accrual.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, keys
}

// startAccrual runs StadtBonus's service in the test process.
func startAccrual(t *testing.T) *accrualService {
	t.Helper()
	svc, _ := startAccrualWith(t, nil)
	return svc
}

// startAccrualWith is startAccrual with the configuration changed by change;
// it returns the service's handler too, whose dispatcher a test drives.
func startAccrualWith(t *testing.T, change func(c *accrualapi.Config, dir string)) (*accrualService, *accrual.Server) {
	t.Helper()
	dir, keys := accrualConfigWith(t, "stadtbonus/stadtbonus", []string{baecker, drucker, grafik}, true, change)
	cfg, err := accrual.LoadConfig(filepath.Join(dir, "accrual.json"), dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), ledger.Options{Backend: ledger.SQLite, DSN: cfg.LedgerDSN, Program: cfg.Program, Referrals: cfg.Referrals,
		Sinks: cfg.Events.Filters()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	server := accrual.NewServer(cfg, l, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	srv := httptest.NewServer(server.Handler())
	t.Cleanup(srv.Close)
	return &accrualService{url: srv.URL, keys: keys}, server
}

// call sends a write or read as who and decodes the answer, failing the test on
// anything but 200.
func (a *accrualService) call(t *testing.T, method, path, who, key string, body any) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+a.keys[who])
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s as %s: %d %s", method, path, who, res.StatusCode, raw)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func createCooperation(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "stadtbonus"}}); err != nil {
		t.Fatal(err)
	}
	program := &loyaltyv1alpha1.LoyaltyProgram{
		ObjectMeta: metav1.ObjectMeta{Name: "stadtbonus", Namespace: "stadtbonus"},
		Spec: loyaltyv1alpha1.LoyaltyProgramSpec{DisplayName: "StadtBonus", Currency: "EUR",
			Earning:    loyaltyv1alpha1.EarningRules{BaseRate: loyaltyv1alpha1.EarnRate{Points: 1, Per: "2.00"}},
			Redemption: loyaltyv1alpha1.RedemptionRules{PointValue: "0.01"}},
	}
	member := func(key, issuance, redemption string) loyaltyv1alpha1.CooperationMember {
		ns, name, _ := strings.Cut(key, "/")
		return loyaltyv1alpha1.CooperationMember{PartnerRef: loyaltyv1alpha1.NamespacedReference{Namespace: ns, Name: name},
			IssuancePrice: loyaltyv1alpha1.PointPrice(issuance), RedemptionPrice: loyaltyv1alpha1.PointPrice(redemption)}
	}
	coop := &loyaltyv1alpha1.PartnerCooperation{
		ObjectMeta: metav1.ObjectMeta{Name: "stadtbonus-weekly", Namespace: "stadtbonus"},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{
			ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "stadtbonus"},
			Members: []loyaltyv1alpha1.CooperationMember{member(baecker, "0.01", "0.008"), member(drucker, "0.01", "0.008"),
				member(grafik, "0.012", "0.009")},
			Schedule: loyaltyv1alpha1.SettlementSchedule{Cron: "0 3 * * 1", TimeZone: "Europe/Berlin", Period: loyaltyv1alpha1.PeriodWeekly},
			Netting:  loyaltyv1alpha1.NettingMultilateral, Rounding: loyaltyv1alpha1.RoundingHalfEven, MinimumTransfer: "0",
		},
	}
	for _, o := range []client.Object{program, coop} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
}

func TestSettleAgainstARealAccrualService(t *testing.T) {
	c := startAPIServer(t)
	createCooperation(t, c)
	svc := startAccrual(t)
	ctx := context.Background()

	// Traffic of this week: Anna buys 200.00 EUR at the bakery (100 points); Ben
	// buys 100.00 EUR at the print shop with Grafik's referral code, pays 95.00
	// (47 points) and Grafik accrues 3 % of 95.00 = 2.85 EUR; Anna pays with 60
	// points at Grafik; Ben returns 19.00 EUR of his purchase, a fifth: 9 points
	// and 0.57 EUR of commission come back.
	svc.call(t, "POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	svc.call(t, "POST", "/v1/members", drucker, "e2", map[string]any{"member": "ben"})
	svc.call(t, "POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 20000, "currency": "EUR"})
	code := svc.call(t, "POST", "/v1/referral-codes", grafik, "c1", map[string]any{"referral": referral, "member": "anna"})
	referred := svc.call(t, "POST", "/v1/earn", drucker, "t2", map[string]any{"member": "ben", "amount": 10000, "currency": "EUR",
		"referralCode": code["code"]})
	if referred["points"].(float64) != 47 || referred["commissionMicros"].(float64) != 285_000_000 {
		t.Fatalf("referred purchase: %v", referred)
	}
	svc.call(t, "POST", "/v1/redeem", grafik, "t3", map[string]any{"member": "anna", "points": 60})
	ret := svc.call(t, "POST", "/v1/reverse", drucker, "t4", map[string]any{"earnId": referred["entryId"], "amount": 1900})
	if ret["points"].(float64) != 9 {
		t.Fatalf("return: %v", ret)
	}

	// Settle the week of this traffic as the job would next week.
	now := time.Now()
	o := Options{Cooperation: types.NamespacedName{Namespace: "stadtbonus", Name: "stadtbonus-weekly"}, Endpoint: svc.url,
		Token: svc.keys["settlement"], Now: func() time.Time { return now.AddDate(0, 0, 7) }, PageSize: 2}
	out, err := Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	year, week := now.In(mustBerlin(t)).ISOWeek()
	if want := fmt.Sprintf("stadtbonus-weekly-%04d-w%02d", year, week); out.Name != want {
		t.Errorf("settlement %s, want %s", out.Name, want)
	}
	// By hand: the bakery owes 100 × 1.0 ct = 1.00 EUR; the print shop owes
	// (47 − 9) × 1.0 ct = 0.38 EUR and 2.85 − 0.57 = 2.28 EUR of commission;
	// Grafik is owed 60 × 0.9 ct = 0.54 EUR and the 2.28 EUR.
	record := &loyaltyv1alpha1.Settlement{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "stadtbonus", Name: out.Name}, record); err != nil {
		t.Fatal(err)
	}
	st := record.Status
	want := []loyaltyv1alpha1.PartnerStatement{
		{Partner: ref(baecker), PointsIssued: 100, IssuanceAmount: "1.00", RedemptionAmount: "0.00", CommissionsEarned: "0.00",
			CommissionsOwed: "0.00", CarriedIn: "0.00", CarriedOut: "0.00", Net: "-1.00"},
		{Partner: ref(drucker), PointsIssued: 38, PointsReturned: 9, IssuanceAmount: "0.38", RedemptionAmount: "0.00",
			CommissionsEarned: "0.00", CommissionsOwed: "2.28", CarriedIn: "0.00", CarriedOut: "0.00", Net: "-2.66"},
		{Partner: ref(grafik), PointsRedeemed: 60, IssuanceAmount: "0.00", RedemptionAmount: "0.54", CommissionsEarned: "2.28",
			CommissionsOwed: "0.00", CarriedIn: "0.00", CarriedOut: "0.00", Net: "2.82"},
	}
	if fmt.Sprint(st.Statements) != fmt.Sprint(want) {
		t.Errorf("statements:\n got %+v\nwant %+v", st.Statements, want)
	}
	wantTransfers := []loyaltyv1alpha1.Transfer{{From: baecker, To: "network", Amount: "1.00"}, {From: drucker, To: "network", Amount: "2.66"},
		{From: "network", To: grafik, Amount: "2.82"}}
	if fmt.Sprint(st.Transfers) != fmt.Sprint(wantTransfers) {
		t.Errorf("transfers:\n got %+v\nwant %+v", st.Transfers, wantTransfers)
	}
	if st.Totals.NetworkMargin != "0.84" || st.Totals.NetVolume != "6.48" || st.RoundingResidual != "0" || st.Checksum != out.Result.Checksum {
		t.Errorf("totals %+v, residual %s, checksum %s", st.Totals, st.RoundingResidual, st.Checksum)
	}
	if !meta.IsStatusConditionTrue(st.Conditions, loyaltyv1alpha1.ConditionCompleted) || st.CompletedAt == nil || st.EntriesSettled != 6 {
		t.Errorf("conditions %+v, completed at %v, %d entries settled; want Completed and 6 (4 entries, 2 commission lines)",
			st.Conditions, st.CompletedAt, st.EntriesSettled)
	}
	if out.EntriesMarked != 6 {
		t.Errorf("%d entries marked, want 6", out.EntriesMarked)
	}

	// Running it again verifies and changes nothing.
	again, err := Run(ctx, c, o)
	if err != nil || !again.Verified || again.EntriesMarked != 0 || again.Result.Checksum != out.Result.Checksum {
		t.Fatalf("second run: %+v, %v", again, err)
	}
	after := &loyaltyv1alpha1.Settlement{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "stadtbonus", Name: out.Name}, after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != record.ResourceVersion {
		t.Errorf("the second run wrote the Settlement: resourceVersion %s → %s", record.ResourceVersion, after.ResourceVersion)
	}

	checkReruns(t, c, o, svc, out, record)
}

// checkReruns: a re-run that cannot read leaves the completed settlement alone;
// one over a changed period fails on the checksum and pays nothing twice.
func checkReruns(t *testing.T, c client.Client, o Options, svc *accrualService, out *Outcome, record *loyaltyv1alpha1.Settlement) {
	t.Helper()
	ctx := context.Background()
	after := &loyaltyv1alpha1.Settlement{}
	// A re-run that cannot reach the service fails, but leaves the completed
	// settlement alone: it is still right.
	broken := o
	broken.Endpoint = "http://127.0.0.1:1"
	if _, err := Run(ctx, c, broken); err == nil {
		t.Fatal("a run against no service succeeded")
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "stadtbonus", Name: out.Name}, after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != record.ResourceVersion {
		t.Errorf("a failed re-run wrote the completed Settlement: %+v", after.Status.Conditions)
	}

	// The Settlement records the terms it was computed with (issue 17); a re-run
	// after the cooperation changed a price says which, not only that the
	// checksum differs.
	terms := record.Status.Terms
	if terms == nil || terms.Netting != loyaltyv1alpha1.NettingMultilateral || len(terms.Prices) != 3 ||
		terms.Prices[2].Partner != ref(grafik) || terms.Prices[2].IssuancePrice != "0.012" {
		t.Fatalf("recorded terms: %+v", terms)
	}
	setPrice := func(price loyaltyv1alpha1.PointPrice) {
		coop := &loyaltyv1alpha1.PartnerCooperation{}
		if err := c.Get(ctx, o.Cooperation, coop); err != nil {
			t.Fatal(err)
		}
		coop.Spec.Members[2].RedemptionPrice = price
		if err := c.Update(ctx, coop); err != nil {
			t.Fatal(err)
		}
	}
	// Grafik took 60 points: at 1.0 instead of 0.9 ct it is owed 0.60, not 0.54.
	setPrice("0.01")
	_, err := Run(ctx, c, o)
	if err == nil || !strings.Contains(err.Error(), grafik+" paid 0.012 and was paid 0.009 per point, now 0.012 and 0.01") {
		t.Fatalf("a re-run under another price: %v", err)
	}
	setPrice("0.009")

	// A purchase booked into the settled week afterwards makes the ledger
	// disagree with the record: the run fails and pays nothing twice.
	svc.call(t, "POST", "/v1/earn", baecker, "late", map[string]any{"member": "anna", "amount": 2000, "currency": "EUR"})
	if _, err := Run(ctx, c, o); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a run over a changed period: %v", err)
	}
	if err := c.Get(ctx, types.NamespacedName{Namespace: "stadtbonus", Name: out.Name}, after); err != nil {
		t.Fatal(err)
	}
	failed := meta.FindStatusCondition(after.Status.Conditions, loyaltyv1alpha1.ConditionFailed)
	if failed == nil || failed.Reason != loyaltyv1alpha1.ReasonChecksumMismatch || after.Status.Checksum != out.Result.Checksum {
		t.Errorf("after the mismatch: %+v, checksum %s", after.Status.Conditions, after.Status.Checksum)
	}
	late := svc.call(t, "GET", "/v1/settlement/entries?partner="+baecker+"&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", "settlement", "", nil)
	entries := late["entries"].([]any)
	if last := entries[len(entries)-1].(map[string]any); last["settlement"] != nil {
		t.Errorf("the late entry was marked settled: %v", last)
	}
}

func ref(key string) loyaltyv1alpha1.NamespacedReference {
	ns, name, _ := strings.Cut(key, "/")
	return loyaltyv1alpha1.NamespacedReference{Namespace: ns, Name: name}
}

func mustBerlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// failMarking makes the commission marks fail, as a network cut would.
type failMarking struct{ next http.RoundTripper }

func (f failMarking) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/commissions/mark") {
		return nil, fmt.Errorf("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// A run that dies half way leaves a Failed condition; the next completes it with
// the same numbers.
func TestAFailedRunIsCompletedByTheNext(t *testing.T) {
	c := startAPIServer(t)
	createCooperation(t, c)
	svc := startAccrual(t)
	ctx := context.Background()
	svc.call(t, "POST", "/v1/members", drucker, "e1", map[string]any{"member": "ben"})
	svc.call(t, "POST", "/v1/members", grafik, "e2", map[string]any{"member": "anna"})
	code := svc.call(t, "POST", "/v1/referral-codes", grafik, "c1", map[string]any{"referral": referral, "member": "anna"})
	svc.call(t, "POST", "/v1/earn", drucker, "t1", map[string]any{"member": "ben", "amount": 10000, "currency": "EUR", "referralCode": code["code"]})

	now := time.Now()
	o := Options{Cooperation: types.NamespacedName{Namespace: "stadtbonus", Name: "stadtbonus-weekly"}, Endpoint: svc.url,
		Token: svc.keys["settlement"], Now: func() time.Time { return now.AddDate(0, 0, 7) },
		HTTP: &http.Client{Transport: failMarking{http.DefaultTransport}}}
	if _, err := Run(ctx, c, o); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("first run: %v", err)
	}
	year, week := now.In(mustBerlin(t)).ISOWeek()
	key := types.NamespacedName{Namespace: "stadtbonus", Name: fmt.Sprintf("stadtbonus-weekly-%04d-w%02d", year, week)}
	record := &loyaltyv1alpha1.Settlement{}
	if err := c.Get(ctx, key, record); err != nil {
		t.Fatal(err)
	}
	failed := meta.FindStatusCondition(record.Status.Conditions, loyaltyv1alpha1.ConditionFailed)
	if failed == nil || failed.Status != metav1.ConditionTrue || failed.Reason != loyaltyv1alpha1.ReasonMarkFailed ||
		meta.IsStatusConditionTrue(record.Status.Conditions, loyaltyv1alpha1.ConditionCompleted) {
		t.Fatalf("after the failed run: %+v", record.Status.Conditions)
	}
	first := record.Status.Checksum

	o.HTTP = nil
	out, err := Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	// The entry was marked by the first run; only the commission is left.
	if out.Verified || out.EntriesMarked != 1 || out.Result.Checksum != first {
		t.Errorf("second run: verified %v, %d marked, checksum %s (first %s)", out.Verified, out.EntriesMarked, out.Result.Checksum, first)
	}
	if err := c.Get(ctx, key, record); err != nil {
		t.Fatal(err)
	}
	if !meta.IsStatusConditionTrue(record.Status.Conditions, loyaltyv1alpha1.ConditionCompleted) ||
		meta.FindStatusCondition(record.Status.Conditions, loyaltyv1alpha1.ConditionFailed) != nil {
		t.Errorf("after the second run: %+v", record.Status.Conditions)
	}
}

// A partner another cooperation settles is left out of the terms, so its
// entries are never read or marked by this one.
func TestExcludedPartnersAreLeftOut(t *testing.T) {
	member := func(ns, name string) loyaltyv1alpha1.CooperationMember {
		return loyaltyv1alpha1.CooperationMember{PartnerRef: loyaltyv1alpha1.NamespacedReference{Namespace: ns, Name: name},
			IssuancePrice: "0.01", RedemptionPrice: "0.008"}
	}
	coop := &loyaltyv1alpha1.PartnerCooperation{ObjectMeta: metav1.ObjectMeta{Namespace: "stadtbonus", Name: "c"},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{Members: []loyaltyv1alpha1.CooperationMember{
			member("baeckerei-korn", "baeckerei-korn"), member("", "local"), member("druckerei-blau", "druckerei-blau")}}}
	program := &loyaltyv1alpha1.LoyaltyProgram{Spec: loyaltyv1alpha1.LoyaltyProgramSpec{Currency: "EUR"}}
	terms, err := termsOf(coop, program, []string{drucker})
	if err != nil {
		t.Fatal(err)
	}
	if len(terms.Partners) != 2 || terms.Partners[baecker].Issuance == nil || terms.Partners["stadtbonus/local"].Issuance == nil {
		t.Errorf("terms: %+v; want the bakery and stadtbonus/local (namespace defaulted), not the print shop", terms.Partners)
	}
	if terms.Netting != "Multilateral" || terms.Rounding != "HalfEven" || terms.MinimumTransfer != 0 {
		t.Errorf("defaults: %+v", terms)
	}
}

// A time zone that passes the API server's pattern but does not load is an
// error, as the cooperation's controller reports it, never a silent UTC: periods
// cut in UTC would settle other days than the contract says.
func TestAScheduleTimeZoneThatDoesNotLoadIsRefused(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		tz      loyaltyv1alpha1.TimeZone
		wantErr bool
	}{{"", false}, {"UTC", false}, {"Europe/Berlin", false}, {"Mars/Olympus_Mons", true}} {
		coop := &loyaltyv1alpha1.PartnerCooperation{Spec: loyaltyv1alpha1.PartnerCooperationSpec{
			Schedule: loyaltyv1alpha1.SettlementSchedule{Cron: "@weekly", TimeZone: tc.tz}}}
		window, _, err := windowsOf(coop, Options{Now: now})
		if (err != nil) != tc.wantErr {
			t.Errorf("time zone %q: got error %v, want an error: %v", tc.tz, err, tc.wantErr)
			continue
		}
		if err == nil && window.ID != "2026-W47" {
			t.Errorf("time zone %q: settled %s, want 2026-W47", tc.tz, window.ID)
		}
		if err != nil && !strings.Contains(err.Error(), "Mars/Olympus_Mons") {
			t.Errorf("time zone %q: the error %q does not name it", tc.tz, err)
		}
	}
}

// A cooperation stored with one partner listed twice, spelled two ways (the API
// server accepted it until issue 17), is refused before anything is read, written
// or marked: the job counted the partner's entries once per listing, billed the
// bakery for 200 points where the ledger held 100, and marked them settled. The
// cooperation lives in a fake API server, since the real one now refuses it.
func TestAPartnerListedTwiceIsNeverBilledTwice(t *testing.T) {
	svc := startAccrual(t)
	ctx := context.Background()
	svc.call(t, "POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	svc.call(t, "POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 20000, "currency": "EUR"}) // 100 points

	scheme := runtime.NewScheme()
	if err := loyaltyv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	const ns = "baeckerei-korn"
	program := &loyaltyv1alpha1.LoyaltyProgram{ObjectMeta: metav1.ObjectMeta{Name: "stadtbonus", Namespace: ns},
		Spec: loyaltyv1alpha1.LoyaltyProgramSpec{DisplayName: "StadtBonus", Currency: "EUR"}}
	member := func(ref loyaltyv1alpha1.NamespacedReference) loyaltyv1alpha1.CooperationMember {
		return loyaltyv1alpha1.CooperationMember{PartnerRef: ref, IssuancePrice: "0.01", RedemptionPrice: "0.008"}
	}
	coop := &loyaltyv1alpha1.PartnerCooperation{ObjectMeta: metav1.ObjectMeta{Name: "weekly", Namespace: ns},
		Spec: loyaltyv1alpha1.PartnerCooperationSpec{ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "stadtbonus"},
			Members: []loyaltyv1alpha1.CooperationMember{
				member(loyaltyv1alpha1.NamespacedReference{Name: "baeckerei-korn"}),
				member(loyaltyv1alpha1.NamespacedReference{Name: "baeckerei-korn", Namespace: ns}),
				member(loyaltyv1alpha1.NamespacedReference{Name: "druckerei-blau", Namespace: "druckerei-blau"})},
			Schedule: loyaltyv1alpha1.SettlementSchedule{Cron: "0 3 * * 1", TimeZone: "Europe/Berlin", Period: loyaltyv1alpha1.PeriodWeekly}}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(program, coop).
		WithStatusSubresource(&loyaltyv1alpha1.Settlement{}, &loyaltyv1alpha1.PartnerCooperation{}).Build()

	now := time.Now()
	_, err := Run(ctx, c, Options{Cooperation: types.NamespacedName{Namespace: ns, Name: "weekly"}, Endpoint: svc.url,
		Token: svc.keys["settlement"], Now: func() time.Time { return now.AddDate(0, 0, 7) }})
	if err == nil || !strings.Contains(err.Error(), "spec.members lists "+baecker+" more than once") {
		t.Fatalf("settling a cooperation that lists the bakery twice: %v", err)
	}
	settlements := &loyaltyv1alpha1.SettlementList{}
	if err := c.List(ctx, settlements); err != nil || len(settlements.Items) != 0 {
		t.Fatalf("settlements written: %+v, %v", settlements.Items, err)
	}
	expectNothingMarked(t, svc, baecker)
}

// A Settlement of the period's name whose spec is not the one the job would
// write (issue 17: "2026-W47" with March dates was reused by name) is refused
// before anything is read or marked. The API server now refuses those dates for
// that id itself; another cooperation's Settlement of the name is the case left.
func TestASettlementWithAnotherSpecIsNotReused(t *testing.T) {
	c := startAPIServer(t)
	createCooperation(t, c)
	svc := startAccrual(t)
	ctx := context.Background()
	svc.call(t, "POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	svc.call(t, "POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 20000, "currency": "EUR"})

	now := time.Now()
	w, err := settlement.LastClosed(settlement.Weekly, mustBerlin(t), now.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	forge := func(coop string, start time.Time) *loyaltyv1alpha1.Settlement {
		return &loyaltyv1alpha1.Settlement{ObjectMeta: metav1.ObjectMeta{Namespace: "stadtbonus", Name: SettlementName("stadtbonus-weekly", w.ID)},
			Spec: loyaltyv1alpha1.SettlementSpec{CooperationRef: loyaltyv1alpha1.LocalObjectReference{Name: coop},
				Period: loyaltyv1alpha1.SettlementPeriod{ID: w.ID, Start: metav1.NewTime(start), End: metav1.NewTime(start.AddDate(0, 0, 7))}}}
	}
	march := time.Date(2026, 3, 2, 0, 0, 0, 0, mustBerlin(t))
	if err := c.Create(ctx, forge("stadtbonus-weekly", march)); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.period.id") {
		t.Fatalf("the API server took %s with March dates: %v", w.ID, err)
	}
	if err := c.Create(ctx, forge("another-cooperation", w.Start)); err != nil {
		t.Fatal(err)
	}
	_, err = Run(ctx, c, Options{Cooperation: types.NamespacedName{Namespace: "stadtbonus", Name: "stadtbonus-weekly"}, Endpoint: svc.url,
		Token: svc.keys["settlement"], Now: func() time.Time { return now.AddDate(0, 0, 7) }})
	if err == nil || !strings.Contains(err.Error(), "exists with spec") {
		t.Fatalf("settling into another cooperation's Settlement: %v", err)
	}
	expectNothingMarked(t, svc, baecker)
}

// A Settlement's transfers are more than zero (issue 17: the API server took a
// negative amount in status): whoever writes the status cannot record a payment
// the wrong way round.
func TestATransferOfNothingOrLessIsRefused(t *testing.T) {
	c := startAPIServer(t)
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "stadtbonus"}}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, mustBerlin(t))
	s := &loyaltyv1alpha1.Settlement{ObjectMeta: metav1.ObjectMeta{Namespace: "stadtbonus", Name: "stadtbonus-weekly-2026-w47"},
		Spec: loyaltyv1alpha1.SettlementSpec{CooperationRef: loyaltyv1alpha1.LocalObjectReference{Name: "stadtbonus-weekly"},
			Period: loyaltyv1alpha1.SettlementPeriod{ID: "2026-W47", Start: metav1.NewTime(start), End: metav1.NewTime(start.AddDate(0, 0, 7))}}}
	if err := c.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	for amount, ok := range map[loyaltyv1alpha1.SignedAmount]bool{"-2.82": false, "0.00": false, "0": false, "2.82": true, "0.01": true} {
		s.Status = loyaltyv1alpha1.SettlementStatus{Currency: "EUR",
			Transfers: []loyaltyv1alpha1.Transfer{{From: "network", To: grafik, Amount: amount}}}
		err := c.Status().Update(ctx, s)
		if ok != (err == nil) {
			t.Errorf("a transfer of %s: %v", amount, err)
		}
		if err == nil {
			if err := c.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// expectNothingMarked fails the test if any of the partner's entries is marked
// settled.
func expectNothingMarked(t *testing.T, svc *accrualService, partner string) {
	t.Helper()
	page := svc.call(t, "GET", "/v1/settlement/entries?partner="+partner+"&from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z", "settlement", "", nil)
	for _, e := range page["entries"].([]any) {
		if s := e.(map[string]any)["settlement"]; s != nil {
			t.Fatalf("an entry of %s was marked settled by %v", partner, s)
		}
	}
}

// failEveryMark makes every mark fail, as a network cut would.
type failEveryMark struct{ next http.RoundTripper }

func (f failEveryMark) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/mark") {
		return nil, fmt.Errorf("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// eventReceiver records the CloudEvents posted to it, each verified with the
// reference Standard Webhooks library.
type eventReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []cloudevent.Event
}

func newEventReceiver(t *testing.T, secret string) *eventReceiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &eventReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ce cloudevent.Event
		if wh.Verify(body, req.Header) != nil || json.Unmarshal(body, &ce) != nil {
			http.Error(w, "refused", http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.events = append(r.events, ce)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// settlementEvents waits until the receiver has n events and returns them.
func (r *eventReceiver) settlementEvents(t *testing.T, n int) []accrualapi.SettlementEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.events)
		r.mu.Unlock()
		if len(got) >= n {
			out := make([]accrualapi.SettlementEvent, 0, len(got))
			for _, e := range got {
				var d accrualapi.SettlementEvent
				if err := json.Unmarshal(e.Data(), &d); err != nil {
					t.Fatal(err)
				}
				out = append(out, d)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events arrived within 30 s, want %d", len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A completed run tells each partner's sink its own statement line and the
// platform's every line; a re-run tells nothing twice; a failed run tells
// every partner.
func TestASettlementRunReportsItsEvents(t *testing.T) {
	c := startAPIServer(t)
	createCooperation(t, c)
	platformSecret, _ := events.NewSecret()
	bakerySecret, _ := events.NewSecret()
	platform, bakery := newEventReceiver(t, platformSecret), newEventReceiver(t, bakerySecret)
	settlementTypes := []string{accrualapi.EventSettlementCompleted, accrualapi.EventSettlementFailed}
	svc, server := startAccrualWith(t, func(cfg *accrualapi.Config, dir string) {
		for name, secret := range map[string]string{"platform.whsec": platformSecret, "bakery.whsec": bakerySecret} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(secret), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg.Events = &accrualapi.EventsConfig{Source: "/apis/loyalty.treue.dev/v1alpha1/namespaces/stadtbonus/loyaltyprograms/stadtbonus",
			Sinks: []accrualapi.SinkConfig{
				{Name: "program.platform", URL: platform.URL, SigningSecretFiles: []string{"platform.whsec"}, Types: settlementTypes},
				{Name: "baeckerei-korn.baeckerei-korn.shop", Partner: baecker, URL: bakery.URL, SigningSecretFiles: []string{"bakery.whsec"},
					Types: settlementTypes},
			}}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go server.Dispatch(ctx)

	svc.call(t, "POST", "/v1/members", baecker, "e1", map[string]any{"member": "anna"})
	svc.call(t, "POST", "/v1/earn", baecker, "t1", map[string]any{"member": "anna", "amount": 20000, "currency": "EUR"})
	svc.call(t, "POST", "/v1/redeem", grafik, "t2", map[string]any{"member": "anna", "points": 60})
	now := time.Now()
	o := Options{Cooperation: types.NamespacedName{Namespace: "stadtbonus", Name: "stadtbonus-weekly"}, Endpoint: svc.url,
		Token: svc.keys["settlement"], Now: func() time.Time { return now.AddDate(0, 0, 7) },
		HTTP: &http.Client{Transport: failEveryMark{http.DefaultTransport}}}
	// The first run fails marking: every partner hears of it, the bakery too.
	if _, err := Run(ctx, c, o); err == nil {
		t.Fatal("the first run did not fail")
	}
	failed := bakery.settlementEvents(t, 1)
	if failed[0].Reason != loyaltyv1alpha1.ReasonMarkFailed || failed[0].Statement != nil || failed[0].Cooperation != "stadtbonus/stadtbonus-weekly" {
		t.Fatalf("the failure's event: %+v", failed[0])
	}
	o.HTTP = nil
	out, err := Run(ctx, c, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, c, o); err != nil { // verifies, and reports nothing new
		t.Fatal(err)
	}
	// The platform: the failure and a completion per partner.
	got := platform.settlementEvents(t, 4)
	lines := map[string]accrualapi.SettlementLine{}
	for _, e := range got[1:] {
		if e.Statement == nil || e.Checksum != out.Result.Checksum || e.Settlement != "stadtbonus/"+out.Name {
			t.Fatalf("a completion's event: %+v", e)
		}
		lines[e.Statement.Partner] = *e.Statement
	}
	if len(lines) != 3 || lines[baecker].IssuanceAmount != "1.00" || lines[grafik].RedemptionAmount != "0.54" || lines[grafik].Net != "0.54" {
		t.Fatalf("the statement lines: %+v", lines)
	}
	// The bakery: the failure and its own line, nobody else's.
	mine := bakery.settlementEvents(t, 2)
	if len(mine) != 2 || mine[1].Statement == nil || mine[1].Statement.Partner != baecker || mine[1].Statement.Net != "-1.00" {
		t.Fatalf("the bakery's events: %+v", mine)
	}
	// The verifying run's report was a repeat: the service wrote four events
	// for the platform, no fifth (its writes are done when it answers).
	sinks := svc.call(t, "GET", "/v1/events/sinks", "admin", "", nil)["sinks"].([]any)
	for _, s := range sinks {
		s := s.(map[string]any)
		if s["name"] == "program.platform" && s["delivered"].(float64)+s["pending"].(float64) != 4 {
			t.Fatalf("the platform's sink has %v delivered and %v pending events, want 4 in all", s["delivered"], s["pending"])
		}
	}
}

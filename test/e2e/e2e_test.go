//go:build e2e

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

// Package e2e checks treue on a real cluster where pods run: `make e2e` brings up
// the local single-node cluster (or uses the one in KUBECONFIG), builds and
// imports the image, installs the chart and runs these specs.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/settlement"
	"github.com/treue-dev/treue/internal/settlement/job"
)

var (
	k8s     client.Client
	kubectl string
	root    string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "treue end to end")
}

var _ = BeforeSuite(func() {
	kubectl = os.Getenv("KUBECTL")
	Expect(kubectl).NotTo(BeEmpty(), "KUBECTL is not set: run `make e2e`")
	var err error
	root, err = filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(loyaltyv1alpha1.AddToScheme(scheme)).To(Succeed())
	cfg, err := ctrl.GetConfig()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	out, err := exec.Command(kubectl, "apply", "-k", filepath.Join(root, "config", "samples")).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
})

func ptr[T any](v T) *T { return &v }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return string(b)
}

func eventually(fn any) AsyncAssertion {
	return Eventually(fn).WithTimeout(3 * time.Minute).WithPolling(time.Second)
}

func kubectlOut(args ...string) string {
	out, err := exec.Command(kubectl, args...).CombinedOutput()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), string(out))
	return string(out)
}

// call sends a request to the program's Service from this machine (the local
// cluster routes ClusterIPs from the host) with a bearer key. Like a till, it
// retries a request that got no answer from the service, or a 5xx, with the same idempotency key:
// the one accrual pod of an embedded ledger is briefly away while it rolls.
func call(method, url, key, idem string, body any) (int, map[string]any) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, err := http.NewRequest(method, url, bytes.NewReader(raw))
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		res, err := callClient.Do(req)
		if err == nil && res.StatusCode < 500 && fromService(res) {
			defer func() { _ = res.Body.Close() }()
			out := map[string]any{}
			b, _ := io.ReadAll(res.Body)
			_ = json.Unmarshal(b, &out)
			return res.StatusCode, out
		}
		if err == nil {
			_ = res.Body.Close()
			callClient.CloseIdleConnections() // see fromService
		}
		ExpectWithOffset(1, time.Now().Before(deadline)).To(BeTrue(), "%s %s got no answer for 2 minutes: %v", method, url, err)
		time.Sleep(time.Second)
	}
}

// callClient keeps connections alive between calls, as a till does.
var callClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}

// tillOf is the typed client of a program's service with a partner's key (or a
// token), sending as call does: a request that got no answer from the service,
// or a 5xx, is sent again, with the same idempotency key, for up to 2 minutes.
func tillOf(url, key string) *accrualapi.Client {
	base := &http.Transport{}
	return &accrualapi.Client{Endpoint: url, Token: key, HTTP: &http.Client{Timeout: 10 * time.Second, Transport: untilAnswered{base}}}
}

// untilAnswered sends a request until the service answers it with less than a 500.
type untilAnswered struct{ base *http.Transport }

func (u untilAnswered) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		try := req.Clone(req.Context())
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			try.Body = body
		}
		res, err := u.base.RoundTrip(try)
		if err == nil && res.StatusCode < 500 && fromService(res) {
			return res, nil
		}
		if err == nil {
			err = fmt.Errorf("%s from something other than the service, or a failure", res.Status)
			_ = res.Body.Close()
			u.base.CloseIdleConnections() // see fromService
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s %s got no answer for 2 minutes: %w", req.Method, req.URL.Path, err)
		}
		time.Sleep(time.Second)
	}
}

// must is the answer of a typed call that must succeed; must2 of a write.
func must[T any](v T, err error) T {
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return v
}

func must2[T any](v T, _ accrualapi.Replay, err error) T {
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return v
}

func serviceURL(ctx context.Context) string {
	svc := &corev1.Service{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus-accrual"}, svc)).To(Succeed())
	url := fmt.Sprintf("http://%s:8080", svc.Spec.ClusterIP)
	waitServed(url)
	return url
}

var _ = Describe("The StadtBonus samples on a real node", Ordered, func() {
	It("run a Ready program whose accrual pod runs", func(ctx SpecContext) {
		eventually(func(g Gomega) {
			p := &loyaltyv1alpha1.LoyaltyProgram{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus"}, p)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(p.Status.Conditions, loyaltyv1alpha1.ConditionReady)).To(BeTrue(), "%+v", p.Status.Conditions)
			g.Expect(meta.IsStatusConditionFalse(p.Status.Conditions, "Progressing")).To(BeTrue(), "the rollout is not complete")
			g.Expect(p.Status.Partners).To(Equal(int32(3)))
			// The referral agreement runs once the cooperation settles both partners.
			rd := &loyaltyv1alpha1.ReferralDiscount{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "grafik-empfiehlt-druck"}, rd)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(rd.Status.Conditions, loyaltyv1alpha1.ConditionReady)).To(BeTrue(), "%+v", rd.Status.Conditions)
		}).Should(Succeed())
		pods := &corev1.PodList{}
		Expect(k8s.List(ctx, pods, client.InNamespace("stadtbonus"), client.MatchingLabels{"app.kubernetes.io/instance": "stadtbonus"})).To(Succeed())
		Expect(pods.Items).NotTo(BeEmpty())
		Expect(pods.Items[0].Status.Phase).To(Equal(corev1.PodRunning))
		Expect(kubectlOut("get", "loyaltyprograms", "-n", "stadtbonus")).To(MatchRegexp(`stadtbonus\s+True\s+EUR\s+3\s+http://stadtbonus-accrual`))
	})

	It("run the manager under the chart's admission policies", func() {
		// Its RBAC lets the manager create ConfigMaps anywhere; the policy the
		// chart installs refuses one in kube-system (a server-side dry run, as
		// the manager), while the manager wrote the program's objects above.
		out, err := exec.Command(kubectl, "create", "configmap", "not-treues", "-n", "kube-system", "--dry-run=server",
			"--as=system:serviceaccount:treue-system:treue-manager").CombinedOutput()
		Expect(err).To(HaveOccurred(), string(out))
		Expect(string(out)).To(And(ContainSubstring("ValidatingAdmissionPolicy 'treue-manager-objects'"), ContainSubstring("kube- namespace")))
	})

	It("serve a partner's till in the partner's own namespace with its credentials, and refuse a wrong key", func(ctx SpecContext) {
		image := os.Getenv("TREUE_E2E_TILL_IMAGE")
		Expect(image).NotTo(BeEmpty(), "TREUE_E2E_TILL_IMAGE is not set: run `make e2e`, which builds the till's image")
		secret := "baeckerei-korn-stadtbonus-stadtbonus-credentials"
		member := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
		// The till runs where the partner's own software would: a pod of the
		// partner's namespace, reaching the program through the endpoint in its
		// Secret (in-cluster DNS and the Service), with the key the Secret holds.
		user := int64(65532)
		till := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "till-", Namespace: "baeckerei-korn"},
			Spec: corev1.PodSpec{
				RestartPolicy:   corev1.RestartPolicyNever,
				SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr(true), RunAsUser: &user, RunAsGroup: &user},
				Containers: []corev1.Container{{
					Name: "till", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
					Args:         []string{"/credentials", member},
					VolumeMounts: []corev1.VolumeMount{{Name: "credentials", MountPath: "/credentials", ReadOnly: true}},
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), ReadOnlyRootFilesystem: ptr(true),
						Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				}},
				Volumes: []corev1.Volume{{Name: "credentials", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}},
			},
		}
		Expect(k8s.Create(ctx, till)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = k8s.Delete(ctx, till) })
		Eventually(func(g Gomega) corev1.PodPhase {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(till), till)).To(Succeed())
			return till.Status.Phase
		}).WithTimeout(3 * time.Minute).WithPolling(time.Second).Should(Or(Equal(corev1.PodSucceeded), Equal(corev1.PodFailed)))
		logs := kubectlOut("logs", "-n", till.Namespace, till.Name)
		Expect(till.Status.Phase).To(Equal(corev1.PodSucceeded), "the till's calls:\n%s", logs)
		Expect(logs).To(MatchRegexp(`(?m)^enroll 200 `))
		// 20.00 EUR at the bakery: 1 point per 2.00 EUR, doubled for bakery goods.
		Expect(logs).To(MatchRegexp(`(?m)^earn 200 .*"points":20[,}]`))
		Expect(logs).To(MatchRegexp(`(?m)^wrong-key 401 `))

		// The purchase is on the member's account, exactly: the signup bonus
		// available, the purchase pending for 14 days.
		creds := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "baeckerei-korn", Name: secret}, creds)).To(Succeed())
		status, body := call("GET", serviceURL(ctx)+"/v1/members/"+member, string(creds.Data["apiKey"]), "", nil)
		Expect(status).To(Equal(http.StatusOK))
		balance := body["balance"].(map[string]any)
		Expect(balance["available"]).To(BeNumerically("==", 50), "the signup bonus")
		Expect(balance["pending"]).To(BeNumerically("==", 20), "pending for 14 days")
	})

	It("refuse a partner from a namespace the program does not admit, and say why", func(ctx SpecContext) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-outsider-"}}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = k8s.Delete(ctx, ns) })
		partner := &loyaltyv1alpha1.Partner{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "outsider"},
			Spec: loyaltyv1alpha1.PartnerSpec{DisplayName: "Outsider",
				ProgramRefs: []loyaltyv1alpha1.NamespacedReference{{Namespace: "stadtbonus", Name: "stadtbonus"}}},
		}
		Expect(k8s.Create(ctx, partner)).To(Succeed())
		eventually(func(g Gomega) {
			got := &loyaltyv1alpha1.Partner{}
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(partner), got)).To(Succeed())
			g.Expect(got.Status.Programs).NotTo(BeEmpty())
			c := meta.FindStatusCondition(got.Status.Programs[0].Conditions, loyaltyv1alpha1.ConditionAccepted)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("NotAllowedByProgram"))
			g.Expect(c.Message).To(ContainSubstring(ns.Name))
		}).Should(Succeed())
		secrets := &corev1.SecretList{}
		Expect(k8s.List(ctx, secrets, client.InNamespace(ns.Name))).To(Succeed())
		for _, sec := range secrets.Items {
			Expect(sec.Name).NotTo(ContainSubstring("credentials"), "a refused partner got credentials")
		}
	})

	It("settle through the cooperation's CronJob, and change nothing on a second run", func(ctx SpecContext) {
		run := func(name string) {
			kubectlOut("create", "job", "--from=cronjob/stadtbonus-weekly-settle", "-n", "stadtbonus", name)
			kubectlOut("wait", "--for=condition=Complete", "job/"+name, "-n", "stadtbonus", "--timeout=120s")
		}
		suffix := fmt.Sprint(time.Now().Unix())
		run("e2e-settle-" + suffix)
		berlin, err := time.LoadLocation("Europe/Berlin")
		Expect(err).NotTo(HaveOccurred())
		week, err := settlement.LastClosed(settlement.Weekly, berlin, time.Now())
		Expect(err).NotTo(HaveOccurred())
		s := loyaltyv1alpha1.Settlement{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: job.SettlementName("stadtbonus-weekly", week.ID)}, &s)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(s.Status.Conditions, loyaltyv1alpha1.ConditionCompleted)).To(BeTrue())
		Expect(s.Status.Checksum).To(HaveLen(64))
		eventually(func(g Gomega) {
			coop := &loyaltyv1alpha1.PartnerCooperation{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus-weekly"}, coop)).To(Succeed())
			g.Expect(coop.Status.LastSettlement).NotTo(BeNil())
			g.Expect(coop.Status.LastSettlement.Outcome).To(Equal(loyaltyv1alpha1.ConditionCompleted))
		}).Should(Succeed())

		run("e2e-settle-again-" + suffix)
		again := &loyaltyv1alpha1.Settlement{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(&s), again)).To(Succeed())
		Expect(again.ResourceVersion).To(Equal(s.ResourceVersion), "the second run wrote the Settlement")
		Expect(kubectlOut("logs", "-n", "stadtbonus", "job/e2e-settle-again-"+suffix)).To(ContainSubstring("verified"))
	})

	It("send a partner's webhook its own till's purchase, signed, never another partner's, and its settlement line", func(ctx SpecContext) {
		partnerWebhook(ctx)
	})

	It("keep balances exactly through earn, redeem and a partial return, and pay referrals", func(ctx SpecContext) {
		// A program of its own, whose points are available at once.
		n := newNetwork(ctx, "money", nil, "shop", "cafe")
		Expect(k8s.Create(ctx, &loyaltyv1alpha1.ReferralDiscount{ObjectMeta: metav1.ObjectMeta{Namespace: n.ns, Name: "cafe-recommends-shop"},
			Spec: loyaltyv1alpha1.ReferralDiscountSpec{ProgramRef: loyaltyv1alpha1.LocalObjectReference{Name: "money"},
				Referrer: loyaltyv1alpha1.NamespacedReference{Name: "cafe"}, Referee: loyaltyv1alpha1.NamespacedReference{Name: "shop"},
				Discount:      loyaltyv1alpha1.ReferralDiscountValue{Type: loyaltyv1alpha1.DiscountPercent, Percent: "10"},
				Commission:    loyaltyv1alpha1.ReferralCommission{Type: loyaltyv1alpha1.CommissionPercent, Percent: "5"},
				HoldingPeriod: "P0D", CodePrefix: "CAFE"}})).To(Succeed())
		// The shop owes the commission: the agreement waits for its consent...
		referral := func(g Gomega) *metav1.Condition {
			rd := &loyaltyv1alpha1.ReferralDiscount{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: "cafe-recommends-shop"}, rd)).To(Succeed())
			c := meta.FindStatusCondition(rd.Status.Conditions, loyaltyv1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			return c
		}
		eventually(func(g Gomega) {
			c := referral(g)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(loyaltyv1alpha1.ReasonAwaitingConsent), "%+v", c)
		}).Should(Succeed())
		// ...and runs once the shop consents from its own Partner.
		shopPartner := &loyaltyv1alpha1.Partner{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: "shop"}, shopPartner)).To(Succeed())
		shopPartner.Spec.Consents = append(shopPartner.Spec.Consents,
			loyaltyv1alpha1.Consent{Kind: loyaltyv1alpha1.AgreementReferral, Name: "cafe-recommends-shop"})
		Expect(k8s.Update(ctx, shopPartner)).To(Succeed())
		n.waitReady(ctx, func(g Gomega) {
			g.Expect(referral(g).Status).To(Equal(metav1.ConditionTrue))
		})
		shop, cafe, ns := tillOf(n.url, n.keys["shop"]), tillOf(n.url, n.keys["cafe"]), n.ns
		// Anna buys for 100.00 EUR at the shop (100 points), pays 30 points at the
		// café (0.30 EUR), and returns 40.00 EUR of her purchase (40 points back).
		must2(shop.Enroll(ctx, "e-anna", accrualapi.EnrollRequest{Member: "anna"}))
		earned := must2(shop.Earn(ctx, "t1", accrualapi.EarnRequest{Member: "anna", Amount: 10000, Currency: "EUR"}))
		Expect(earned.Points).To(BeNumerically("==", 100))
		redeemed := must2(cafe.Redeem(ctx, "t2", accrualapi.RedeemRequest{Member: "anna", Points: 30}))
		Expect(redeemed.Value).To(BeNumerically("==", 30))
		returned := must2(shop.Reverse(ctx, "t3", accrualapi.ReverseRequest{EarnID: earned.EntryID, Amount: 4000}))
		Expect(returned.Points).To(BeNumerically("==", 40))
		Expect(must(shop.Member(ctx, "anna", 0)).Balance.Available).To(BeNumerically("==", 30))
		// A retry of the purchase is answered from the ledger, not credited again.
		again, replayed, err := shop.Earn(ctx, "t1", accrualapi.EarnRequest{Member: "anna", Amount: 10000, Currency: "EUR"})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.EntryID).To(Equal(earned.EntryID))
		Expect(replayed).To(BeTrue())
		Expect(must(shop.Member(ctx, "anna", 0)).Balance.Available).To(BeNumerically("==", 30))

		// The café gives Anna a code; Ben pays 50.00 EUR at the shop with it: 10 %
		// off (45.00 EUR, 45 points), and the café earns 5 % of 45.00 = 2.25 EUR.
		code := must2(cafe.IssueCode(ctx, "c1", accrualapi.IssueCodeRequest{Referral: ns + "/cafe-recommends-shop", Member: "anna"}))
		Expect(code.Code).To(HavePrefix("CAFE-"))
		must2(shop.Enroll(ctx, "e-ben", accrualapi.EnrollRequest{Member: "ben"}))
		referred := must2(shop.Earn(ctx, "t4", accrualapi.EarnRequest{Member: "ben", Amount: 5000, Currency: "EUR", ReferralCode: code.Code}))
		Expect(referred.Discount).To(BeNumerically("==", 500))
		Expect(referred.AmountDue).To(BeNumerically("==", 4500))
		Expect(referred.Points).To(BeNumerically("==", 45))
		Expect(referred.CommissionMicros).To(BeNumerically("==", 225_000_000))
	})

	It("take access away from a partner whose namespace leaves the network", func(ctx SpecContext) {
		// The program admits the namespaces labelled for its network. The agency's
		// namespace loses the label: the partner is refused, its Secret revoked, and
		// the key it held stops working once the rules roll out without it.
		secret := "grafikagentur-linie-stadtbonus-stadtbonus-credentials"
		creds := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "grafikagentur-linie", Name: secret}, creds)).To(Succeed())
		key := string(creds.Data["apiKey"])
		url := serviceURL(ctx)
		status, body := call("GET", url+"/v1/members/nobody", key, "", nil)
		Expect(status).To(Equal(http.StatusNotFound), "an admitted partner is answered: %v", body)

		ns := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "grafikagentur-linie"}, ns)).To(Succeed())
		label := func(ctx context.Context, value any) {
			patch := fmt.Sprintf(`{"metadata":{"labels":{"loyalty.treue.dev/network":%s}}}`, mustJSON(value))
			ExpectWithOffset(1, k8s.Patch(ctx, ns, client.RawPatch(types.MergePatchType, []byte(patch)))).To(Succeed())
		}
		label(ctx, nil)
		DeferCleanup(func(ctx SpecContext) { label(ctx, "stadtbonus") })

		eventually(func(g Gomega) {
			partner := &loyaltyv1alpha1.Partner{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "grafikagentur-linie", Name: "grafikagentur-linie"}, partner)).To(Succeed())
			g.Expect(partner.Status.Programs).NotTo(BeEmpty())
			c := meta.FindStatusCondition(partner.Status.Programs[0].Conditions, loyaltyv1alpha1.ConditionAccepted)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal("NotAllowedByProgram"))
			err := k8s.Get(ctx, client.ObjectKey{Namespace: "grafikagentur-linie", Name: secret}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the credentials are still there: %v", err)
		}).Should(Succeed())
		Eventually(func(g Gomega) {
			status, body := call("GET", url+"/v1/members/nobody", key, "", nil)
			g.Expect(status).To(Equal(http.StatusUnauthorized), "the revoked key still works: %v", body)
			// The service's own refusal (a problem document), not a proxy's.
			g.Expect(body["status"]).To(BeNumerically("==", http.StatusUnauthorized), "%v", body)
		}).WithTimeout(3 * time.Minute).WithPolling(2 * time.Second).Should(Succeed())
		Expect(kubectlOut("get", "loyaltyprograms", "-n", "stadtbonus")).To(MatchRegexp(`stadtbonus\s+\S+\s+EUR\s+2\s`))
	})

	It("remove a deleted program's workloads, and its partners' access", func(ctx SpecContext) {
		program := &loyaltyv1alpha1.LoyaltyProgram{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus"}, program)).To(Succeed())
		Expect(k8s.Delete(ctx, program)).To(Succeed())
		eventually(func(g Gomega) {
			// The garbage collector removes what the program owned.
			for _, obj := range []client.Object{&appsv1.StatefulSet{}, &corev1.Service{}, &corev1.ConfigMap{}} {
				err := k8s.Get(ctx, client.ObjectKey{Namespace: "stadtbonus", Name: "stadtbonus-accrual"}, obj)
				g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "%T still there: %v", obj, err)
			}
			// The partner's credentials are revoked, and its status says why.
			err := k8s.Get(ctx, client.ObjectKey{Namespace: "baeckerei-korn", Name: "baeckerei-korn-stadtbonus-stadtbonus-credentials"}, &corev1.Secret{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the credentials are still there: %v", err)
			partner := &loyaltyv1alpha1.Partner{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "baeckerei-korn", Name: "baeckerei-korn"}, partner)).To(Succeed())
			g.Expect(partner.Status.Programs).NotTo(BeEmpty())
			c := meta.FindStatusCondition(partner.Status.Programs[0].Conditions, loyaltyv1alpha1.ConditionAccepted)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("ProgramNotFound"))
		}).Should(Succeed())
	})
})

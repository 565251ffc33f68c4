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

package e2e

import (
	"database/sql"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/pgtest"
	"github.com/treue-dev/treue/internal/settlement"
	"github.com/treue-dev/treue/internal/settlement/job"
)

// The PostgreSQL server the programs' pods use: hack/e2e.sh sets these for the
// local cluster (this machine's server, opened to the pods' network).
const (
	envPostgresDSN     = "TREUE_E2E_POSTGRES_DSN"      // as this machine reaches it
	envPostgresPodHost = "TREUE_E2E_POSTGRES_POD_HOST" // the server's host as pods reach it
	envContainerd      = "TREUE_E2E_CONTAINERD"        // the node's containerd socket, to kill -9 a container
)

var tills = []string{"till-1", "till-2", "till-3", "till-4"}

var _ = Describe("A PostgreSQL-backed program with two replicas", Ordered, func() {
	var (
		n       *network
		db      *sql.DB
		traffic *load
	)

	BeforeAll(func(ctx SpecContext) {
		base, podHost := os.Getenv(envPostgresDSN), os.Getenv(envPostgresPodHost)
		if base == "" || podHost == "" {
			Skip(fmt.Sprintf("%s and %s are not set: these specs need a PostgreSQL server the cluster's pods can reach (make e2e sets them on the local cluster)", envPostgresDSN, envPostgresPodHost))
		}
		dsn, drop, err := pgtest.Schema(base, "e2e")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(drop)
		db, err = sql.Open("pgx", dsn)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(db.Close)
		u, err := url.Parse(dsn)
		Expect(err).NotTo(HaveOccurred())
		u.Host = podHost + ":" + u.Port()

		n = newNetwork(ctx, "pg", func(p *loyaltyv1alpha1.LoyaltyProgram) {
			p.Spec.Ledger = loyaltyv1alpha1.LedgerSpec{Type: loyaltyv1alpha1.LedgerPostgreSQL, PostgreSQL: &loyaltyv1alpha1.PostgreSQLLedger{
				DSNSecretRef: loyaltyv1alpha1.SecretKeyReference{Name: "ledger", Key: "dsn"}}}
			p.Spec.Service.Replicas = 2
			// A paid club that pins Gold (twice the points, 10 % off), a level no
			// till's member reaches by buying.
			p.Spec.Tiers = &loyaltyv1alpha1.TierRules{Levels: []loyaltyv1alpha1.TierLevel{{Name: "Bronze"},
				{Name: "Gold", Threshold: 1_000_000_000, EarnMultiplier: "2", Discount: "10"}}}
			p.Spec.Membership = loyaltyv1alpha1.Membership{Type: loyaltyv1alpha1.MembershipPaid, Fee: "89.90", Period: "P1Y", PinnedTier: "Gold"}
		}, "shop", "cafe")
		Expect(k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: n.ns, Name: "ledger"},
			StringData: map[string]string{"dsn": u.String()}})).To(Succeed())
		n.waitReady(ctx, func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: "pg-accrual"}, d)).To(Succeed())
			g.Expect(d.Status.AvailableReplicas).To(Equal(int32(2)))
		})
		for _, till := range tills {
			ok(call("POST", n.url+"/v1/members", n.keys["shop"], "enroll-"+till, map[string]any{"member": till}))
		}
	})

	It("rolls its pods on a rule change while tills keep buying, with no failed request", func(ctx SpecContext) {
		traffic = startLoad(n.url, n.keys["shop"], tills, false)
		DeferCleanup(func() {
			select {
			case <-traffic.stop:
			default:
				traffic.halt()
			}
		})
		eventually(func() int { return traffic.count(10) }).Should(BeNumerically(">=", 40), "purchases before the change")

		// Double the points: a new configuration, a new hash, a rolling update.
		p := &loyaltyv1alpha1.LoyaltyProgram{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: "pg"}, p)).To(Succeed())
		oldHash := p.Status.ConfigHash
		// A merge patch of the spec, as kubectl edit would send: the operator
		// writes the status meanwhile, and an update of the copy read above would
		// be refused as stale (seen in CI).
		before := p.DeepCopy()
		p.Spec.Earning.BaseRate.Points = 2
		Expect(k8s.Patch(ctx, p, client.MergeFrom(before))).To(Succeed())
		eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
			g.Expect(p.Status.ConfigHash).NotTo(Equal(oldHash))
			pods := &corev1.PodList{}
			g.Expect(k8s.List(ctx, pods, client.InNamespace(n.ns), client.MatchingLabels{"app.kubernetes.io/instance": "pg"})).To(Succeed())
			g.Expect(pods.Items).To(HaveLen(2), "the old pods are still there")
			for _, pod := range pods.Items {
				g.Expect(pod.Annotations["loyalty.treue.dev/config-hash"]).To(Equal(p.Status.ConfigHash), pod.Name)
				g.Expect(pod.DeletionTimestamp).To(BeNil(), pod.Name)
			}
			g.Expect(meta.IsStatusConditionFalse(p.Status.Conditions, "Progressing")).To(BeTrue(), "the rollout is not complete")
		}).Should(Succeed())
		// Purchases go on, now at the new rate, on the new pods.
		after := traffic.count(20)
		eventually(func() int { return traffic.count(20) }).Should(BeNumerically(">=", after+40), "purchases after the rollout")
		traffic.halt()

		Expect(traffic.failures).To(BeEmpty(), "requests failed during the rollout")
		entries, points := traffic.verify(n.keys["shop"])
		GinkgoWriter.Printf("rollout under load: %d purchases acknowledged (%d points), none failed\n", entries, points)
	})

	It("settles the tills' traffic with the cooperation's CronJob, to the cent", func(ctx SpecContext) {
		Expect(traffic).NotTo(BeNil(), "needs the traffic of the rollout spec")
		// The café takes 125 points from each till's member: 125 × 0.008 = 1.00 EUR each.
		var redeemed, redemptions int64
		for _, till := range tills {
			ok(call("POST", n.url+"/v1/redeem", n.keys["cafe"], "redeem-"+till, map[string]any{"member": till, "points": 125}))
			redeemed += 125
			redemptions++
		}
		var issued, purchases int64
		for _, acked := range traffic.acked {
			for _, p := range acked {
				issued += p.points
				purchases++
			}
		}
		// A member buys the paid club at the shop's till: she is pinned to Gold,
		// and her 100.00 EUR purchase costs 90.00 and earns, at the doubled rate of
		// the rollout spec (2 points per 1.00) and Gold's ×2, 90 × 2 × 2 = 360.
		ok(call("POST", n.url+"/v1/members", n.keys["shop"], "enroll-club", map[string]any{"member": "club"}))
		fee := ok(call("POST", n.url+"/v1/memberships", n.keys["shop"], "fee-club", map[string]any{"member": "club", "amount": 8990, "currency": "EUR"}))
		Expect(fee["paidUntil"]).NotTo(BeEmpty())
		club := ok(call("GET", n.url+"/v1/members/club", n.keys["cafe"], "", nil))
		Expect(club["tier"]).To(HaveKeyWithValue("name", "Gold"))
		Expect(club["tier"]).To(HaveKeyWithValue("pinned", true))
		Expect(club["tier"]).To(HaveKeyWithValue("discount", "10"))
		Expect(club["membership"]).To(HaveKeyWithValue("active", true))
		bought := ok(call("POST", n.url+"/v1/earn", n.keys["shop"], "club-1", map[string]any{"member": "club", "amount": 10000, "currency": "EUR"}))
		Expect(bought["tierDiscount"]).To(BeNumerically("==", 1000))
		Expect(bought["amountDue"]).To(BeNumerically("==", 9000))
		Expect(bought["points"]).To(BeNumerically("==", 360))
		issued += 360
		purchases++

		// The job settles only closed periods: move this traffic, as it is, into
		// last week (UTC, the cooperation's time zone) in the ledger's database.
		week, err := settlement.LastClosed(settlement.Weekly, time.UTC, time.Now())
		Expect(err).NotTo(HaveOccurred())
		res, err := db.ExecContext(ctx, `UPDATE entries SET created_at = $1 + (created_at - (SELECT min(created_at) FROM entries))`,
			week.Start.Add(time.Hour).UnixMicro())
		Expect(err).NotTo(HaveOccurred())
		moved, err := res.RowsAffected()
		Expect(err).NotTo(HaveOccurred())
		Expect(moved).To(BeNumerically(">=", purchases+redemptions+1))

		name := fmt.Sprintf("e2e-settle-%d", time.Now().Unix())
		kubectlOut("create", "job", "--from=cronjob/pg-weekly-settle", "-n", n.ns, name)
		kubectlOut("wait", "--for=condition=Complete", "job/"+name, "-n", n.ns, "--timeout=180s")
		s := &loyaltyv1alpha1.Settlement{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: job.SettlementName("pg-weekly", week.ID)}, s)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(s.Status.Conditions, loyaltyv1alpha1.ConditionCompleted)).To(BeTrue(), "%+v", s.Status.Conditions)

		// Issuance at 0.01 EUR a point, redemption at 0.008 EUR a point.
		eur := func(points int64, price string) *big.Rat {
			p, err := money.ParseDecimal(price)
			ExpectWithOffset(1, err).NotTo(HaveOccurred())
			return new(big.Rat).Mul(big.NewRat(points, 1), p)
		}
		equal := func(got loyaltyv1alpha1.SignedAmount, want *big.Rat, what string) {
			g, err := money.ParseDecimal(strings.TrimPrefix(string(got), "-"))
			ExpectWithOffset(1, err).NotTo(HaveOccurred(), "%s: %q", what, got)
			if strings.HasPrefix(string(got), "-") {
				g.Neg(g)
			}
			ExpectWithOffset(1, g.Cmp(want)).To(BeZero(), "%s: got %s, want %s", what, got, want.FloatString(2))
		}
		t := s.Status.Totals
		Expect(t).NotTo(BeNil())
		Expect(t.PointsIssued).To(Equal(issued))
		Expect(t.PointsRedeemed).To(Equal(redeemed))
		equal(t.IssuanceAmount, eur(issued, "0.01"), "issuance")
		equal(t.RedemptionAmount, eur(redeemed, "0.008"), "redemption")
		Expect(s.Status.EntriesSettled).To(Equal(purchases + redemptions + 1)) // and the fee
		equal(t.MembershipFees, big.NewRat(8990, 100), "membership fees")
		Expect(s.Status.Statements).To(HaveLen(2))
		for _, st := range s.Status.Statements {
			switch st.Partner.Name {
			case "shop":
				// The shop owes its points issued and the fee it collected; it
				// granted 10.00 EUR of tier discount (informational).
				Expect(st.PointsIssued).To(Equal(issued))
				equal(st.MembershipFees, big.NewRat(8990, 100), "the shop's membership fees")
				equal(st.TierDiscounts, big.NewRat(1000, 100), "the shop's tier discounts")
				equal(st.Net, new(big.Rat).Neg(new(big.Rat).Add(eur(issued, "0.01"), big.NewRat(8990, 100))), "the shop's net")
			case "cafe":
				Expect(st.PointsRedeemed).To(Equal(redeemed))
				equal(st.Net, eur(redeemed, "0.008"), "the café's net")
			default:
				Fail("a statement for " + st.Partner.Name)
			}
		}
		// Every settled entry carries the settlement's id.
		history := ok(call("GET", n.url+"/v1/members/"+tills[0]+"/history?limit=1000", n.keys["shop"], "", nil))
		for _, raw := range history["entries"].([]any) {
			e := raw.(map[string]any)
			if e["kind"] == "earn" || e["kind"] == "redeem" {
				Expect(e["settlement"]).To(Equal(s.Name), "entry %v", e["id"])
			}
		}

		kubectlOut("create", "job", "--from=cronjob/pg-weekly-settle", "-n", n.ns, name+"-again")
		kubectlOut("wait", "--for=condition=Complete", "job/"+name+"-again", "-n", n.ns, "--timeout=180s")
		again := &loyaltyv1alpha1.Settlement{}
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s), again)).To(Succeed())
		Expect(again.ResourceVersion).To(Equal(s.ResourceVersion), "the second run wrote the Settlement")
	})
})

var _ = Describe("An embedded-ledger program whose pod is killed mid-traffic", func() {
	It("loses no acknowledged purchase, and counts none twice", func(ctx SpecContext) {
		n := newNetwork(ctx, "crash", nil, "shop", "cafe")
		n.waitReady(ctx, nil)
		for _, till := range tills {
			ok(call("POST", n.url+"/v1/members", n.keys["shop"], "enroll-"+till, map[string]any{"member": till}))
		}
		traffic := startLoad(n.url, n.keys["shop"], tills, true)
		DeferCleanup(func() {
			select {
			case <-traffic.stop:
			default:
				traffic.halt()
			}
		})
		for kill := 1; kill <= 3; kill++ {
			before := traffic.count(0)
			eventually(func() int { return traffic.count(0) }).Should(BeNumerically(">=", before+30), "purchases before kill %d", kill)
			pod := &corev1.Pod{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: n.ns, Name: "crash-accrual-0"}, pod)).To(Succeed())
			restarts := pod.Status.ContainerStatuses[0].RestartCount
			uid := pod.UID
			if sock := os.Getenv(envContainerd); sock != "" {
				// kill -9 the service's process, as an OOM kill or a node fault would.
				id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
				out, err := exec.Command("ctr", "--address", sock, "-n", "k8s.io", "task", "kill", "-s", "SIGKILL", id).CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), string(out))
			} else {
				kubectlOut("delete", "pod", "-n", n.ns, pod.Name, "--grace-period=0", "--force")
			}
			eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod)).To(Succeed())
				g.Expect(pod.Status.ContainerStatuses).NotTo(BeEmpty())
				g.Expect(pod.UID != uid || pod.Status.ContainerStatuses[0].RestartCount > restarts).To(BeTrue(), "not restarted yet")
			}).Should(Succeed())
		}
		after := traffic.count(0)
		eventually(func() int { return traffic.count(0) }).Should(BeNumerically(">=", after+30), "purchases after the last kill")
		traffic.halt()

		Expect(traffic.failures).To(BeEmpty())
		entries, points := traffic.verify(n.keys["shop"])
		GinkgoWriter.Printf("3 kills under load: %d purchases acknowledged (%d points), %d resends\n", entries, points, traffic.retries)
	})
})

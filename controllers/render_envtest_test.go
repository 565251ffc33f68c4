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

package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrual"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// readSample decodes the first document of a sample file.
func readSample(file string, into client.Object) {
	objs := readObjects(filepath.Join("..", "config", "samples", file))
	Expect(objs).NotTo(BeEmpty())
	raw, err := json.Marshal(objs[0].Object)
	Expect(err).NotTo(HaveOccurred())
	Expect(yaml.Unmarshal(raw, into)).To(Succeed())
}

// loadRendered writes a rendered configuration with a credential for every
// partner and the two tokens, and loads it as the accrual service would.
func loadRendered(c accrualapi.Config) error {
	dir := GinkgoT().TempDir()
	hash := func(file, secret string) {
		sum := sha256.Sum256([]byte(secret))
		Expect(os.WriteFile(filepath.Join(dir, file), []byte(hex.EncodeToString(sum[:])), 0o600)).To(Succeed())
	}
	for _, p := range c.Partners {
		hash(p.KeyHashFile, "key-of-"+p.ID)
	}
	hash(accrualapi.AdminTokenHashFile, "admin")
	hash(accrualapi.SettlementTokenHashFile, "settlement")
	if c.Ledger.DSNFile != "" {
		Expect(os.WriteFile(filepath.Join(dir, c.Ledger.DSNFile), []byte("postgres://u:p@db:5432/ledger"), 0o600)).To(Succeed())
	}
	raw, err := json.Marshal(c)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "accrual.json"), raw, 0o600)).To(Succeed())
	_, err = accrual.LoadConfig(filepath.Join(dir, "accrual.json"), dir)
	return err
}

var _ = Describe("Rendering a program for its accrual service", func() {
	It("turns the samples, as the API server defaults them, into a configuration the service loads", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		program := &loyaltyv1alpha1.LoyaltyProgram{}
		readSample("loyalty_v1alpha1_loyaltyprogram.yaml", program)
		program.Namespace = ns
		Expect(k8sClient.Create(ctx, program)).To(Succeed())

		samples := readObjects(filepath.Join("..", "config", "samples", "loyalty_v1alpha1_partner.yaml"))
		partners := make([]loyaltyv1alpha1.Partner, 0, len(samples))
		for _, obj := range samples {
			p := loyaltyv1alpha1.Partner{}
			raw, _ := json.Marshal(obj.Object)
			Expect(yaml.Unmarshal(raw, &p)).To(Succeed())
			p.Namespace = ns
			p.Spec.ProgramRefs = []loyaltyv1alpha1.NamespacedReference{{Name: program.Name}}
			Expect(k8sClient.Create(ctx, &p)).To(Succeed())
			partners = append(partners, p)
		}
		referral := &loyaltyv1alpha1.ReferralDiscount{}
		readSample("loyalty_v1alpha1_referraldiscount.yaml", referral)
		referral.Namespace = ns
		referral.Spec.Referrer.Namespace, referral.Spec.Referee.Namespace = "", ""
		Expect(k8sClient.Create(ctx, referral)).To(Succeed())

		c, err := renderAccrualConfig(program, partners, []loyaltyv1alpha1.ReferralDiscount{*referral})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Partners).To(HaveLen(3))
		Expect(c.Referrals).To(HaveLen(1))
		Expect(c.Referrals[0].Referrer).To(Equal(ns + "/grafikagentur-linie"))
		Expect(loadRendered(c)).To(Succeed())
	})

	It("renders a minimal program, all defaults, and a PostgreSQL one", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		minimal := &loyaltyv1alpha1.LoyaltyProgram{
			ObjectMeta: metav1.ObjectMeta{Name: "minimal", Namespace: ns},
			Spec: loyaltyv1alpha1.LoyaltyProgramSpec{
				DisplayName: "Minimal", Currency: "JPY",
				Earning:    loyaltyv1alpha1.EarningRules{BaseRate: loyaltyv1alpha1.EarnRate{Points: 1, Per: "100"}},
				Redemption: loyaltyv1alpha1.RedemptionRules{PointValue: "1"},
			},
		}
		Expect(k8sClient.Create(ctx, minimal)).To(Succeed())
		c, err := renderAccrualConfig(minimal, nil, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(loadRendered(c)).To(Succeed())

		pg := minimal.DeepCopy()
		pg.ResourceVersion, pg.Name = "", "on-postgres"
		pg.Spec.Ledger = loyaltyv1alpha1.LedgerSpec{Type: loyaltyv1alpha1.LedgerPostgreSQL,
			PostgreSQL: &loyaltyv1alpha1.PostgreSQLLedger{DSNSecretRef: loyaltyv1alpha1.SecretKeyReference{Name: "db", Key: "dsn"}}}
		pg.Spec.Service.Replicas = 3
		Expect(k8sClient.Create(ctx, pg)).To(Succeed())
		c, err = renderAccrualConfig(pg, nil, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Ledger.DSNFile).To(Equal(accrualapi.LedgerDSNFile))
		Expect(loadRendered(c)).To(Succeed())
	})
})

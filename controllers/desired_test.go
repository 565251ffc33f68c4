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
	"bytes"
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

const testImage = "ghcr.io/treue-dev/treue:v0.1.0"

// testManagerNamespace is where the suite's manager says it runs.
const testManagerNamespace = "treue-system"

// sampleObjects renders the objects of the sample program, or of a change of it.
func sampleObjects(t fataler, change func(*loyaltyv1alpha1.LoyaltyProgram)) programObjects {
	t.Helper()
	program := decodeSamples[loyaltyv1alpha1.LoyaltyProgram](t, "loyalty_v1alpha1_loyaltyprogram.yaml")[0]
	partners := decodeSamples[loyaltyv1alpha1.Partner](t, "loyalty_v1alpha1_partner.yaml")
	if change != nil {
		change(&program)
	}
	c, err := renderAccrualConfig(&program, partners, nil)
	if err != nil {
		t.Fatal(err)
	}
	config, _ := json.MarshalIndent(c, "", "  ")
	hash := configHash(config, map[string][]byte{"partner-a.sha256": []byte("abc")})
	namespaces := make([]string, 0, len(partners))
	for _, p := range partners {
		namespaces = append(namespaces, p.Namespace)
	}
	return desiredProgramObjects(&program, config, hash, testImage, namespaces)
}

func (o programObjects) all() []client.Object {
	out := []client.Object{o.ServiceAccount, o.ConfigMap, o.Service}
	if o.StatefulSet != nil {
		out = append(out, o.StatefulSet)
	}
	if o.Deployment != nil {
		out = append(out, o.Deployment)
	}
	if o.PodDisruptionBudget != nil {
		out = append(out, o.PodDisruptionBudget)
	}
	return append(out, o.NetworkPolicy)
}

func asYAML(t *testing.T, objs []client.Object) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

func postgres3(p *loyaltyv1alpha1.LoyaltyProgram) {
	p.Spec.Ledger = loyaltyv1alpha1.LedgerSpec{Type: loyaltyv1alpha1.LedgerPostgreSQL,
		PostgreSQL: &loyaltyv1alpha1.PostgreSQLLedger{DSNSecretRef: loyaltyv1alpha1.SecretKeyReference{Name: "stadtbonus-db", Key: "dsn"}}}
	p.Spec.Service.Replicas = 3
}

func TestDesiredProgramObjects(t *testing.T) {
	embedded := sampleObjects(t, nil)
	golden(t, "stadtbonus-objects.yaml", asYAML(t, embedded.all()))
	pg := sampleObjects(t, postgres3)
	golden(t, "stadtbonus-postgres-objects.yaml", asYAML(t, pg.all()))

	// The embedded ledger: a StatefulSet of one, with a volume that outlives it.
	if embedded.Deployment != nil || embedded.PodDisruptionBudget != nil || embedded.StatefulSet == nil {
		t.Fatal("an embedded program is one StatefulSet, without a Deployment or PDB")
	}
	if *embedded.StatefulSet.Spec.Replicas != 1 || len(embedded.StatefulSet.Spec.VolumeClaimTemplates) != 1 {
		t.Error("the StatefulSet must run one replica with a ledger volume")
	}
	// PostgreSQL: a Deployment of N and a PDB.
	if pg.StatefulSet != nil || pg.Deployment == nil || *pg.Deployment.Spec.Replicas != 3 || pg.PodDisruptionBudget == nil {
		t.Fatal("a PostgreSQL program with 3 replicas is a Deployment of 3 with a PDB")
	}
	for name, tmpl := range map[string]programObjects{"embedded": embedded, "postgres": pg} {
		spec := tmpl.podSpec()
		c := spec.Containers[0]
		if !*spec.SecurityContext.RunAsNonRoot || !*c.SecurityContext.ReadOnlyRootFilesystem || *c.SecurityContext.AllowPrivilegeEscalation {
			t.Errorf("%s: the pod must be non-root, read-only, without privilege escalation", name)
		}
		if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Requests == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: probes, requests, and no API token", name)
		}
	}
	// A rule change is a new configuration, a new hash, a new pod template.
	changed := sampleObjects(t, func(p *loyaltyv1alpha1.LoyaltyProgram) { p.Spec.Earning.BaseRate.Per = "1.00" })
	before := embedded.StatefulSet.Spec.Template.Annotations[loyaltyv1alpha1.AnnotationConfigHash]
	after := changed.StatefulSet.Spec.Template.Annotations[loyaltyv1alpha1.AnnotationConfigHash]
	if before == "" || before == after {
		t.Errorf("a rule change left the config hash at %q", after)
	}
	// Only the partners' namespaces and the program's own reach the API port.
	got := embedded.NetworkPolicy.Spec.Ingress[0].From[0].NamespaceSelector.MatchExpressions[0].Values
	want := []string{"baeckerei-korn", "druckerei-blau", "grafikagentur-linie", "stadtbonus"}
	if len(got) != len(want) {
		t.Fatalf("API port open to %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("API port open to %v, want %v", got, want)
		}
	}
}

func (o programObjects) podSpec() *corev1.PodSpec {
	if o.StatefulSet != nil {
		return &o.StatefulSet.Spec.Template.Spec
	}
	return &o.Deployment.Spec.Template.Spec
}

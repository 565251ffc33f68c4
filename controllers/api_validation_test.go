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
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// readObjects decodes every document of a YAML file.
func readObjects(path string) []*unstructured.Unstructured {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		Expect(err).NotTo(HaveOccurred(), "decoding %s", path)
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// invalidExample is one file of testdata/invalid: objects, and the header lines that
// say what the API server's refusal must name.
type invalidExample struct {
	path    string
	wants   []string
	update  bool
	objects []*unstructured.Unstructured
}

func readInvalidExample(path string) invalidExample {
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = f.Close() }()
	ex := invalidExample{path: path}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# want: "):
			ex.wants = append(ex.wants, strings.TrimPrefix(line, "# want: "))
		case strings.HasPrefix(line, "# update:"):
			ex.update = true
		}
	}
	ex.objects = readObjects(path)
	return ex
}

func loyaltyGVKs(u *unstructured.Unstructured) bool {
	return u.GroupVersionKind().Group == loyaltyv1alpha1.GroupVersion.Group
}

var _ = Describe("The v1alpha1 API", func() {
	It("accepts every sample of the StadtBonus network, and each controller reports honestly on it", func(ctx SpecContext) {
		kustomization := struct {
			Resources []string `json:"resources"`
		}{}
		data, err := os.ReadFile(filepath.Join("..", "config", "samples", "kustomization.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(data, &kustomization)).To(Succeed())
		Expect(kustomization.Resources).NotTo(BeEmpty())

		var created []*unstructured.Unstructured
		kinds := map[string]bool{}
		for _, file := range kustomization.Resources {
			for _, obj := range readObjects(filepath.Join("..", "config", "samples", file)) {
				Expect(k8sClient.Create(ctx, obj)).To(Succeed(), "creating %s %s from %s", obj.GetKind(), obj.GetName(), file)
				if loyaltyGVKs(obj) {
					created = append(created, obj)
					kinds[obj.GetKind()] = true
				}
			}
		}
		Expect(kinds).To(HaveLen(4), "the samples hold a program, partners, a cooperation and a referral")

		// Each controller reports on the current generation, and never claims more
		// than it did: envtest runs no pods, so no program is Ready.
		want := map[string][2]string{
			"LoyaltyProgram":     {"False", loyaltyv1alpha1.ReasonWorkloadStarting},
			"Partner":            {"True", loyaltyv1alpha1.ReasonAccepted},
			"PartnerCooperation": {"True", loyaltyv1alpha1.ReasonScheduled},
			"ReferralDiscount":   {"True", loyaltyv1alpha1.ReasonReferralActive},
		}
		for _, obj := range created {
			eventually(ctx, func(g Gomega) {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(obj.GroupVersionKind())
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got)).To(Succeed())
				expectReady(g, got, want[obj.GetKind()][0], want[obj.GetKind()][1])
			}).Should(Succeed(), "%s %s", obj.GetKind(), obj.GetName())
		}
	})

	It("accepts the documented Settlement example", func(ctx SpecContext) {
		ns := newNamespace(ctx)
		for _, obj := range readObjects(filepath.Join("..", "testdata", "valid", "settlement.yaml")) {
			obj.SetNamespace(ns)
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
		}
	})

	paths, err := filepath.Glob(filepath.Join("..", "testdata", "invalid", "*.yaml"))
	if err != nil || len(paths) < 25 {
		panic("testdata/invalid must hold at least 25 examples")
	}
	for _, path := range paths {
		It("refuses "+filepath.Base(path)+" with one error that names the field", func(ctx SpecContext) {
			ex := readInvalidExample(path)
			Expect(ex.wants).NotTo(BeEmpty(), "%s has no '# want:' line", path)
			ns := newNamespace(ctx)
			for _, obj := range ex.objects {
				obj.SetNamespace(ns)
			}

			var err error
			var target *unstructured.Unstructured
			if ex.update {
				Expect(ex.objects).To(HaveLen(2), "an update example holds the object and its update")
				Expect(k8sClient.Create(ctx, ex.objects[0])).To(Succeed(), "the original of an update example must be valid")
				target = ex.objects[1]
				// The controller may write the status in between; retry only on that.
				eventually(ctx, func() error {
					latest := &unstructured.Unstructured{}
					latest.SetGroupVersionKind(target.GroupVersionKind())
					Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(target), latest)).To(Succeed())
					target.SetResourceVersion(latest.GetResourceVersion())
					err = k8sClient.Update(ctx, target)
					if apierrors.IsConflict(err) {
						return err
					}
					return nil
				}).Should(Succeed())
			} else {
				Expect(ex.objects).To(HaveLen(1))
				target = ex.objects[0]
				err = k8sClient.Create(ctx, target)
			}

			Expect(err).To(HaveOccurred(), "the API server accepted %s", path)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			for _, want := range ex.wants {
				Expect(err.Error()).To(ContainSubstring(want))
			}
			var status apierrors.APIStatus
			Expect(errors.As(err, &status)).To(BeTrue())
			// After a schema error the API server skips the CEL rules and says so in
			// a cause of its own; that is not a second broken rule.
			var broken []metav1.StatusCause
			for _, cause := range status.Status().Details.Causes {
				if !strings.Contains(cause.Message, "some validation rules were not checked") {
					broken = append(broken, cause)
				}
			}
			Expect(broken).To(HaveLen(1), "each example breaks exactly one rule, but the API server found: %v", err)

			if !ex.update {
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(target.GroupVersionKind())
				Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(target), got))).To(BeTrue())
			}
		})
	}

	It("applies the defaults the README documents", func(ctx SpecContext) {
		defaults := readmeDefaults(filepath.Join("..", "README.md"))
		Expect(defaults).To(HaveLen(len(minimalObjects())), "the README documents defaults for every kind")
		ns := newNamespace(ctx)
		for kind, obj := range minimalObjects() {
			Expect(defaults).To(HaveKey(kind))
			obj.SetNamespace(ns)
			Expect(k8sClient.Create(ctx, obj)).To(Succeed(), "creating a minimal %s", kind)
			for _, d := range defaults[kind] {
				got, found := lookup(obj.Object, d.field)
				Expect(found).To(BeTrue(), "%s: %s has no default", kind, d.field)
				Expect(asJSON(got)).To(MatchJSON(asJSON(d.value)), "%s: default of %s", kind, d.field)
			}
		}
	})
})

// expectReady checks that an object's status is of its current generation and
// that its Ready condition has the status and reason.
func expectReady(g Gomega, u *unstructured.Unstructured, status, reason string) {
	observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	g.Expect(observed).To(Equal(u.GetGeneration()))
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var ready map[string]any
	for _, c := range conditions {
		if m := c.(map[string]any); m["type"] == loyaltyv1alpha1.ConditionReady {
			ready = m
		}
	}
	g.Expect(ready).NotTo(BeNil(), "no Ready condition")
	g.Expect(ready["status"]).To(Equal(status))
	g.Expect(ready["reason"]).To(Equal(reason))
	g.Expect(ready["observedGeneration"]).To(BeEquivalentTo(u.GetGeneration()))
}

type documentedDefault struct {
	field string
	value any
}

// readmeDefaults reads the table under "## Defaults" in the README: | kind | field | default |.
func readmeDefaults(path string) map[string][]documentedDefault {
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	_, section, found := strings.Cut(string(data), "\n## Defaults\n")
	Expect(found).To(BeTrue(), "the README has no '## Defaults' section")
	section, _, _ = strings.Cut(section, "\n## ")
	out := map[string][]documentedDefault{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[2]), "`") {
			continue
		}
		kind := strings.TrimSpace(cells[1])
		field := strings.Trim(strings.TrimSpace(cells[2]), "`")
		raw := strings.Trim(strings.TrimSpace(cells[3]), "`")
		var value any
		Expect(yaml.Unmarshal([]byte(raw), &value)).To(Succeed(), "default %q of %s", raw, field)
		out[kind] = append(out[kind], documentedDefault{field: field, value: value})
	}
	return out
}

// lookup follows a dotted path such as "spec.tiers.levels.0.earnMultiplier"
// through maps and lists.
func lookup(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func asJSON(v any) string {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// minimalObjects are the smallest valid object of each kind: only what is
// required, plus a tier level and a referral guard so that their defaults show.
func minimalObjects() map[string]*unstructured.Unstructured {
	parse := func(s string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(s), &u.Object)).To(Succeed())
		return u
	}
	return map[string]*unstructured.Unstructured{
		"LoyaltyProgram": parse(`
apiVersion: loyalty.treue.dev/v1alpha1
kind: LoyaltyProgram
metadata: {name: minimal}
spec:
  displayName: Minimal
  currency: EUR
  earning: {baseRate: {points: 1, per: "1.00"}}
  redemption: {pointValue: "0.01"}
  tiers: {levels: [{name: Basic, threshold: 0}]}
  ledger: {embedded: {}}
`),
		"PartnerCooperation": parse(`
apiVersion: loyalty.treue.dev/v1alpha1
kind: PartnerCooperation
metadata: {name: minimal}
spec:
  programRef: {name: minimal}
  members:
  - {partnerRef: {name: a}, issuancePrice: "0.01", redemptionPrice: "0.008"}
  - {partnerRef: {name: b}, issuancePrice: "0.01", redemptionPrice: "0.008"}
  schedule: {cron: "@weekly"}
`),
		"ReferralDiscount": parse(`
apiVersion: loyalty.treue.dev/v1alpha1
kind: ReferralDiscount
metadata: {name: minimal}
spec:
  programRef: {name: minimal}
  referrer: {name: a}
  referee: {name: b}
  discount: {type: Fixed, amount: "5.00"}
  commission: {type: Flat, amount: "1.00"}
`),
	}
}

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
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fataler is what the sample helpers need of a test: *testing.T or GinkgoT().
type fataler interface {
	Helper()
	Fatal(args ...any)
}

// decodeSamples reads every document of a sample file into T.
func decodeSamples[T any](t fataler, file string) []T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "config", "samples", file))
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []T
	for {
		var v T
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./controllers -run %s -update to write it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is meant, run with -update and review the diff.\ngot:\n%s", path, got)
	}
}

func TestRenderAccrualConfigOfTheSample(t *testing.T) {
	program := decodeSamples[loyaltyv1alpha1.LoyaltyProgram](t, "loyalty_v1alpha1_loyaltyprogram.yaml")[0]
	partners := decodeSamples[loyaltyv1alpha1.Partner](t, "loyalty_v1alpha1_partner.yaml")
	referrals := decodeSamples[loyaltyv1alpha1.ReferralDiscount](t, "loyalty_v1alpha1_referraldiscount.yaml")

	c, err := renderAccrualConfig(&program, partners, referrals)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "stadtbonus-accrual.json", append(got, '\n'))

	// The order the objects come in does not change a byte.
	reversed := []loyaltyv1alpha1.Partner{partners[2], partners[0], partners[1]}
	again, _ := renderAccrualConfig(&program, reversed, referrals)
	if b, _ := json.MarshalIndent(again, "", "  "); !bytes.Equal(b, got) {
		t.Error("rendering depends on the order of the partners")
	}

	// A referral of another program is refused, not rendered.
	other := referrals[0].DeepCopy()
	other.Spec.ProgramRef.Name = "elsewhere"
	if _, err := renderAccrualConfig(&program, partners, []loyaltyv1alpha1.ReferralDiscount{*other}); err == nil {
		t.Error("rendered a referral discount of another program")
	}
}

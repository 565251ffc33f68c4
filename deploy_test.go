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

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The deployable manifests are tested as a cluster would receive them: rendered by
// kustomize (config/default) and by Helm (charts/treue).

func renderKustomize(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kubectl from source and sets it")
	}
	return render(t, exec.Command(filepath.Join(assets, "kubectl"), "kustomize", "config/default"))
}

func renderHelm(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	helm := os.Getenv("TREUE_HELM")
	if helm == "" {
		t.Fatal("TREUE_HELM is not set: run `make test`, which builds helm from source and sets it")
	}
	if out, err := exec.Command(helm, "lint", "--strict", "charts/treue").CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	return render(t, exec.Command(helm, append([]string{"template", "treue", "charts/treue", "--namespace", "treue-system"}, args...)...))
}

func render(t *testing.T, cmd *exec.Cmd) []*unstructured.Unstructured {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decoding the output of %s: %v", cmd, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

func checkManifests(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	var crds, deployments int
	for _, u := range objs {
		switch u.GetKind() {
		case "CustomResourceDefinition":
			crds++
		case "Deployment":
			deployments++
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
				t.Fatal(err)
			}
			checkManagerDeployment(t, &d)
		case "ClusterRole", "Role":
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
				t.Fatal(err)
			}
			for _, rule := range r.Rules {
				for _, list := range [][]string{rule.APIGroups, rule.Resources, rule.Verbs, rule.NonResourceURLs} {
					if slices.Contains(list, "*") {
						t.Errorf("%s %s grants a wildcard: %+v", u.GetKind(), u.GetName(), rule)
					}
				}
			}
		}
	}
	if crds != 5 {
		t.Errorf("rendered %d CRDs, want the 5 kinds of loyalty.treue.dev", crds)
	}
	if deployments != 1 {
		t.Errorf("rendered %d Deployments, want the manager alone", deployments)
	}
}

func checkManagerDeployment(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	pod := d.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: the pod must run as non-root", d.Name)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: want one container, got %d", d.Name, len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: the container needs a read-only root filesystem and no privilege escalation", d.Name)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.Resources.Requests == nil {
		t.Errorf("%s: the container needs probes and resource requests", d.Name)
	}
	// The manifest's arguments must be flags the binary really has.
	if len(c.Args) == 0 || c.Args[0] != "manager" {
		t.Fatalf("%s: args %q do not start with the manager subcommand", d.Name, c.Args)
	}
	opts, err := parseManagerFlags(c.Args[1:], io.Discard)
	if err != nil {
		t.Fatalf("%s: args %q: %v", d.Name, c.Args, err)
	}
	if !opts.leaderElect || !opts.secureMetrics {
		t.Errorf("%s: leader election and secure metrics must be on, args %q", d.Name, c.Args)
	}
}

func TestKustomizeDefault(t *testing.T) {
	checkManifests(t, renderKustomize(t))
}

func TestHelmChart(t *testing.T) {
	objs := renderHelm(t)
	checkManifests(t, objs)
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" && u.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is not kept on uninstall by default", u.GetName())
		}
	}
	for _, u := range renderHelm(t, "--set", "crds.enabled=false") {
		if u.GetKind() == "CustomResourceDefinition" {
			t.Errorf("crds.enabled=false still renders CRD %s", u.GetName())
		}
	}
}

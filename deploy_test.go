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
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
	seen := map[string]bool{}
	for _, u := range objs {
		key := u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
		if seen[key] {
			t.Errorf("%s is rendered twice", key)
		}
		seen[key] = true
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
	// The aggregated roles keep their own names: applied alone they touch no
	// built-in role; every binding names a policy that is rendered with it.
	policies := map[string]bool{}
	for _, u := range objs {
		if u.GetKind() == "ValidatingAdmissionPolicy" {
			policies[u.GetName()] = true
		}
		if u.GetKind() == "ClusterRole" && slices.Contains([]string{"admin", "edit", "view", "cluster-admin"}, u.GetName()) {
			t.Errorf("ClusterRole %s overwrites a built-in role", u.GetName())
		}
	}
	bindings := 0
	for _, u := range objs {
		if u.GetKind() == "ValidatingAdmissionPolicyBinding" {
			bindings++
			if name, _, _ := unstructured.NestedString(u.Object, "spec", "policyName"); !policies[name] {
				t.Errorf("ValidatingAdmissionPolicyBinding %s names policy %q, which is not rendered", u.GetName(), name)
			}
		}
	}
	// The policies name the manager as the rendered Deployment runs it.
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		sa, _, _ := unstructured.NestedString(u.Object, "spec", "template", "spec", "serviceAccountName")
		user := fmt.Sprintf("'system:serviceaccount:%s:%s'", u.GetNamespace(), sa)
		for _, p := range objs {
			if p.GetKind() == "ValidatingAdmissionPolicy" && strings.HasSuffix(p.GetName(), "manager-objects") {
				if conds, _, _ := unstructured.NestedSlice(p.Object, "spec", "matchConditions"); !strings.Contains(fmt.Sprint(conds), user) {
					t.Errorf("policy %s does not match the manager %s: %v", p.GetName(), user, conds)
				}
			}
		}
	}
	if len(policies) < 10 || bindings != len(policies) {
		t.Errorf("rendered %d admission policies and %d bindings, want every policy of controllers.AdmissionPolicies bound once", len(policies), bindings)
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

func findObject(objs []*unstructured.Unstructured, kind, namespace, name string) *unstructured.Unstructured {
	for _, u := range objs {
		if u.GetKind() == kind && u.GetNamespace() == namespace && u.GetName() == name {
			return u
		}
	}
	return nil
}

// The chart's options: narrowed to namespaces, the manager gets its rules in a
// Role per namespace and reads only Namespaces cluster-wide; the optional
// PodDisruptionBudget, NetworkPolicy and ServiceMonitor render and fit together.
func TestHelmChartOptions(t *testing.T) {
	all := renderHelm(t)
	cluster := findObject(all, "ClusterRole", "", "treue-manager")
	if cluster == nil {
		t.Fatal("no manager ClusterRole by default")
	}
	for _, u := range renderHelm(t, "--set", "admissionPolicy.enabled=false") {
		if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") {
			t.Errorf("admissionPolicy.enabled=false still renders %s %s", u.GetKind(), u.GetName())
		}
	}
	objs := renderHelm(t, "--set", "watchNamespaces={shops,networks}", "--set", "podDisruptionBudget.enabled=true",
		"--set", "networkPolicy.enabled=true", "--set", "serviceMonitor.enabled=true", "--set", "replicaCount=2")
	checkManifests(t, objs)
	if findObject(objs, "ClusterRole", "", "treue-manager") != nil {
		t.Error("watchNamespaces still renders the cluster-wide manager ClusterRole")
	}
	for _, ns := range []string{"shops", "networks"} {
		role := findObject(objs, "Role", ns, "treue-manager")
		if role == nil || findObject(objs, "RoleBinding", ns, "treue-manager") == nil {
			t.Fatalf("no manager Role and RoleBinding in %s", ns)
		}
		if fmt.Sprint(role.Object["rules"]) != fmt.Sprint(cluster.Object["rules"]) {
			t.Errorf("the Role in %s grants other rules than the ClusterRole", ns)
		}
	}
	namespaces := findObject(objs, "ClusterRole", "", "treue-manager-namespaces")
	if namespaces == nil || fmt.Sprint(namespaces.Object["rules"]) != "[map[apiGroups:[] resources:[namespaces] verbs:[get list watch]]]" {
		t.Errorf("the cluster-wide rules with watchNamespaces: %v", namespaces)
	}
	d := findObject(objs, "Deployment", "treue-system", "treue-manager")
	var dep appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(d.Object, &dep); err != nil {
		t.Fatal(err)
	}
	opts, err := parseManagerFlags(dep.Spec.Template.Spec.Containers[0].Args[1:], io.Discard)
	if err != nil || !slices.Equal(opts.watchNamespaces, []string{"shops", "networks"}) {
		t.Errorf("the manager watches %v (%v), want shops and networks", opts.watchNamespaces, err)
	}
	for _, kind := range []string{"PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"} {
		if findObject(objs, kind, "treue-system", "treue-manager") == nil {
			t.Errorf("no %s", kind)
		}
	}
	// The ServiceMonitor finds the metrics Service, which finds the manager's pods.
	svc := findObject(objs, "Service", "treue-system", "treue-manager-metrics")
	sm := findObject(objs, "ServiceMonitor", "treue-system", "treue-manager")
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	podSelector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	for k, v := range selector {
		if svc.GetLabels()[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s; the Service has %v", k, v, svc.GetLabels())
		}
	}
	for k, v := range podSelector {
		if dep.Spec.Template.Labels[k] != v {
			t.Errorf("the Service selects %s=%s; the pods have %v", k, v, dep.Spec.Template.Labels)
		}
	}
	for _, kind := range []string{"PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"} {
		if findObject(all, kind, "treue-system", "treue-manager") != nil {
			t.Errorf("%s renders by default", kind)
		}
	}

	// values.schema.json refuses a namespace that cannot exist.
	helm := os.Getenv("TREUE_HELM")
	out, err := exec.Command(helm, "template", "treue", "charts/treue", "--set", "watchNamespaces={Shops_1}").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "watchNamespaces") {
		t.Errorf("a bad namespace was accepted: %v\n%s", err, out)
	}
}

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
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
)

// The suite runs every controller in a real manager against a real kube-apiserver
// and etcd, built from source by hack/control-plane.sh and found through
// KUBEBUILDER_ASSETS (`make test` sets it).
var (
	cfg       *rest.Config
	k8sClient client.Client
	testEnv   *envtest.Environment
	scheme    = runtime.NewScheme()
	cancel    context.CancelFunc
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(),
		"KUBEBUILDER_ASSETS is not set: run `make test`, which builds etcd and kube-apiserver from source and sets it")

	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(loyaltyv1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	// The manager runs as it does in a cluster: as its service account, with
	// the ClusterRole `make manifests` generates and under the admission
	// policies the chart installs. Every spec's writes by the manager pass them.
	mgr, err := ctrl.NewManager(asManager(context.Background()), ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions(),
		NewClient:              countingClient,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	Expect(err).NotTo(HaveOccurred())
	var ctx context.Context
	ctx, cancel = context.WithCancel(context.Background())
	Expect(SetupWithManager(ctx, mgr, Options{MaxConcurrentReconciles: 2, Image: testImage, ManagerNamespace: testManagerNamespace,
		ReferralStats: testStats, ReferralStatsInterval: time.Second, EventSinks: testSinks, EventSinksInterval: time.Second})).To(Succeed())

	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

var _ = Describe("The control plane built from source", func() {
	It("reports the Kubernetes version it was built for", func() {
		info, err := discovery.NewDiscoveryClientForConfigOrDie(cfg).ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		Expect(info.GitVersion).NotTo(HavePrefix("v0.0.0"), "kube-apiserver was built without its version stamp")
		if want := os.Getenv("KUBE_VERSION"); want != "" {
			Expect(info.GitVersion).To(Equal(want))
		}
	})
})

// testManagerUser is the manager's identity in the suite, as kustomize names it.
var testManagerUser = "system:serviceaccount:" + testManagerNamespace + ":treue-manager"

// asManager grants testManagerUser the manager's generated ClusterRole, installs
// the admission policies for it, and returns a configuration that impersonates it.
func asManager(ctx context.Context) *rest.Config {
	role, err := managerRole()
	Expect(err).NotTo(HaveOccurred())
	role.Name = "treue-manager"
	Expect(k8sClient.Create(ctx, role)).To(Succeed())
	Expect(k8sClient.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "treue-manager"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: testManagerNamespace, Name: "treue-manager"}},
	})).To(Succeed())
	for _, obj := range AdmissionPolicies(PolicyOptions{NamePrefix: "treue-", ManagerUser: testManagerUser}) {
		Expect(k8sClient.Create(ctx, obj)).To(Succeed())
	}
	return impersonating(testManagerUser)
}

// managerRole is the manager's ClusterRole as `make manifests` generates it.
func managerRole() (*rbacv1.ClusterRole, error) {
	data, err := os.ReadFile(filepath.Join("..", "config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	role := &rbacv1.ClusterRole{}
	return role, yaml.Unmarshal(data, role)
}

// impersonating is the suite's configuration acting as a service account.
func impersonating(user string) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:authenticated",
		"system:serviceaccounts:" + strings.Split(user, ":")[2]}}
	return c
}

// managerWrites counts every write request the manager's controllers make, so
// that a spec can prove a settled object costs none.
var managerWrites atomic.Int64

// countingClient is the manager's client, counting its writes.
func countingClient(config *rest.Config, options client.Options) (client.Client, error) {
	c, err := client.NewWithWatch(config, options)
	if err != nil {
		return nil, err
	}
	count := func() { managerWrites.Add(1) }
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			count()
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			count()
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			count()
			return c.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			count()
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			count()
			return c.Delete(ctx, obj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			count()
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			count()
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
	}), nil
}

// eventually polls fn until it passes, for at most 30 s: a spec whose
// expectation never holds fails instead of waiting for the suite's timeout.
func eventually(ctx context.Context, fn any) types.AsyncAssertion {
	return Eventually(fn).WithContext(ctx).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond)
}

// newNamespace creates a namespace of the spec's own, so specs never see each
// other's objects.
func newNamespace(ctx context.Context) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "treue-test-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

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
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/controllers"
	"github.com/treue-dev/treue/internal/version"
)

// managerOptions are the flags of `treue manager`.
type managerOptions struct {
	metricsAddr         string
	probeAddr           string
	secureMetrics       bool
	enableHTTP2         bool
	leaderElect         bool
	leaderElectionNS    string
	maxConcurrentRecons int
	pprofAddr           string
	referralStatsEvery  time.Duration
	watchNamespaces     []string
	image               string
	apiCompression      bool
	namespace           string
	zap                 zap.Options
}

func parseManagerFlags(args []string, stderr io.Writer) (*managerOptions, error) {
	o := &managerOptions{zap: zap.Options{Development: false}}
	fs := flag.NewFlagSet("treue manager", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8443",
		"Address the metrics endpoint binds to; :8443 serves HTTPS, :8080 HTTP with --metrics-secure=false, 0 disables it.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, authenticated and authorised through the API server.")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Enable HTTP/2 for the metrics server; off by default against the HTTP/2 Stream Cancellation and Rapid Reset CVEs.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Elect a leader so that only one of several manager replicas reconciles at a time.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader election lease; empty means the namespace the manager runs in.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0",
		"Address the Go profiler (net/http/pprof) binds to, for diagnostics; 0 disables it. Bind it to localhost only.")
	fs.Func("watch-namespaces", "Comma-separated namespaces to watch; empty watches the whole cluster. "+
		"The manager needs its rules only in these namespaces (plus reading Namespaces).", func(v string) error {
		for _, ns := range strings.Split(v, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				o.watchNamespaces = append(o.watchNamespaces, ns)
			}
		}
		return nil
	})
	fs.DurationVar(&o.referralStatsEvery, "referral-stats-interval", 5*time.Minute,
		"Least time between two reads of a referral agreement's counts from its program's service.")
	fs.IntVar(&o.maxConcurrentRecons, "max-concurrent-reconciles", 8,
		"Reconciles each controller runs at once; they wait on the API server far more than they compute (8 settles 1,000 programs faster than 4: bench-operator).")
	fs.BoolVar(&o.apiCompression, "kube-api-compression", false,
		"Accept gzip from the Kubernetes API server, watch streams included; off by default: every watch event is compressed on its own, "+
			"which costs the API server and the manager CPU to save little on the cluster's network.")
	fs.StringVar(&o.image, "accrual-image", defaultImage(), "Image of the accrual services: the operator's own (env TREUE_IMAGE).")
	fs.StringVar(&o.namespace, "manager-namespace", defaultNamespace(),
		"Namespace the manager runs in, which each accrual service's NetworkPolicy admits (the manager reads /v1/stats); "+
			"empty when it runs outside the cluster. Default: env POD_NAMESPACE, else the service account's namespace.")
	o.zap.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, errors.New("treue manager takes no arguments")
	}
	return o, nil
}

func runManager(args []string, stderr io.Writer) int {
	opts, err := parseManagerFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		_, _ = io.WriteString(stderr, err.Error()+"\n")
		return exitUsage
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(loyaltyv1alpha1.AddToScheme(scheme))

	var tlsOpts []func(*tls.Config)
	if !opts.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   opts.metricsAddr,
		SecureServing: opts.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if opts.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	cfg := ctrl.GetConfigOrDie()
	cfg.DisableCompression = !opts.apiCompression
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controllers.CacheOptions(opts.watchNamespaces...),
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        opts.probeAddr,
		PprofBindAddress:              opts.pprofAddr,
		LeaderElection:                opts.leaderElect,
		LeaderElectionID:              "manager.loyalty.treue.dev",
		LeaderElectionNamespace:       opts.leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		log.Error(err, "Failed to create the manager")
		return exitError
	}
	ctx := ctrl.SetupSignalHandler()
	if err := controllers.SetupWithManager(ctx, mgr, controllers.Options{MaxConcurrentReconciles: opts.maxConcurrentRecons, Image: opts.image,
		ReferralStatsInterval: opts.referralStatsEvery, ManagerNamespace: opts.namespace}); err != nil {
		log.Error(err, "Failed to set up the controllers")
		return exitError
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the health check")
		return exitError
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		log.Error(err, "Failed to add the readiness check")
		return exitError
	}

	log.Info("Starting the manager", "version", version.Version, "leaderElection", opts.leaderElect, "watchNamespaces", opts.watchNamespaces)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Manager stopped with an error")
		return exitError
	}
	return exitOK
}

// defaultImage is the operator's own image, which also runs the accrual services:
// defaultNamespace is the manager's namespace: POD_NAMESPACE when the Deployment
// sets it, else the one its service account token was issued in, else none.
func defaultNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// TREUE_IMAGE when the Deployment sets it, else the release's tag.
func defaultImage() string {
	if image := os.Getenv("TREUE_IMAGE"); image != "" {
		return image
	}
	return "ghcr.io/treue-dev/treue:" + version.Version
}

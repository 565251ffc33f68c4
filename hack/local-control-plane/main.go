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

// Command local-control-plane runs etcd and kube-apiserver on loopback from the
// binaries hack/control-plane.sh built (found through KUBEBUILDER_ASSETS), writes
// an admin kubeconfig, and stops both on SIGINT or SIGTERM. `make run` uses it when
// no cluster answers in KUBECONFIG. Its state is ephemeral: a new run starts empty.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func main() {
	// controller-runtime registers its own -kubeconfig on the global flag set.
	fs := flag.NewFlagSet("local-control-plane", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", filepath.Join("bin", "kubeconfig"), "Where to write the admin kubeconfig.")
	_ = fs.Parse(os.Args[1:])
	if err := run(*kubeconfig); err != nil {
		fmt.Fprintf(os.Stderr, "local-control-plane: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig string) error {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set: run hack/control-plane.sh build first, or use make run")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	env := &envtest.Environment{}
	if _, err := env.Start(); err != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w", err)
	}
	defer func() {
		_ = os.Remove(kubeconfig)
		if err := env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "local-control-plane: stopping: %v\n", err)
		}
		fmt.Fprintln(os.Stderr, "local-control-plane: stopped etcd and kube-apiserver")
	}()

	admin, err := env.AddUser(envtest.User{Name: "treue-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	data, err := admin.KubeConfig()
	if err != nil {
		return fmt.Errorf("rendering the admin kubeconfig: %w", err)
	}
	// Write to a temporary name first: whoever waits for the file must never read
	// half of it.
	tmp := kubeconfig + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	if err := os.Rename(tmp, kubeconfig); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	fmt.Fprintf(os.Stderr, "local-control-plane: kube-apiserver at %s, kubeconfig %s\n", env.Config.Host, kubeconfig)

	<-ctx.Done()
	return nil
}

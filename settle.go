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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/settlement/job"
	"github.com/treue-dev/treue/internal/version"
)

// runSettle is `treue settle`: one settlement run of one cooperation and period.
func runSettle(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("treue settle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cooperation, tokenFile string
	o := job.Options{}
	fs.StringVar(&cooperation, "cooperation", "", "The PartnerCooperation to settle, as NAMESPACE/NAME.")
	fs.StringVar(&o.Period, "period", "", "The period to settle, such as 2026-W47 or 2026-11; empty settles the last closed one.")
	fs.StringVar(&o.Endpoint, "endpoint", "", "The program's accrual service; empty reads it from the program's status.")
	fs.Func("exclude", "A partner (NAMESPACE/NAME) another cooperation settles; repeat for several.", func(v string) error {
		o.Exclude = append(o.Exclude, v)
		return nil
	})
	fs.StringVar(&tokenFile, "token-file", "/etc/treue/settlement/settlement-token", "A file with the program's settlement token.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	ns, name, ok := strings.Cut(cooperation, "/")
	if !ok || ns == "" || name == "" || fs.NArg() > 0 {
		_, _ = fmt.Fprintln(stderr, "treue settle: give --cooperation NAMESPACE/NAME, and no arguments")
		return exitUsage
	}
	o.Cooperation = types.NamespacedName{Namespace: ns, Name: name}
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "treue settle: reading the settlement token: %v\n", err)
		return exitUsage
	}
	o.Token = strings.TrimSpace(string(token))
	o.Log = slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "settle", "version", version.Version)

	cfg, err := ctrl.GetConfig()
	if err != nil {
		o.Log.Error("No Kubernetes configuration", "err", err)
		return exitError
	}
	scheme := runtime.NewScheme()
	if err := loyaltyv1alpha1.AddToScheme(scheme); err != nil {
		return exitError
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		o.Log.Error("Cannot reach the API server", "err", err)
		return exitError
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	out, err := job.Run(ctx, c, o)
	if err != nil {
		o.Log.Error("The settlement failed", "err", err)
		return exitError
	}
	verb := "settled"
	if out.Verified {
		verb = "verified"
	}
	_, _ = fmt.Fprintf(stdout, "%s %s: %s (checksum %s)\n", verb, out.Period.ID, out.Name, out.Result.Checksum)
	return exitOK
}

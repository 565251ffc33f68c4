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
	"io"
	"log/slog"
	"os/signal"
	"syscall"
	"time"

	"github.com/treue-dev/treue/internal/accrual"
	"github.com/treue-dev/treue/internal/version"
)

// runAccrual is `treue accrual`: the point-accrual service of one program.
func runAccrual(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("treue accrual", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := accrual.Options{}
	fs.StringVar(&o.ConfigPath, "config", "/etc/treue/accrual.json", "The configuration file the operator renders.")
	fs.StringVar(&o.SecretsDir, "secrets-dir", "/etc/treue/secrets", "The directory of credential hashes and the ledger DSN.")
	fs.StringVar(&o.Listen, "listen", ":8080", "Address of the API, /openapi.json and the probes.")
	fs.StringVar(&o.MetricsAddr, "metrics-listen", ":9090", "Address of /metrics.")
	fs.DurationVar(&o.SweepInterval, "sweep-interval", time.Hour, "How often expired lots and birthday bonuses are written; 0 disables.")
	fs.DurationVar(&o.ShutdownGrace, "shutdown-grace", 25*time.Second, "How long in-flight requests may take after SIGTERM.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	o.Log = slog.New(slog.NewJSONHandler(stderr, nil)).With("component", "accrual", "version", version.Version)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := accrual.Run(ctx, o); err != nil {
		o.Log.Error("The accrual service stopped", "err", err)
		if errors.Is(err, accrual.ErrConfig) {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}

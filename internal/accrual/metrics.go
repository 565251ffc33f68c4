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

package accrual

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	pointsEarned  prometheus.Counter
	pointsRedeem  prometheus.Counter
	pointsExpired prometheus.Counter
	ledgerErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "treue_accrual_requests_total", Help: "API requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "treue_accrual_request_duration_seconds", Help: "API request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		pointsEarned:  prometheus.NewCounter(prometheus.CounterOpts{Name: "treue_accrual_points_earned_total", Help: "Points credited for purchases."}),
		pointsRedeem:  prometheus.NewCounter(prometheus.CounterOpts{Name: "treue_accrual_points_redeemed_total", Help: "Points redeemed at partners."}),
		pointsExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "treue_accrual_points_expired_total", Help: "Points expired."}),
		ledgerErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "treue_accrual_ledger_errors_total", Help: "Requests that failed inside the ledger."}),
	}
	register(reg, m.requests, m.latency, m.pointsEarned, m.pointsRedeem, m.pointsExpired, m.ledgerErrors)
	return m
}

// register registers collectors, once however many servers share reg.
func register(reg prometheus.Registerer, cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				panic(err)
			}
		}
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

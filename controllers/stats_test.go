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
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
)

// The operator reads referral counts with the program's settlement token.
func TestHTTPStatsUsesTheSettlementToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/stats" || r.Header.Get("Authorization") != "Bearer st_secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(accrualapi.Stats{Referrals: map[string]accrualapi.ReferralStats{"city/r": {CodesIssued: 7}}})
	}))
	defer srv.Close()
	program := &loyaltyv1alpha1.LoyaltyProgram{ObjectMeta: metav1.ObjectMeta{Namespace: "city", Name: "city"},
		Status: loyaltyv1alpha1.LoyaltyProgramStatus{Endpoint: srv.URL}}
	tokens := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "city", Name: "city-accrual-tokens"},
		Data: map[string][]byte{settlementTokenKey: []byte("st_secret")}}
	c := fake.NewClientBuilder().WithObjects(tokens).Build()
	st, err := httpStats{c: c, http: srv.Client()}.ReadStats(context.Background(), program)
	if err != nil || st.Referrals["city/r"].CodesIssued != 7 {
		t.Fatalf("stats %+v, %v", st, err)
	}
	tokens.Data[settlementTokenKey] = []byte("wrong")
	c = fake.NewClientBuilder().WithObjects(tokens).Build()
	if _, err := (httpStats{c: c, http: srv.Client()}).ReadStats(context.Background(), program); err == nil {
		t.Fatal("a refused read gave no error")
	}
	program.Status.Endpoint = ""
	if _, err := (httpStats{c: c, http: srv.Client()}).ReadStats(context.Background(), program); err == nil {
		t.Fatal("a program without an endpoint gave no error")
	}
}

// countingStats counts reads.
type countingStats struct{ reads int }

func (c *countingStats) ReadStats(context.Context, *loyaltyv1alpha1.LoyaltyProgram) (accrualapi.Stats, error) {
	c.reads++
	return accrualapi.Stats{Referrals: map[string]accrualapi.ReferralStats{"city/r": {CodesIssued: int64(c.reads)}}}, nil
}

// However often an agreement reconciles, its counts are read at most once per
// interval, and written only when they change.
func TestReferralCountsAreReadAtMostOncePerInterval(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	stats := &countingStats{}
	r := &ReferralDiscountReconciler{Stats: stats, StatsInterval: 5 * time.Minute, Now: func() time.Time { return now }}
	rd := &loyaltyv1alpha1.ReferralDiscount{ObjectMeta: metav1.ObjectMeta{Namespace: "city", Name: "r"}}
	program := &loyaltyv1alpha1.LoyaltyProgram{}
	for range 10 {
		r.refreshStats(context.Background(), rd, program)
		now = now.Add(10 * time.Second)
	}
	if stats.reads != 1 || rd.Status.CodesIssued != 1 {
		t.Fatalf("%d reads in 100 s, codes %d; want 1 read", stats.reads, rd.Status.CodesIssued)
	}
	now = now.Add(5 * time.Minute)
	r.refreshStats(context.Background(), rd, program)
	if stats.reads != 2 || rd.Status.CodesIssued != 2 || !rd.Status.StatsUpdatedAt.Time.Equal(now) {
		t.Fatalf("after the interval: %d reads, status %+v", stats.reads, rd.Status)
	}
}

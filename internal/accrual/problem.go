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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/rules"
)

// MaxBodyBytes bounds a request body; a purchase with many lines stays far below.
const MaxBodyBytes = 64 << 10

// problemError is an error with the status and type it answers with.
type problemError struct {
	status int
	slug   string
	title  string
	err    error
}

func (e *problemError) Error() string { return e.err.Error() }
func (e *problemError) Unwrap() error { return e.err }

func badRequest(format string, args ...any) error {
	return &problemError{http.StatusBadRequest, "bad-request", "The request is malformed", fmt.Errorf(format, args...)}
}

func unprocessable(slug, title string, err error) error {
	return &problemError{http.StatusUnprocessableEntity, slug, title, err}
}

// classify maps an error to the response a client can act on. Errors it does not
// know are 500s whose detail is not shown: they are logged instead.
func classify(err error) *problemError {
	var pe *problemError
	if errors.As(err, &pe) {
		return pe
	}
	table := []struct {
		target error
		status int
		slug   string
		title  string
	}{
		{ledger.ErrUnknownMember, http.StatusNotFound, "unknown-member", "No such member"},
		{ledger.ErrUnknownEntry, http.StatusNotFound, "unknown-entry", "No such earning"},
		{ledger.ErrUnknownCommission, http.StatusNotFound, "unknown-commission", "No such commission"},
		{ledger.ErrUnknownCode, http.StatusNotFound, "unknown-code", "No such referral code"},
		{ledger.ErrWrongPartner, http.StatusForbidden, "wrong-partner", "The earning belongs to another partner"},
		{ledger.ErrIdempotencyConflict, http.StatusConflict, "idempotency-conflict", "The Idempotency-Key was used for a different request"},
		{ledger.ErrMemberExists, http.StatusConflict, "member-exists", "The member exists with other details"},
		{ledger.ErrAlreadySettled, http.StatusConflict, "already-settled", "An entry is settled by another settlement"},
		{ledger.ErrWrongCurrency, http.StatusUnprocessableEntity, "wrong-currency", "The currency is not the program's"},
		{ledger.ErrInsufficientPoints, http.StatusUnprocessableEntity, "insufficient-points", "Not enough available points"},
		{ledger.ErrBelowMinimum, http.StatusUnprocessableEntity, "below-minimum-redemption", "Below the minimum redemption"},
		{ledger.ErrReturnExceedsEarn, http.StatusUnprocessableEntity, "return-exceeds-purchase", "The return is more than was paid"},
		{ledger.ErrReferralRefused, http.StatusUnprocessableEntity, "referral-refused", "The referral code does not apply"},
		{rules.ErrBadPurchase, http.StatusUnprocessableEntity, "bad-purchase", "The purchase cannot earn points"},
		{ledger.ErrOutOfRange, http.StatusUnprocessableEntity, "out-of-range", "Beyond the bounds of one write"},
		{ledger.ErrInvalid, http.StatusUnprocessableEntity, "invalid", "The request is invalid"},
	}
	for _, t := range table {
		if errors.Is(err, t.target) {
			return &problemError{t.status, t.slug, t.title, err}
		}
	}
	return &problemError{http.StatusInternalServerError, "internal", "Internal error", err}
}

func writeProblem(w http.ResponseWriter, requestID string, pe *problemError) {
	p := accrualapi.Problem{Type: "https://treue.dev/problems/" + pe.slug, Title: pe.title, Status: pe.status, RequestID: requestID}
	if pe.status < 500 {
		p.Detail = pe.err.Error()
	} else {
		p.Detail = "The request could not be completed; quote the request id to support."
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(pe.status)
	_ = json.NewEncoder(w).Encode(p)
}

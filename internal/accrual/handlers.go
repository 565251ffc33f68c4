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
	"net/http"
	"strconv"
	"time"

	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/rules"
)

// The request bodies of the API. Amounts are integers in minor units of the
// program's currency (cents), points are integers.

type enrollRequest struct {
	Member string `json:"member"`
	// Birthday is "MM-DD".
	Birthday string `json:"birthday,omitempty"`
}

type lineRequest struct {
	Amount   int64  `json:"amount"`
	Category string `json:"category,omitempty"`
}

type earnRequest struct {
	Member       string        `json:"member"`
	Amount       int64         `json:"amount"`
	Currency     string        `json:"currency"`
	Lines        []lineRequest `json:"lines,omitempty"`
	ReferralCode string        `json:"referralCode,omitempty"`
}

type redeemRequest struct {
	Member string `json:"member"`
	Points int64  `json:"points"`
}

type reverseRequest struct {
	EarnID int64 `json:"earnId"`
	Amount int64 `json:"amount"`
}

type adjustRequest struct {
	Member string `json:"member"`
	Points int64  `json:"points"`
	Reason string `json:"reason"`
}

type issueCodeRequest struct {
	Referral string `json:"referral"`
	Member   string `json:"member"`
}

type markRequest struct {
	Settlement string  `json:"settlement"`
	EntryIDs   []int64 `json:"entryIds"`
}

type markCommissionsRequest struct {
	Settlement    string  `json:"settlement"`
	CommissionIDs []int64 `json:"commissionIds"`
}

// memberResponse is a member's balance and tier.
type memberResponse struct {
	Member  string         `json:"member"`
	Balance ledger.Balance `json:"balance"`
	Tier    tierResponse   `json:"tier"`
}

type tierResponse struct {
	Name       string `json:"name,omitempty"`
	Qualifying int64  `json:"qualifying"`
	Next       string `json:"next,omitempty"`
	ToNext     int64  `json:"toNext"`
	Pinned     bool   `json:"pinned"`
}

func meta(who Principal, key string) ledger.Meta {
	return ledger.Meta{Actor: who.String(), Key: key}
}

func positive(field string, v int64) error {
	if v <= 0 {
		return unprocessable("invalid", "The request is invalid", errorf("%s must be more than zero, got %d", field, v))
	}
	return nil
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req enrollRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	lreq := ledger.EnrollRequest{Meta: meta(who, key), Member: req.Member}
	if req.Birthday != "" {
		t, err := time.Parse("01-02", req.Birthday)
		if err != nil {
			return badRequest("birthday %q: want MM-DD, such as \"05-04\"", req.Birthday)
		}
		lreq.Birthday = &rules.Birthday{Month: t.Month(), Day: t.Day()}
	}
	res, err := s.ledger.Enroll(r.Context(), lreq)
	if err != nil {
		return err
	}
	return respond(w, res, res.Replayed)
}

func (s *Server) member(w http.ResponseWriter, r *http.Request, _ Principal) error {
	member := r.PathValue("member")
	days := 30
	if v := r.URL.Query().Get("expiringWithinDays"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3660 {
			return badRequest("expiringWithinDays %q: want a number of days from 0 to 3660", v)
		}
		days = n
	}
	b, err := s.ledger.Balance(r.Context(), member, days)
	if err != nil {
		return err
	}
	st, err := s.ledger.Tier(r.Context(), member)
	if err != nil {
		return err
	}
	tier := tierResponse{Name: st.Name, Qualifying: st.Qualifying, ToNext: st.ToNext, Pinned: st.Pinned}
	if st.Next >= 0 {
		tier.Next = s.cfg.Program.Tiers[st.Next].Name
	}
	return respond(w, memberResponse{Member: member, Balance: b, Tier: tier}, false)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, _ Principal) error {
	before, limit, err := paging(r, "before")
	if err != nil {
		return err
	}
	entries, next, err := s.ledger.History(r.Context(), r.PathValue("member"), before, limit)
	if err != nil {
		return err
	}
	return respond(w, map[string]any{"entries": nonNil(entries), nextCursor: next}, false)
}

func (s *Server) earn(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req earnRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := positive("amount", req.Amount); err != nil {
		return err
	}
	lines := make([]rules.Line, len(req.Lines))
	for i, l := range req.Lines {
		if err := positive("lines["+strconv.Itoa(i)+"].amount", l.Amount); err != nil {
			return err
		}
		lines[i] = rules.Line{Amount: l.Amount, Category: l.Category}
	}
	res, err := s.ledger.Earn(r.Context(), ledger.EarnRequest{
		Meta: meta(who, key), Member: req.Member, Partner: who.Partner, Amount: req.Amount, Currency: req.Currency,
		Lines: lines, DefaultCategory: s.cfg.Partners[who.Partner].DefaultCategory, ReferralCode: req.ReferralCode,
	})
	if err != nil {
		return err
	}
	if !res.Replayed {
		s.metrics.pointsEarned.Add(float64(res.Points))
	}
	return respond(w, res, res.Replayed)
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req redeemRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := positive("points", req.Points); err != nil {
		return err
	}
	res, err := s.ledger.Redeem(r.Context(), ledger.RedeemRequest{Meta: meta(who, key), Member: req.Member, Partner: who.Partner, Points: req.Points})
	if err != nil {
		return err
	}
	if !res.Replayed {
		s.metrics.pointsRedeem.Add(float64(res.Points))
	}
	return respond(w, res, res.Replayed)
}

func (s *Server) reverse(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req reverseRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if err := positive("amount", req.Amount); err != nil {
		return err
	}
	res, err := s.ledger.Reverse(r.Context(), ledger.ReverseRequest{Meta: meta(who, key), Partner: who.Partner, EarnID: req.EarnID, Amount: req.Amount})
	if err != nil {
		return err
	}
	return respond(w, res, res.Replayed)
}

func (s *Server) adjust(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req adjustRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := s.ledger.Adjust(r.Context(), ledger.AdjustRequest{Meta: meta(who, key), Member: req.Member, Points: req.Points, Reason: req.Reason})
	if err != nil {
		return err
	}
	return respond(w, res, res.Replayed)
}

func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req issueCodeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if ref, ok := s.cfg.Referrals[req.Referral]; !ok || ref.Referrer != who.Partner {
		return &problemError{http.StatusForbidden, "not-referrer", "Not the referrer",
			errorf("%s is not the referrer of a referral agreement %q", who, req.Referral)}
	}
	res, err := s.ledger.IssueCode(r.Context(), ledger.IssueCodeRequest{Meta: meta(who, key), Referral: req.Referral, Member: req.Member})
	if err != nil {
		return err
	}
	return respond(w, res, res.Replayed)
}

func (s *Server) lookupCode(w http.ResponseWriter, r *http.Request, _ Principal) error {
	res, err := s.ledger.LookupCode(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	return respond(w, res, false)
}

// nextCursor names the cursor of the next page in paged answers.
const nextCursor = "next"

// periodQuery reads the partner, period and page of a settlement export.
func (s *Server) periodQuery(r *http.Request) (partner string, from, to time.Time, after int64, limit int, err error) {
	q := r.URL.Query()
	partner = q.Get("partner")
	if _, ok := s.cfg.Partners[partner]; !ok {
		return "", from, to, 0, 0, badRequest("partner %q is not a partner of this program", partner)
	}
	if from, err = time.Parse(time.RFC3339, q.Get("from")); err != nil {
		return "", from, to, 0, 0, badRequest("from %q: want an RFC 3339 time such as 2026-11-16T00:00:00+01:00", q.Get("from"))
	}
	if to, err = time.Parse(time.RFC3339, q.Get("to")); err != nil || !to.After(from) {
		return "", from, to, 0, 0, badRequest("to %q: want an RFC 3339 time after from", q.Get("to"))
	}
	after, limit, err = paging(r, "after")
	return partner, from, to, after, limit, err
}

func (s *Server) settlementEntries(w http.ResponseWriter, r *http.Request, _ Principal) error {
	partner, from, to, after, limit, err := s.periodQuery(r)
	if err != nil {
		return err
	}
	entries, next, err := s.ledger.PartnerEntries(r.Context(), partner, from, to, after, limit)
	if err != nil {
		return err
	}
	return respond(w, map[string]any{"entries": nonNil(entries), nextCursor: next}, false)
}

func (s *Server) settlementCommissions(w http.ResponseWriter, r *http.Request, _ Principal) error {
	partner, from, to, after, limit, err := s.periodQuery(r)
	if err != nil {
		return err
	}
	commissions, next, err := s.ledger.PartnerCommissions(r.Context(), partner, from, to, after, limit)
	if err != nil {
		return err
	}
	return respond(w, map[string]any{"commissions": nonNil(commissions), nextCursor: next}, false)
}

func (s *Server) markSettled(w http.ResponseWriter, r *http.Request, _ Principal) error {
	var req markRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Settlement == "" || len(req.EntryIDs) == 0 || len(req.EntryIDs) > 10000 {
		return badRequest("send a settlement id and 1 to 10000 entry ids")
	}
	n, err := s.ledger.MarkSettled(r.Context(), req.Settlement, req.EntryIDs)
	if err != nil {
		return err
	}
	return respond(w, map[string]int{"marked": n}, false)
}

func (s *Server) markCommissionsSettled(w http.ResponseWriter, r *http.Request, _ Principal) error {
	var req markCommissionsRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Settlement == "" || len(req.CommissionIDs) == 0 || len(req.CommissionIDs) > 10000 {
		return badRequest("send a settlement id and 1 to 10000 commission ids")
	}
	n, err := s.ledger.MarkCommissionsSettled(r.Context(), req.Settlement, req.CommissionIDs)
	if err != nil {
		return err
	}
	return respond(w, map[string]int{"marked": n}, false)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ Principal) error {
	st, err := s.ledger.Stats(r.Context())
	if err != nil {
		return err
	}
	return respond(w, st, false)
}

func paging(r *http.Request, cursor string) (int64, int, error) {
	q := r.URL.Query()
	var c int64
	if v := q.Get(cursor); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, badRequest("%s %q: want an entry id from a previous page's next", cursor, v)
		}
		c = n
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, 0, badRequest("limit %q: want 1 to 1000", v)
		}
		limit = n
	}
	return c, limit, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

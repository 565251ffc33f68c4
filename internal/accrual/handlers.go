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
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/ledger"
	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/rules"
)

// The bodies of the API are accrualapi's types; the handlers map them to the
// ledger's requests and the ledger's answers back to them, here and nowhere else.

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
	var req accrualapi.EnrollRequest
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
	return respond(w, res.EnrollResult, res.Replayed)
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
	tier := accrualapi.Tier{Name: st.Name, Qualifying: st.Qualifying, ToNext: st.ToNext, Pinned: st.Pinned}
	if st.Next >= 0 {
		tier.Next = s.cfg.Program.Tiers[st.Next].Name
	}
	if st.Level >= 0 && s.cfg.Program.Tiers[st.Level].Discount != nil {
		tier.Discount, _ = money.FormatExact(s.cfg.Program.Tiers[st.Level].Discount) // parsed from a finite decimal
	}
	balance := accrualapi.Balance{Available: b.Available, Pending: b.Pending, Expiring: b.Expiring, ExpiringBy: b.ExpiringBy}
	out := accrualapi.Member{Member: member, Balance: balance, Tier: tier}
	if s.cfg.Program.Membership.Paid {
		paid, err := s.ledger.PaidUntil(r.Context(), member)
		if err != nil {
			return err
		}
		out.Membership = &accrualapi.Membership{Active: paid.After(s.ledger.Now())}
		if !paid.IsZero() {
			out.Membership.PaidUntil = &paid
		}
	}
	return respond(w, out, false)
}

// history answers a member's entries: all of them to the admin, and to a
// partner only those made at its own tills.
func (s *Server) history(w http.ResponseWriter, r *http.Request, who Principal) error {
	before, limit, err := paging(r, "before")
	if err != nil {
		return err
	}
	var entries []ledger.Entry
	var next int64
	if who.Role == RoleAdmin {
		entries, next, err = s.ledger.History(r.Context(), r.PathValue("member"), before, limit)
	} else {
		entries, next, err = s.ledger.PartnerHistory(r.Context(), r.PathValue("member"), who.Partner, before, limit)
	}
	if err != nil {
		return err
	}
	return respond(w, accrualapi.HistoryPage{Entries: wireEntries(entries), Next: next}, false)
}

func (s *Server) earn(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.EarnRequest
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
	return respond(w, res.EarnResult, res.Replayed)
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.RedeemRequest
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
	return respond(w, res.RedeemResult, res.Replayed)
}

func (s *Server) reverse(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.ReverseRequest
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
	return respond(w, res.ReverseResult, res.Replayed)
}

func (s *Server) adjust(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.AdjustRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := s.ledger.Adjust(r.Context(), ledger.AdjustRequest{Meta: meta(who, key), Member: req.Member, Points: req.Points, Reason: req.Reason})
	if err != nil {
		return err
	}
	return respond(w, res.AdjustResult, res.Replayed)
}

// payMembership records the membership fee a member pays at the calling
// partner's till.
func (s *Server) payMembership(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.MembershipFeeRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Currency != s.cfg.Program.Currency.Code {
		return fmt.Errorf("%w: the program counts in %s, the fee is in %q", ledger.ErrWrongCurrency, s.cfg.Program.Currency.Code, req.Currency)
	}
	res, err := s.ledger.PayMembershipFee(r.Context(), ledger.MembershipFeeRequest{Meta: meta(who, key), Member: req.Member,
		Partner: who.Partner, Amount: req.Amount})
	if err != nil {
		return err
	}
	return respond(w, res.MembershipResult, res.Replayed)
}

// lapseMembership ends a paid membership now, refunding the current fee if
// asked (admin).
func (s *Server) lapseMembership(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.LapseRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	res, err := s.ledger.LapseMembership(r.Context(), ledger.LapseRequest{Meta: meta(who, key), Member: req.Member, Refund: req.Refund})
	if err != nil {
		return err
	}
	return respond(w, res.MembershipResult, res.Replayed)
}

func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.IssueCodeRequest
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
	return respond(w, res.ReferralCode, res.Replayed)
}

// lookupCode answers a code to the admin and to the two partners of its
// agreement; to any other partner it does not exist. The referee sees whether it
// may be used, not whose customer it was issued to.
func (s *Server) lookupCode(w http.ResponseWriter, r *http.Request, who Principal) error {
	res, err := s.ledger.LookupCode(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	if who.Role == RolePartner {
		ref, ok := s.cfg.Referrals[res.Referral]
		switch {
		case !ok || (ref.Referrer != who.Partner && ref.Referee != who.Partner):
			return fmt.Errorf("%w %q", ledger.ErrUnknownCode, r.PathValue("code"))
		case ref.Referrer != who.Partner:
			res.Owner = ""
		}
	}
	return respond(w, res.ReferralCode, false)
}

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
	return respond(w, accrualapi.EntriesPage{Entries: wireEntries(entries), Next: next}, false)
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
	return respond(w, accrualapi.CommissionsPage{Commissions: wireCommissions(commissions), Next: next}, false)
}

func (s *Server) markSettled(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.MarkRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Settlement == "" || len(req.EntryIDs) == 0 || len(req.EntryIDs) > accrualapi.MaxMark {
		return badRequest("send a settlement id and 1 to 10000 entry ids")
	}
	res, err := s.ledger.MarkSettled(r.Context(), ledger.Meta{Actor: who.String(), Key: key}, req.Settlement, req.EntryIDs)
	if err != nil {
		return err
	}
	return respond(w, accrualapi.MarkResult{Marked: res.Marked}, res.Replayed)
}

func (s *Server) markCommissionsSettled(w http.ResponseWriter, r *http.Request, who Principal) error {
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	var req accrualapi.MarkCommissionsRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	if req.Settlement == "" || len(req.CommissionIDs) == 0 || len(req.CommissionIDs) > accrualapi.MaxMark {
		return badRequest("send a settlement id and 1 to 10000 commission ids")
	}
	res, err := s.ledger.MarkCommissionsSettled(r.Context(), ledger.Meta{Actor: who.String(), Key: key}, req.Settlement, req.CommissionIDs)
	if err != nil {
		return err
	}
	return respond(w, accrualapi.MarkResult{Marked: res.Marked}, res.Replayed)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ Principal) error {
	st, err := s.ledger.Stats(r.Context())
	if err != nil {
		return err
	}
	return respond(w, wireStats(st), false)
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

// wireEntries maps the ledger's entries to the API's; an empty page is [].
func wireEntries(entries []ledger.Entry) []accrualapi.Entry {
	out := make([]accrualapi.Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Wire())
	}
	return out
}

// wireCommissions maps the ledger's commissions to the API's.
func wireCommissions(commissions []ledger.Commission) []accrualapi.Commission {
	out := make([]accrualapi.Commission, 0, len(commissions))
	for _, c := range commissions {
		out = append(out, accrualapi.Commission{ID: c.ID, Kind: c.Kind, Referral: c.Referral, Referrer: c.Referrer, Referee: c.Referee,
			Micros: c.Micros, DueAt: c.DueAt, EarnID: c.EarnID, Settlement: c.Settlement})
	}
	return out
}

// wireStats maps the ledger's counts to the API's.
func wireStats(st ledger.Stats) accrualapi.Stats {
	out := accrualapi.Stats{Members: st.Members, PointsOutstanding: st.PointsOutstanding, At: st.At,
		Referrals: make(map[string]accrualapi.ReferralStats, len(st.Referrals))}
	for id, r := range st.Referrals {
		out.Referrals[id] = accrualapi.ReferralStats{CodesIssued: r.CodesIssued, DiscountsGiven: r.DiscountsGiven,
			CommissionsPending: r.CommissionsPending, CommissionsConfirmed: r.CommissionsConfirmed}
	}
	return out
}

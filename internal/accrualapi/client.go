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

package accrualapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one program's accrual service as one principal (a partner's API
// key, or the admin or settlement token). It is safe for concurrent use.
type Client struct {
	// Endpoint is the service's base URL, such as http://stadtbonus-accrual.stadtbonus.svc:8080.
	Endpoint string
	// Token is the bearer credential.
	Token string
	// HTTP is the client to send with; nil is http.DefaultClient.
	HTTP *http.Client
}

// Error is an answer other than 200, with the problem document the service sent.
type Error struct {
	Method, Path string
	Status       int
	Problem      Problem
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: the accrual service answered %d: %s %s", e.Method, e.Path, e.Status, e.Problem.Title, e.Problem.Detail)
}

// Replay says whether a write's answer was the stored one of an earlier request
// under the same key (the Idempotent-Replayed header).
type Replay = bool

// maxAnswer bounds what the client reads of one answer: a full page of a
// thousand entries is far below.
const maxAnswer = 64 << 20

// do sends one request; key, when not empty, is the Idempotency-Key of a write.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, key string, body, out any) (Replay, error) {
	u := strings.TrimSuffix(c.Endpoint, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return false, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode != http.StatusOK {
		e := &Error{Method: method, Path: path, Status: res.StatusCode}
		_ = json.Unmarshal(b, &e.Problem)
		return false, e
	}
	if err := json.Unmarshal(b, out); err != nil {
		return false, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return res.Header.Get("Idempotent-Replayed") == "true", nil
}

// Enroll enrolls a member (POST /v1/members).
func (c *Client) Enroll(ctx context.Context, key string, req EnrollRequest) (EnrollResult, Replay, error) {
	var out EnrollResult
	r, err := c.do(ctx, http.MethodPost, "/v1/members", nil, key, req, &out)
	return out, r, err
}

// Earn reports a purchase (POST /v1/earn).
func (c *Client) Earn(ctx context.Context, key string, req EarnRequest) (EarnResult, Replay, error) {
	var out EarnResult
	r, err := c.do(ctx, http.MethodPost, "/v1/earn", nil, key, req, &out)
	return out, r, err
}

// Redeem spends points (POST /v1/redeem).
func (c *Client) Redeem(ctx context.Context, key string, req RedeemRequest) (RedeemResult, Replay, error) {
	var out RedeemResult
	r, err := c.do(ctx, http.MethodPost, "/v1/redeem", nil, key, req, &out)
	return out, r, err
}

// Reverse returns all or part of a purchase (POST /v1/reverse).
func (c *Client) Reverse(ctx context.Context, key string, req ReverseRequest) (ReverseResult, Replay, error) {
	var out ReverseResult
	r, err := c.do(ctx, http.MethodPost, "/v1/reverse", nil, key, req, &out)
	return out, r, err
}

// Adjust corrects a member's points by hand (POST /v1/adjust, admin).
func (c *Client) Adjust(ctx context.Context, key string, req AdjustRequest) (AdjustResult, Replay, error) {
	var out AdjustResult
	r, err := c.do(ctx, http.MethodPost, "/v1/adjust", nil, key, req, &out)
	return out, r, err
}

// PayMembership records a membership fee paid at the calling partner's till
// (POST /v1/memberships).
func (c *Client) PayMembership(ctx context.Context, key string, req MembershipFeeRequest) (MembershipResult, Replay, error) {
	var out MembershipResult
	r, err := c.do(ctx, http.MethodPost, "/v1/memberships", nil, key, req, &out)
	return out, r, err
}

// LapseMembership ends a member's paid membership now (POST
// /v1/memberships/lapse, admin), refunding the current fee if asked.
func (c *Client) LapseMembership(ctx context.Context, key string, req LapseRequest) (MembershipResult, Replay, error) {
	var out MembershipResult
	r, err := c.do(ctx, http.MethodPost, "/v1/memberships/lapse", nil, key, req, &out)
	return out, r, err
}

// IssueCode issues a referral code (POST /v1/referral-codes).
func (c *Client) IssueCode(ctx context.Context, key string, req IssueCodeRequest) (ReferralCode, Replay, error) {
	var out ReferralCode
	r, err := c.do(ctx, http.MethodPost, "/v1/referral-codes", nil, key, req, &out)
	return out, r, err
}

// LookupCode reads a referral code (GET /v1/referral-codes/{code}).
func (c *Client) LookupCode(ctx context.Context, code string) (ReferralCode, error) {
	var out ReferralCode
	_, err := c.do(ctx, http.MethodGet, "/v1/referral-codes/"+url.PathEscape(code), nil, "", nil, &out)
	return out, err
}

// Member reads a member's balance and tier (GET /v1/members/{member}); the
// balance's expiring points are those expiring within expiringWithinDays (0: the
// service's default of 30).
func (c *Client) Member(ctx context.Context, member string, expiringWithinDays int) (Member, error) {
	var q url.Values
	if expiringWithinDays > 0 {
		q = url.Values{"expiringWithinDays": {strconv.Itoa(expiringWithinDays)}}
	}
	var out Member
	_, err := c.do(ctx, http.MethodGet, "/v1/members/"+url.PathEscape(member), q, "", nil, &out)
	return out, err
}

// History reads a page of a member's entries, newest first, before the entry id
// before (0: from the newest), at most limit (0: the service's default).
func (c *Client) History(ctx context.Context, member string, before int64, limit int) (HistoryPage, error) {
	var out HistoryPage
	_, err := c.do(ctx, http.MethodGet, "/v1/members/"+url.PathEscape(member)+"/history", pageQuery("before", before, limit), "", nil, &out)
	return out, err
}

// PeriodQuery selects a partner's settlement export of a period, a page at a
// time: entries or commissions with ids above After, at most Limit (0: the
// service's default).
type PeriodQuery struct {
	Partner  string
	From, To time.Time
	After    int64
	Limit    int
}

func (q PeriodQuery) values() url.Values {
	v := pageQuery("after", q.After, q.Limit)
	v.Set("partner", q.Partner)
	v.Set("from", q.From.Format(time.RFC3339))
	v.Set("to", q.To.Format(time.RFC3339))
	return v
}

func pageQuery(cursor string, at int64, limit int) url.Values {
	v := url.Values{}
	if at > 0 {
		v.Set(cursor, strconv.FormatInt(at, 10))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	return v
}

// SettlementEntries reads a page of a partner's entries of a period (GET
// /v1/settlement/entries, settlement token).
func (c *Client) SettlementEntries(ctx context.Context, q PeriodQuery) (EntriesPage, error) {
	var out EntriesPage
	_, err := c.do(ctx, http.MethodGet, "/v1/settlement/entries", q.values(), "", nil, &out)
	return out, err
}

// SettlementCommissions reads a page of the commissions a referee owes that fall
// due in a period (GET /v1/settlement/commissions, settlement token).
func (c *Client) SettlementCommissions(ctx context.Context, q PeriodQuery) (CommissionsPage, error) {
	var out CommissionsPage
	_, err := c.do(ctx, http.MethodGet, "/v1/settlement/commissions", q.values(), "", nil, &out)
	return out, err
}

// MarkSettled records a settlement on entries (POST /v1/settlement/mark), under
// an idempotency key: a retry with the same key gets the original count.
func (c *Client) MarkSettled(ctx context.Context, key string, req MarkRequest) (MarkResult, Replay, error) {
	var out MarkResult
	r, err := c.do(ctx, http.MethodPost, "/v1/settlement/mark", nil, key, req, &out)
	return out, r, err
}

// MarkCommissionsSettled records a settlement on commissions (POST
// /v1/settlement/commissions/mark), under an idempotency key.
func (c *Client) MarkCommissionsSettled(ctx context.Context, key string, req MarkCommissionsRequest) (MarkResult, Replay, error) {
	var out MarkResult
	r, err := c.do(ctx, http.MethodPost, "/v1/settlement/commissions/mark", nil, key, req, &out)
	return out, r, err
}

// MarkKey is the idempotency key the settlement job sends with a mark request:
// a hash of what it marks and of the run, so that a retry within a run (after a
// lost answer) gets the original count back, and a later run, which marks
// nothing new, counts 0.
func MarkKey(run, table, settlement string, ids []int64) string {
	h, _ := Fingerprint("settlement_mark", struct {
		Run string `json:"run"`
		MarkRecord
	}{run, MarkRecord{Table: table, Settlement: settlement, IDs: ids}})
	return "mark-" + h[:32]
}

// Stats reads the program's counts (GET /v1/stats, admin or settlement token).
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var out Stats
	_, err := c.do(ctx, http.MethodGet, "/v1/stats", nil, "", nil, &out)
	return out, err
}

// Sinks reads where the program's event sinks stand (GET /v1/events/sinks,
// admin token).
func (c *Client) Sinks(ctx context.Context) (SinksStatus, error) {
	var out SinksStatus
	_, err := c.do(ctx, http.MethodGet, "/v1/events/sinks", nil, "", nil, &out)
	return out, err
}

// SettlementEvents reports a settlement run's outcome for the program's
// events (POST /v1/settlement/events, settlement token). A repeat writes
// nothing: the events' ids come from the settlement, the run and the partner.
func (c *Client) SettlementEvents(ctx context.Context, o SettlementOutcome) (SettlementEventsResult, error) {
	var out SettlementEventsResult
	_, err := c.do(ctx, http.MethodPost, "/v1/settlement/events", nil, "", o, &out)
	return out, err
}

// ReplayDead sends a sink's parked dead events again, those named or all
// (POST /v1/events/sinks/{sink}/replay, admin token).
func (c *Client) ReplayDead(ctx context.Context, sink string, eventIDs []string) (ReplayResult, error) {
	var out ReplayResult
	_, err := c.do(ctx, http.MethodPost, "/v1/events/sinks/"+url.PathEscape(sink)+"/replay", nil, "", ReplayRequest{EventIDs: eventIDs}, &out)
	return out, err
}

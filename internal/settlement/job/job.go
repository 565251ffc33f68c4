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

// Package job is `treue settle`: one settlement run for one cooperation and one
// period. It reads the cooperation (and its program) from the API server, the
// period's entries and commissions from the program's accrual service (through
// internal/accrualapi's client, never the ledger itself) with the
// settlement token, settles them with package settlement, records the result as
// a Settlement, and then marks what it settled in the ledger.
//
// A run is safe to repeat. The Settlement's name is derived from cooperation and
// period; a run for a Completed settlement recomputes and compares checksums and
// changes nothing; a mismatch is a Failed condition, never a second payment. A
// run that fails half way leaves a Failed condition with the reason, and the
// next run completes it: entries it had marked are still read (they carry this
// settlement's id), so it computes the same result.
package job

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	loyaltyv1alpha1 "github.com/treue-dev/treue/api/v1alpha1"
	"github.com/treue-dev/treue/internal/accrualapi"
	"github.com/treue-dev/treue/internal/money"
	"github.com/treue-dev/treue/internal/settlement"
)

// Options configure one run.
type Options struct {
	// Cooperation to settle.
	Cooperation types.NamespacedName
	// Period id such as "2026-W47"; empty settles the last closed period.
	Period string
	// Endpoint of the program's accrual service; empty reads it from the
	// program's status.
	Endpoint string
	// Token is the program's settlement token.
	Token string
	// Exclude lists partners ("namespace/name") another cooperation settles: they
	// are left out of this one's terms and reads.
	Exclude []string
	// Now is the clock; nil is the system clock.
	Now func() time.Time
	// HTTP is the client for the accrual service; nil is a client with a timeout.
	HTTP *http.Client
	// PageSize of the export reads.
	PageSize int
	Log      *slog.Logger
}

// Outcome says what a run did.
type Outcome struct {
	Name          string
	Period        settlement.Window
	Result        *settlement.Result
	Verified      bool // the settlement was Completed already and still matches
	EntriesMarked int
}

// SettlementName is the deterministic name of a cooperation's settlement of a
// period, such as "city-network-2026-w47".
func SettlementName(cooperation, period string) string {
	return cooperation + "-" + strings.ToLower(period)
}

// Run settles one period of one cooperation.
func Run(ctx context.Context, c client.Client, o Options) (*Outcome, error) {
	o.defaults()
	coop := &loyaltyv1alpha1.PartnerCooperation{}
	if err := c.Get(ctx, o.Cooperation, coop); err != nil {
		return nil, fmt.Errorf("reading PartnerCooperation %s: %w", o.Cooperation, err)
	}
	program := &loyaltyv1alpha1.LoyaltyProgram{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: coop.Namespace, Name: coop.Spec.ProgramRef.Name}, program); err != nil {
		return nil, fmt.Errorf("reading LoyaltyProgram %s/%s of the cooperation: %w", coop.Namespace, coop.Spec.ProgramRef.Name, err)
	}
	if o.Endpoint == "" {
		o.Endpoint = program.Status.Endpoint
	}
	if o.Endpoint == "" {
		return nil, fmt.Errorf("LoyaltyProgram %s/%s has no status.endpoint yet, and no --endpoint was given", program.Namespace, program.Name)
	}
	terms, err := termsOf(coop, program, o.Exclude)
	if err != nil {
		return nil, err
	}
	window, prevWindow, err := windowsOf(coop, o)
	if err != nil {
		return nil, err
	}
	out := &Outcome{Name: SettlementName(coop.Name, window.ID), Period: window}
	log := o.Log.With("cooperation", o.Cooperation.String(), "period", window.ID, "settlement", out.Name)

	record, err := ensureSettlement(ctx, c, coop, out.Name, window)
	if err != nil {
		return nil, err
	}
	completed := meta.IsStatusConditionTrue(record.Status.Conditions, loyaltyv1alpha1.ConditionCompleted)
	svc := &service{api: &accrualapi.Client{Endpoint: o.Endpoint, Token: o.Token, HTTP: o.HTTP}, pageSize: o.PageSize, run: rand.Text()}
	fail := func(reason string, cause error) (*Outcome, error) {
		if completed && reason != loyaltyv1alpha1.ReasonChecksumMismatch {
			// A completed settlement stays valid when a re-run cannot read the
			// ledger for a moment (a rolling accrual pod, say); only a mismatch
			// says something about it.
			return nil, cause
		}
		if err := setCondition(ctx, c, record, loyaltyv1alpha1.ConditionFailed, metav1.ConditionTrue, reason, cause.Error()); err != nil {
			return nil, errors.Join(cause, err)
		}
		// The partners hear of it; a report that does not arrive leaves the
		// Failed condition, which the operator sees, as it is.
		report := outcomeOf(coop, record, svc.run, terms.Currency.Code)
		report.Reason, report.Message = reason, truncate(cause.Error(), 1000)
		if _, err := svc.api.SettlementEvents(ctx, report); err != nil {
			log.Error("Could not report the failed run for the program's events", "err", err)
		}
		return nil, cause
	}

	// The amounts each partner carried out of the period before.
	acc, err := settlement.New(terms)
	if err != nil {
		return fail(loyaltyv1alpha1.ReasonInvalidInput, err)
	}
	if err := carryIn(ctx, c, acc, coop, prevWindow, terms.Currency); err != nil {
		return fail(loyaltyv1alpha1.ReasonReadFailed, err)
	}
	var entryIDs, commissionIDs []int64
	for _, m := range coop.Spec.Members {
		partner := m.PartnerRef.Key(coop.Namespace)
		if _, ok := terms.Partners[partner]; !ok {
			continue // excluded
		}
		ids, cids, err := svc.read(ctx, acc, partner, out.Name, window, terms.Partners)
		if err != nil {
			return fail(loyaltyv1alpha1.ReasonReadFailed, err)
		}
		entryIDs, commissionIDs = append(entryIDs, ids...), append(commissionIDs, cids...)
	}
	res, err := acc.Settle()
	if err != nil {
		return fail(loyaltyv1alpha1.ReasonInvalidInput, err)
	}
	out.Result = res

	current := recordedTerms(coop, terms)
	if completed {
		if record.Status.Checksum != res.Checksum {
			cause := fmt.Errorf("settlement %s was completed with checksum %s, but the ledger now gives %s: "+
				"nothing was paid again; compare the ledger's entries of %s with the recorded statements",
				out.Name, record.Status.Checksum, res.Checksum, window.ID)
			if changed := termsChanged(record.Status.Terms, current); changed != "" {
				cause = fmt.Errorf("settlement %s was completed with checksum %s under other terms than the cooperation's now (%s), "+
					"which give %s: nothing was paid again, and the recorded statements stand", out.Name, record.Status.Checksum, changed, res.Checksum)
			}
			return fail(loyaltyv1alpha1.ReasonChecksumMismatch, cause)
		}
		out.Verified = true
		log.Info("Settlement already completed; the ledger still gives its checksum", "checksum", res.Checksum)
		// Reported again: a run that completed but could not report is
		// retried (its Job fails), and a repeat writes no event twice.
		return out, reportCompleted(ctx, svc, coop, record, terms.Currency.Code)
	}

	// Record first, mark second: a run that dies between the two leaves a
	// Settlement that the next run completes with the same numbers.
	status, err := statusOf(res)
	if err != nil {
		return fail(loyaltyv1alpha1.ReasonInvalidInput, err)
	}
	status.Conditions = record.Status.Conditions
	status.Terms = current
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: loyaltyv1alpha1.ConditionCompleted, Status: metav1.ConditionFalse,
		Reason: loyaltyv1alpha1.ReasonMarking, Message: "Statements computed; marking the settled entries in the ledger", ObservedGeneration: record.Generation})
	record.Status = *status
	if err := c.Status().Update(ctx, record); err != nil {
		return nil, fmt.Errorf("recording Settlement %s/%s: %w", record.Namespace, record.Name, err)
	}
	marked, err := svc.mark(ctx, out.Name, entryIDs, commissionIDs)
	if err != nil {
		return fail(loyaltyv1alpha1.ReasonMarkFailed, err)
	}
	out.EntriesMarked = marked
	record.Status.EntriesSettled = int64(len(entryIDs) + len(commissionIDs))
	now := metav1.NewTime(o.Now())
	record.Status.CompletedAt = &now
	meta.RemoveStatusCondition(&record.Status.Conditions, loyaltyv1alpha1.ConditionFailed)
	meta.SetStatusCondition(&record.Status.Conditions, metav1.Condition{Type: loyaltyv1alpha1.ConditionCompleted, Status: metav1.ConditionTrue,
		Reason: loyaltyv1alpha1.ReasonSettled, Message: fmt.Sprintf("%d partners, %d transfers, net volume %s %s", len(res.Statements), len(res.Transfers),
			res.Currency.Format(res.Totals.NetVolume), res.Currency.Code), ObservedGeneration: record.Generation})
	if err := c.Status().Update(ctx, record); err != nil {
		return nil, fmt.Errorf("completing Settlement %s/%s: %w", record.Namespace, record.Name, err)
	}
	log.Info("Settled", "partners", len(res.Statements), "transfers", len(res.Transfers), "checksum", res.Checksum, "marked", marked)
	return out, reportCompleted(ctx, svc, coop, record, terms.Currency.Code)
}

// reportCompleted reports a completed settlement for the program's events.
// Its error fails the run, so that the Job runs it again: the settlement is
// verified, and the report sent again.
func reportCompleted(ctx context.Context, svc *service, coop *loyaltyv1alpha1.PartnerCooperation, record *loyaltyv1alpha1.Settlement,
	currency string) error {
	report := outcomeOf(coop, record, svc.run, currency)
	report.Completed, report.Checksum = true, record.Status.Checksum
	for _, st := range record.Status.Statements {
		report.Statements = append(report.Statements, accrualapi.SettlementLine{
			Partner: st.Partner.Key(record.Namespace), PointsIssued: st.PointsIssued, PointsRedeemed: st.PointsRedeemed,
			PointsReturned: st.PointsReturned, IssuanceAmount: string(st.IssuanceAmount), RedemptionAmount: string(st.RedemptionAmount),
			CommissionsEarned: string(st.CommissionsEarned), CommissionsOwed: string(st.CommissionsOwed),
			CarriedIn: string(st.CarriedIn), CarriedOut: string(st.CarriedOut), Net: string(st.Net),
		})
	}
	if _, err := svc.api.SettlementEvents(ctx, report); err != nil {
		return fmt.Errorf("settlement %s/%s completed, but reporting it for the program's events failed (a re-run reports it): %w",
			record.Namespace, record.Name, err)
	}
	return nil
}

// outcomeOf is the part of a run's report that a failure and a completion share.
func outcomeOf(coop *loyaltyv1alpha1.PartnerCooperation, record *loyaltyv1alpha1.Settlement, run, currency string) accrualapi.SettlementOutcome {
	o := accrualapi.SettlementOutcome{Settlement: record.Namespace + "/" + record.Name, Cooperation: coop.Namespace + "/" + coop.Name,
		Run: run, Period: record.Spec.Period.ID, Start: record.Spec.Period.Start.UTC(), End: record.Spec.Period.End.UTC(), Currency: currency}
	for _, m := range coop.Spec.Members {
		o.Partners = append(o.Partners, m.PartnerRef.Key(coop.Namespace))
	}
	return o
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if o.PageSize <= 0 {
		o.PageSize = 1000
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// windowsOf is the period to settle, by the cooperation's schedule, and the one
// before it.
func windowsOf(coop *loyaltyv1alpha1.PartnerCooperation, o Options) (window, prev settlement.Window, err error) {
	loc, err := coop.Spec.Schedule.Location()
	if err != nil {
		return window, prev, err
	}
	length := string(coop.Spec.Schedule.PeriodLength())
	if o.Period == "" {
		window, err = settlement.LastClosed(length, loc, o.Now())
	} else {
		window, err = settlement.ParseWindow(length, o.Period, loc)
	}
	if err != nil {
		return window, prev, err
	}
	if window.End.After(o.Now()) {
		return window, prev, fmt.Errorf("period %s has not closed yet: it ends at %s", window.ID, window.End.Format(time.RFC3339))
	}
	prev, err = settlement.LastClosed(length, loc, window.Start)
	return window, prev, err
}

func termsOf(coop *loyaltyv1alpha1.PartnerCooperation, program *loyaltyv1alpha1.LoyaltyProgram, exclude []string) (settlement.Terms, error) {
	cur, err := money.ParseCurrency(string(program.Spec.Currency))
	if err != nil {
		return settlement.Terms{}, err
	}
	rounding := money.RoundingMode(coop.Spec.RoundingMode())
	netting := settlement.Netting(coop.Spec.NettingMode())
	minimum := int64(0)
	if coop.Spec.MinimumTransfer != "" {
		if minimum, err = cur.ParseAmount(string(coop.Spec.MinimumTransfer)); err != nil {
			return settlement.Terms{}, fmt.Errorf("spec.minimumTransfer: %w", err)
		}
	}
	if dup := coop.Spec.DuplicateMembers(coop.Namespace); len(dup) > 0 {
		return settlement.Terms{}, fmt.Errorf("spec.members lists %s more than once: each listing would count its entries again; "+
			"list each partner once", strings.Join(dup, ", "))
	}
	terms := settlement.Terms{Currency: cur, Rounding: rounding, Netting: netting, MinimumTransfer: minimum, Partners: map[string]settlement.Prices{}}
	for i, m := range coop.Spec.Members {
		if slices.Contains(exclude, m.PartnerRef.Key(coop.Namespace)) {
			continue
		}
		issuance, err1 := money.ParseDecimal(string(m.IssuancePrice))
		redemption, err2 := money.ParseDecimal(string(m.RedemptionPrice))
		if err := errors.Join(err1, err2); err != nil {
			return settlement.Terms{}, fmt.Errorf("spec.members[%d]: %w", i, err)
		}
		terms.Partners[m.PartnerRef.Key(coop.Namespace)] = settlement.Prices{Issuance: issuance, Redemption: redemption}
	}
	return terms, nil
}

// recordedTerms are the terms a settlement records: the cooperation's netting,
// rounding and minimum transfer, and the prices of each partner settled, in key
// order.
func recordedTerms(coop *loyaltyv1alpha1.PartnerCooperation, terms settlement.Terms) *loyaltyv1alpha1.SettlementTerms {
	t := &loyaltyv1alpha1.SettlementTerms{Netting: loyaltyv1alpha1.NettingMode(terms.Netting),
		Rounding: coop.Spec.RoundingMode(), MinimumTransfer: coop.Spec.MinimumTransfer}
	for _, m := range coop.Spec.Members {
		key := m.PartnerRef.Key(coop.Namespace)
		if _, ok := terms.Partners[key]; !ok {
			continue
		}
		ns, name, _ := strings.Cut(key, "/")
		t.Prices = append(t.Prices, loyaltyv1alpha1.SettledPrices{Partner: loyaltyv1alpha1.NamespacedReference{Namespace: ns, Name: name},
			IssuancePrice: m.IssuancePrice, RedemptionPrice: m.RedemptionPrice})
	}
	slices.SortFunc(t.Prices, func(a, b loyaltyv1alpha1.SettledPrices) int {
		return strings.Compare(a.Partner.Key(""), b.Partner.Key(""))
	})
	return t
}

// termsChanged says how now differs from the terms a settlement recorded, or ""
// when they are the same (or none were recorded, by an older build).
func termsChanged(recorded, now *loyaltyv1alpha1.SettlementTerms) string {
	if recorded == nil || now == nil {
		return ""
	}
	var out []string
	if recorded.Netting != now.Netting {
		out = append(out, fmt.Sprintf("netting %s, now %s", recorded.Netting, now.Netting))
	}
	if recorded.Rounding != now.Rounding {
		out = append(out, fmt.Sprintf("rounding %s, now %s", recorded.Rounding, now.Rounding))
	}
	if recorded.MinimumTransfer != now.MinimumTransfer {
		out = append(out, fmt.Sprintf("minimum transfer %q, now %q", recorded.MinimumTransfer, now.MinimumTransfer))
	}
	was := map[string]loyaltyv1alpha1.SettledPrices{}
	for _, p := range recorded.Prices {
		was[p.Partner.Key("")] = p
	}
	for _, p := range now.Prices {
		key := p.Partner.Key("")
		old, ok := was[key]
		switch {
		case !ok:
			out = append(out, key+" was not settled")
		case old.IssuancePrice != p.IssuancePrice || old.RedemptionPrice != p.RedemptionPrice:
			out = append(out, fmt.Sprintf("%s paid %s and was paid %s per point, now %s and %s", key,
				old.IssuancePrice, old.RedemptionPrice, p.IssuancePrice, p.RedemptionPrice))
		}
		delete(was, key)
	}
	for key := range was {
		out = append(out, key+" is no longer settled")
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// ensureSettlement gets the period's Settlement, creating it when missing.
func ensureSettlement(ctx context.Context, c client.Client, coop *loyaltyv1alpha1.PartnerCooperation, name string,
	w settlement.Window) (*loyaltyv1alpha1.Settlement, error) {
	key := types.NamespacedName{Namespace: coop.Namespace, Name: name}
	want := loyaltyv1alpha1.SettlementSpec{
		CooperationRef: loyaltyv1alpha1.LocalObjectReference{Name: coop.Name},
		Period:         loyaltyv1alpha1.SettlementPeriod{ID: w.ID, Start: metav1.NewTime(w.Start), End: metav1.NewTime(w.End)},
	}
	record := &loyaltyv1alpha1.Settlement{}
	err := c.Get(ctx, key, record)
	switch {
	case apierrors.IsNotFound(err):
		record = &loyaltyv1alpha1.Settlement{
			ObjectMeta: metav1.ObjectMeta{Namespace: coop.Namespace, Name: name,
				Labels: map[string]string{loyaltyv1alpha1.LabelCooperation: coop.Name}},
			Spec: want,
		}
		err = c.Create(ctx, record)
		if apierrors.IsAlreadyExists(err) {
			err = c.Get(ctx, key, record)
		}
		if err != nil {
			return nil, fmt.Errorf("creating Settlement %s: %w", key, err)
		}
	case err != nil:
		return nil, fmt.Errorf("reading Settlement %s: %w", key, err)
	}
	// A Settlement of that name that is not the one this job would write (written
	// by hand, or for another cooperation or period) is never reused: its status
	// would describe other entries than the ones marked.
	if !sameSpec(record.Spec, want) {
		return nil, fmt.Errorf("the Settlement %s exists with spec %+v, but this job would write %+v for period %s; "+
			"nothing was read or marked: delete it if it is not a settlement record", key, record.Spec, want, w.ID)
	}
	return record, nil
}

// sameSpec compares two Settlement specs, times as instants.
func sameSpec(a, b loyaltyv1alpha1.SettlementSpec) bool {
	return a.CooperationRef == b.CooperationRef && a.Period.ID == b.Period.ID &&
		a.Period.Start.Time.Equal(b.Period.Start.Time) && a.Period.End.Time.Equal(b.Period.End.Time)
}

func setCondition(ctx context.Context, c client.Client, record *loyaltyv1alpha1.Settlement, kind string, status metav1.ConditionStatus,
	reason, message string) error {
	meta.SetStatusCondition(&record.Status.Conditions, metav1.Condition{Type: kind, Status: status, Reason: reason, Message: message,
		ObservedGeneration: record.Generation})
	return c.Status().Update(ctx, record)
}

// carryIn adds what the partners carried out of the previous period's
// settlement, when there is one.
func carryIn(ctx context.Context, c client.Client, acc *settlement.Accumulator, coop *loyaltyv1alpha1.PartnerCooperation,
	prev settlement.Window, cur money.Currency) error {
	record := &loyaltyv1alpha1.Settlement{}
	err := c.Get(ctx, types.NamespacedName{Namespace: coop.Namespace, Name: SettlementName(coop.Name, prev.ID)}, record)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !meta.IsStatusConditionTrue(record.Status.Conditions, loyaltyv1alpha1.ConditionCompleted) {
		return fmt.Errorf("the settlement of the previous period, %s, is not completed: run it first (treue settle --period %s)",
			record.Name, prev.ID)
	}
	for _, s := range record.Status.Statements {
		if s.CarriedOut == "" {
			continue
		}
		v, err := parseSigned(cur, string(s.CarriedOut))
		if err != nil {
			return fmt.Errorf("%s: carried out of %s/%s: %w", record.Name, s.Partner.Namespace, s.Partner.Name, err)
		}
		key := loyaltyv1alpha1.ObjectKey(s.Partner.Namespace, s.Partner.Name)
		if err := acc.CarryIn(key, v); err != nil {
			return fmt.Errorf("%s carried %s out of %s, but it is no longer a member of the cooperation: %w", key, s.CarriedOut, record.Name, err)
		}
	}
	return nil
}

func parseSigned(cur money.Currency, s string) (int64, error) {
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		v, err := cur.ParseAmount(rest)
		return -v, err
	}
	return cur.ParseAmount(s)
}

func formatSigned(cur money.Currency, minor int64) loyaltyv1alpha1.SignedAmount {
	return loyaltyv1alpha1.SignedAmount(cur.Format(minor))
}

// formatNonZero is formatSigned, or nothing for 0: an informational line only
// where there is something to say.
func formatNonZero(cur money.Currency, minor int64) loyaltyv1alpha1.SignedAmount {
	if minor == 0 {
		return ""
	}
	return formatSigned(cur, minor)
}

// statusOf renders a result as a Settlement's status.
func statusOf(res *settlement.Result) (*loyaltyv1alpha1.SettlementStatus, error) {
	cur := res.Currency
	residual, err := money.FormatExact(res.Residual)
	if err != nil {
		return nil, err
	}
	st := &loyaltyv1alpha1.SettlementStatus{Currency: loyaltyv1alpha1.CurrencyCode(cur.Code), Checksum: res.Checksum,
		RoundingResidual: loyaltyv1alpha1.SignedAmount(residual)}
	for _, s := range res.Statements {
		ns, name, _ := strings.Cut(s.Partner, "/")
		st.Statements = append(st.Statements, loyaltyv1alpha1.PartnerStatement{
			Partner:      loyaltyv1alpha1.NamespacedReference{Namespace: ns, Name: name},
			PointsIssued: s.PointsIssued - s.PointsReturned, PointsRedeemed: s.PointsRedeemed, PointsReturned: s.PointsReturned,
			IssuanceAmount: formatSigned(cur, s.Issuance), RedemptionAmount: formatSigned(cur, s.Redemption),
			CommissionsEarned: formatSigned(cur, s.CommissionsEarned), CommissionsOwed: formatSigned(cur, s.CommissionsOwed),
			CarriedIn: formatSigned(cur, s.CarriedIn), CarriedOut: formatSigned(cur, s.CarriedOut), Net: formatSigned(cur, s.Net),
			TierDiscounts: formatNonZero(cur, s.TierDiscounts), MembershipFees: formatNonZero(cur, s.MembershipFees),
		})
	}
	for _, t := range res.Transfers {
		st.Transfers = append(st.Transfers, loyaltyv1alpha1.Transfer{From: t.From, To: t.To, Amount: formatSigned(cur, t.Amount)})
	}
	tot := res.Totals
	st.Totals = &loyaltyv1alpha1.SettlementTotals{
		PointsIssued: tot.PointsIssued - tot.PointsReturned, PointsRedeemed: tot.PointsRedeemed,
		IssuanceAmount: formatSigned(cur, tot.Issuance), RedemptionAmount: formatSigned(cur, tot.Redemption),
		Commissions: formatSigned(cur, tot.Commissions), NetworkMargin: formatSigned(cur, tot.NetworkMargin),
		NetVolume: formatSigned(cur, tot.NetVolume), TierDiscounts: formatNonZero(cur, tot.TierDiscounts),
		MembershipFees: formatNonZero(cur, tot.MembershipFees),
	}
	return st, nil
}

// service reads and marks through the accrual service's settlement API.
type service struct {
	api      *accrualapi.Client
	pageSize int
	// run tells this run's mark requests from an earlier run's (MarkKey).
	run string
}

// read adds a partner's entries and commissions of the window, leaving out those
// settled by another settlement, and returns the ids to mark.
func (s *service) read(ctx context.Context, acc *settlement.Accumulator, partner, name string, w settlement.Window,
	members map[string]settlement.Prices) (entryIDs, commissionIDs []int64, err error) {
	q := accrualapi.PeriodQuery{Partner: partner, From: w.Start, To: w.End, Limit: s.pageSize}
	for q.After = 0; ; {
		page, err := s.api.SettlementEntries(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range page.Entries {
			if e.Settlement != "" && e.Settlement != name {
				continue
			}
			var se settlement.Entry
			switch e.Kind {
			case accrualapi.KindEarn:
				se = settlement.Entry{Kind: settlement.Issued, Partner: partner, Points: e.Points, TierDiscount: e.TierDiscount}
			case accrualapi.KindRedeem:
				se = settlement.Entry{Kind: settlement.Redeemed, Partner: partner, Points: -e.Points}
			case accrualapi.KindReverse:
				se = settlement.Entry{Kind: settlement.Returned, Partner: partner, Points: -e.Points}
			case accrualapi.KindMembershipFee, accrualapi.KindMembershipEnd:
				if e.Amount == 0 {
					continue // a lapse without a refund moves no money
				}
				se = settlement.Entry{Kind: settlement.Fee, Partner: partner, Amount: e.Amount}
			default:
				continue
			}
			if err := acc.Add(se); err != nil {
				return nil, nil, fmt.Errorf("entry %d of %s: %w", e.ID, partner, err)
			}
			entryIDs = append(entryIDs, e.ID)
		}
		if page.Next == 0 {
			break
		}
		q.After = page.Next
	}
	for q.After = 0; ; {
		page, err := s.api.SettlementCommissions(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range page.Commissions {
			if c.Settlement != "" && c.Settlement != name {
				continue
			}
			if _, ok := members[c.Referrer]; !ok {
				continue // the referrer is settled by another cooperation, or none
			}
			if err := acc.Add(settlement.Entry{Kind: settlement.Commission, Partner: partner, Referrer: c.Referrer, Micros: c.Micros}); err != nil {
				return nil, nil, fmt.Errorf("commission %d of %s: %w", c.ID, partner, err)
			}
			commissionIDs = append(commissionIDs, c.ID)
		}
		if page.Next == 0 {
			break
		}
		q.After = page.Next
	}
	return entryIDs, commissionIDs, nil
}

// mark records the settlement's id on what it settled, in chunks the service
// takes; marking again is a no-op.
func (s *service) mark(ctx context.Context, name string, entryIDs, commissionIDs []int64) (int, error) {
	total := 0
	for chunk := range slices.Chunk(entryIDs, accrualapi.MaxMark) {
		res, _, err := s.api.MarkSettled(ctx, accrualapi.MarkKey(s.run, "entries", name, chunk), accrualapi.MarkRequest{Settlement: name, EntryIDs: chunk})
		if err != nil {
			return total, err
		}
		total += res.Marked
	}
	for chunk := range slices.Chunk(commissionIDs, accrualapi.MaxMark) {
		res, _, err := s.api.MarkCommissionsSettled(ctx, accrualapi.MarkKey(s.run, "commissions", name, chunk),
			accrualapi.MarkCommissionsRequest{Settlement: name, CommissionIDs: chunk})
		if err != nil {
			return total, err
		}
		total += res.Marked
	}
	return total, nil
}

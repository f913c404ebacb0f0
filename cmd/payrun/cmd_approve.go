package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

func cmdApprove() command {
	c := command{Name: "approve", Summary: "approve a batch held by the pre-flight threshold, so that it is sent",
		Usage: "approve [--by NAME] BATCH"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		by := fs.String("by", "", "who approves (default: the current user)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usagef("expected exactly one BATCH id")
		}
		_, j, err := openConfigured(e)
		if err != nil {
			return err
		}
		defer j.Close()
		who := *by
		if who == "" {
			if u, err := user.Current(); err == nil {
				who = u.Username
			}
		}
		if err := approve(ctx, j, fs.Arg(0), who); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Batch %s approved by %s; 'payrun resume' (or the daemon's next cut-off) sends it.\n", fs.Arg(0), who)
		return nil
	}
	return c
}

var errNotHeld = errors.New("batch is not held")

func approve(ctx context.Context, j journal.Journal, id, who string) error {
	return j.SetBatch(ctx, id, func(b *journal.Batch) error {
		if b.State != journal.BatchHeld {
			return fmt.Errorf("%w (it is %s)", errNotHeld, b.State)
		}
		b.State = journal.BatchAccepted
		b.Approved = time.Now().UTC()
		b.ApprovedBy = who
		return nil
	})
}

// preflight tells the operators what is about to be paid and holds the
// batch when its total is above the configured threshold (until approved
// with `payrun approve`, or an approval file BATCH.approved dropped in the
// configured folder). It returns held=true when nothing may be sent yet.
func (rt *app) preflight(ctx context.Context, id string, out io.Writer) (bool, error) {
	cfg := rt.cfg
	b, err := rt.j.Batch(ctx, id)
	if err != nil {
		return false, err
	}
	if b.State == journal.BatchHeld && cfg.Preflight.ApprovalDir != "" {
		marker := filepath.Join(cfg.Abs(cfg.Preflight.ApprovalDir), id+".approved")
		if _, err := os.Stat(marker); err == nil {
			if err := approve(ctx, rt.j, id, "file "+marker); err != nil {
				return false, err
			}
			b.State = journal.BatchAccepted
		}
	}
	if b.State == journal.BatchHeld {
		fmt.Fprintf(out, "Batch %s is HELD for approval: run 'payrun approve %s' to send it.\n", id, id)
		return true, nil
	}
	if !cfg.Preflight.Enabled || !b.Approved.IsZero() || b.State != journal.BatchAccepted {
		return false, nil
	}
	pf := reports.Preflight{BatchID: id, File: b.File, At: rt.j.Now(), Location: cfg.Location()}
	for _, t := range b.Totals {
		pf.Groups = append(pf.Groups, reports.PreflightGroup{Provider: t.Provider, Currency: t.Currency, Count: t.Count, Amount: t.Amount})
	}
	if err := rt.j.RejectedRows(ctx, id, func(r journal.RejectedRow) bool {
		for _, re := range r.Errors {
			pf.Invalid = append(pf.Invalid, reconcile.InvalidRow{BatchID: id, File: b.File, Row: re.Row, Column: re.Column, Value: re.Value, Reason: re.Reason})
		}
		return true
	}); err != nil {
		return false, err
	}
	dups, err := suspectedDuplicates(ctx, rt.j, id, cfg.Preflight.DuplicateLookback)
	if err != nil {
		return false, err
	}
	pf.Duplicates = dups
	pf.Estimate = estimate(cfg, b.Totals)
	perCur := map[string]int64{}
	for _, t := range b.Totals {
		perCur[t.Currency] += t.Amount
	}
	for cur, lim := range cfg.Preflight.HoldAbove {
		m, err := money.Parse(lim, cur)
		if err != nil {
			return false, err
		}
		if perCur[m.Currency] > m.Minor {
			pf.Held = true
			pf.HoldReason = fmt.Sprintf("the batch total %s is above the approval threshold %s",
				money.Money{Minor: perCur[m.Currency], Currency: m.Currency}, m)
			pf.Approve = "payrun approve " + id
		}
	}
	if pf.Held {
		if err := rt.j.SetBatch(ctx, id, func(b *journal.Batch) error { b.State = journal.BatchHeld; b.Note = pf.HoldReason; return nil }); err != nil {
			return false, err
		}
	}
	m, err := newMailer(cfg, rt.j)
	if err != nil {
		return false, err
	}
	msg, err := reports.ComposePreflight(pf, envelope(cfg, cfg.Reports.Operators), reports.Options{Unmasked: !cfg.Reports.Mask})
	if err != nil {
		return false, err
	}
	if err := m.Submit(ctx, msg); err != nil {
		rt.log.Warn("pre-flight message queued, not delivered yet", "err", err)
	}
	if pf.Held {
		fmt.Fprintf(out, "Batch %s is HELD: %s. Run '%s' to send it.\n", id, pf.HoldReason, pf.Approve)
	}
	return pf.Held, nil
}

// estimate is the sending time at the configured rate limits.
func estimate(cfg *config.Config, totals []journal.Total) time.Duration {
	counts := map[string]int{}
	for _, t := range totals {
		counts[t.Provider] += t.Count
	}
	var worst time.Duration
	for prov, n := range counts {
		if r := cfg.Providers[prov].RatePerSecond; r > 0 {
			worst = max(worst, time.Duration(float64(n)/r*float64(time.Second)))
		}
	}
	return worst
}

// suspectedDuplicates finds rows of a batch paying the same account the
// same amount as a payout of another batch within the lookback window.
func suspectedDuplicates(ctx context.Context, j journal.Journal, id string, days int) ([]reports.SuspectedDuplicate, error) {
	if days <= 0 {
		return nil, nil
	}
	type key struct {
		account, currency string
		amount            int64
	}
	accountOf := func(it journal.Item) string {
		b := it.Payout.Beneficiary
		switch {
		case b.CCI != "":
			return b.CCI
		case b.AccountNumber != "":
			return b.BankCode + ":" + b.AccountNumber
		case b.CardToken != "":
			return b.CardToken
		}
		return b.Phone
	}
	mine := map[key][]journal.Item{}
	if err := j.BatchItems(ctx, id, func(it journal.Item) bool {
		k := key{accountOf(it), it.Payout.Amount.Currency, it.Payout.Amount.Minor}
		mine[k] = append(mine[k], it)
		return true
	}); err != nil {
		return nil, err
	}
	since := j.Now().Add(-time.Duration(days) * 24 * time.Hour)
	var out []reports.SuspectedDuplicate
	err := j.AllItems(ctx, func(other journal.Item) bool {
		if other.BatchID == id || other.Created.Before(since) {
			return true
		}
		k := key{accountOf(other), other.Payout.Amount.Currency, other.Payout.Amount.Minor}
		for _, it := range mine[k] {
			out = append(out, reports.SuspectedDuplicate{Row: it.Row, PayoutID: it.PayoutID, Account: k.account,
				Currency: k.currency, Amount: k.amount, OtherBatch: other.BatchID, OtherPayoutID: other.PayoutID, OtherDate: other.Created})
		}
		return true
	})
	return out, err
}

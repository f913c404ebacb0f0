package app

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reports"
)

// Gate is what the pre-flight decided about a batch.
type Gate struct {
	// Held says nothing of the batch may be sent yet; Reason says why and
	// Approve how to release it.
	Held            bool
	Reason, Approve string
	// Preflight is the facts, when the pre-flight ran (zero when the
	// batch was approved or dispatched before).
	Preflight dispatch.Preflight
}

// Gate runs the pre-flight of a batch: a held batch whose approval file
// (BATCH.approved in preflight.approval_dir) exists is approved; an
// accepted batch not approved yet gets its pre-flight message, and is held
// when its totals are above the configured thresholds.
func (a *App) Gate(ctx context.Context, id string) (Gate, error) {
	cfg, j := a.Config, a.Journal
	b, err := j.Batch(ctx, id)
	if err != nil {
		return Gate{}, err
	}
	approve := "payrun approve " + id
	if b.State == journal.BatchHeld && cfg.Preflight.ApprovalDir != "" {
		marker := filepath.Join(cfg.Abs(cfg.Preflight.ApprovalDir), id+".approved")
		if _, err := os.Stat(marker); err == nil {
			if err := dispatch.Approve(ctx, j, id, "file "+marker); err != nil {
				return Gate{}, err
			}
			b.State = journal.BatchAccepted
		}
	}
	if b.State == journal.BatchHeld {
		return Gate{Held: true, Reason: b.Note, Approve: approve}, nil
	}
	if !cfg.Preflight.Enabled || !b.Approved.IsZero() || b.State != journal.BatchAccepted {
		return Gate{}, nil
	}
	pol, err := a.PreflightPolicy()
	if err != nil {
		return Gate{}, err
	}
	p, err := dispatch.CheckBatch(ctx, j, id, pol)
	if err != nil {
		return Gate{}, err
	}
	m, err := a.Mailer()
	if err != nil {
		return Gate{}, err
	}
	msg, err := reports.ComposePreflight(reports.PreflightOf(p, j.Now(), cfg.Location(), approve),
		Envelope(cfg, cfg.Reports.Operators), reports.Options{Unmasked: !cfg.Reports.Mask})
	if err != nil {
		return Gate{}, err
	}
	if err := m.Submit(ctx, msg); err != nil {
		a.Log.Warn("pre-flight message queued, not delivered yet", "err", err)
	}
	return Gate{Held: p.Held, Reason: p.HoldReason, Approve: approve, Preflight: p}, nil
}

// PreflightPolicy is the configured pre-flight.
func (a *App) PreflightPolicy() (dispatch.PreflightPolicy, error) {
	cfg := a.Config
	pol := dispatch.PreflightPolicy{DuplicateLookback: time.Duration(cfg.Preflight.DuplicateLookback) * 24 * time.Hour,
		Rates: map[string]float64{}}
	for name, pc := range cfg.Providers {
		pol.Rates[name] = pc.RatePerSecond
	}
	for cur, lim := range cfg.Preflight.HoldAbove {
		m, err := money.Parse(lim, cur)
		if err != nil {
			return pol, err
		}
		pol.HoldAbove = append(pol.HoldAbove, m)
	}
	return pol, nil
}

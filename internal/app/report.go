package app

import (
	"context"
	"io"
	"time"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

// Report runs the report pipeline as the configuration says: into dir,
// emailed when mail is set; notes hears what a reader should know.
func Report(ctx context.Context, cfg *config.Config, j journal.Journal, scope reconcile.Scope, dir string, mail bool, notes io.Writer) (reports.Files, error) {
	r := reports.Request{Scope: scope, Dir: dir, Notes: notes,
		Match:   reconcile.MatchOptions{Location: cfg.Location(), SLA: cfg.Reconcile.SLA},
		Options: reports.Options{Unmasked: !cfg.Reports.Mask}, Read: IngestOptions(cfg, nil).Read}
	if notes == nil {
		notes = io.Discard
	}
	r.Links = waitingLinks(ctx, cfg, j, notes)
	if mail {
		m, err := NewMailer(cfg, j)
		if err != nil {
			return reports.Files{}, err
		}
		r.Mailer, r.Envelope, r.AttachAnnotated = m, Envelope(cfg, cfg.Reports.To), cfg.Reports.AttachAnnotated
	}
	return reports.Run(ctx, j, r)
}

// LastRuns keeps the schedules' last runs in the journal, so that a run
// missed while the daemon was down is caught up at start-up.
type LastRuns struct{ J journal.Journal }

func (l LastRuns) Get(name string) (t time.Time) {
	v, ok, err := l.J.Mark(context.Background(), "lastrun:"+name)
	if err != nil || !ok {
		return time.Time{}
	}
	t, _ = time.Parse(time.RFC3339Nano, v)
	return t
}

func (l LastRuns) Set(name string, t time.Time) error {
	return l.J.SetMark(context.Background(), "lastrun:"+name, t.UTC().Format(time.RFC3339Nano))
}

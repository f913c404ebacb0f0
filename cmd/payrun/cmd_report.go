package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

func cmdReport() command {
	c := command{Name: "report", Summary: "write the reconciliation workbook, CSV exports and annotated input (and email them)",
		Usage: "report [--batch ID | --date YYYY-MM-DD | --open] [--out DIR] [--email] [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		id := fs.String("batch", "", "one batch (`ID`)")
		date := fs.String("date", "", "the batches received that `DAY` (YYYY-MM-DD, in the configured time zone), with the items still open from earlier days")
		open := fs.Bool("open", false, "every open item, whatever its batch")
		out := fs.String("out", "", "output `DIR` (default: dirs.reports)")
		mail := fs.Bool("email", false, "email the report (SMTP, or an .eml in the outbox without SMTP)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		scope, err := scopeOf(*id, *date, *open)
		if err != nil {
			return err
		}
		cfg, j, err := openConfigured(e)
		if err != nil {
			return err
		}
		defer j.Close()
		// A report applies nothing (the confirm rule may call a
		// provider); what a receiver acknowledged and a killed daemon did
		// not apply is left out, and said so.
		if err := warnQueued(e.stderr, j, "this report"); err != nil {
			return err
		}
		dir := *out
		if dir == "" {
			dir = cfg.Abs(cfg.Dirs.Reports)
		}
		files, err := app.Report(ctx, cfg, j, scope, dir, *mail, e.stdout)
		if err != nil {
			return err
		}
		printPaths(e.stdout, files)
		return nil
	}
	return c
}

func scopeOf(id, date string, open bool) (reconcile.Scope, error) {
	n := 0
	for _, set := range []bool{id != "", date != "", open} {
		if set {
			n++
		}
	}
	if n != 1 {
		return reconcile.Scope{}, usagef("choose exactly one of --batch, --date or --open")
	}
	if date != "" {
		if _, err := time.Parse("2006-01-02", date); err != nil {
			return reconcile.Scope{}, usagef("--date %q: want YYYY-MM-DD", date)
		}
	}
	// A day's report holds that day's batches and what is still open
	// from before, as the daemon's morning report does.
	return reconcile.Scope{BatchID: id, Date: date, Open: open || date != ""}, nil
}

func printPaths(w io.Writer, f reports.Files) {
	fmt.Fprintf(w, "Workbook:        %s\n", f.Workbook)
	fmt.Fprintf(w, "Summary CSV:     %s\n", f.SummaryCSV)
	fmt.Fprintf(w, "Details CSV:     %s\n", f.DetailsCSV)
	for _, a := range f.Annotated {
		fmt.Fprintf(w, "Annotated input: %s\n", a)
	}
	if f.LinksCSV != "" {
		fmt.Fprintf(w, "Waiting links:   %s\n", f.LinksCSV)
	}
	if f.EML != "" {
		fmt.Fprintf(w, "Email:           %s\n", f.EML)
	}
}

// warnQueued tells w how many webhook events were acknowledged and not
// applied yet, and so are left out of what (nothing when there are none).
func warnQueued(w io.Writer, j journal.Journal, what string) error {
	n, err := j.Queued(context.Background())
	if err != nil {
		return fmt.Errorf("webhook events queued: %w", err)
	}
	if n > 0 {
		fmt.Fprintf(w, "warning: %s acknowledged and not applied yet %s left out of %s; 'payrun reconcile' or the daemon applies them\n", plural(n, "webhook event"), isAre(n), what)
	}
	return nil
}

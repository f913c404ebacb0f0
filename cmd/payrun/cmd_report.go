package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

func cmdReport() command {
	c := command{Name: "report", Summary: "write the reconciliation workbook, CSV exports and annotated input (and email them)",
		Usage: "report [--batch ID | --date YYYY-MM-DD | --open] [--out DIR] [--email]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		id := fs.String("batch", "", "one batch")
		date := fs.String("date", "", "the batches received that day (in the configured time zone)")
		open := fs.Bool("open", false, "every open item, whatever its batch")
		out := fs.String("out", "", "output directory (default: the configured reports directory)")
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
		files, err := writeReports(ctx, cfg, j, scope, dir, *mail, e.stdout)
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
	return reconcile.Scope{BatchID: id, Date: date, Open: open}, nil
}

// reportFiles are the paths a report run wrote.
type reportFiles struct {
	Workbook, SummaryCSV, DetailsCSV, EML string
	Annotated                             []string
	Balanced                              bool
}

func printPaths(w io.Writer, f reportFiles) {
	fmt.Fprintf(w, "Workbook:        %s\n", f.Workbook)
	fmt.Fprintf(w, "Summary CSV:     %s\n", f.SummaryCSV)
	fmt.Fprintf(w, "Details CSV:     %s\n", f.DetailsCSV)
	for _, a := range f.Annotated {
		fmt.Fprintf(w, "Annotated input: %s\n", a)
	}
	if f.EML != "" {
		fmt.Fprintf(w, "Email:           %s\n", f.EML)
	}
}

// writeReports reconciles the scope and writes every report file, then
// (when asked) queues the email with the workbook attached. Files are
// written before the message is queued, so a failed send loses nothing.
func writeReports(ctx context.Context, cfg *config.Config, j journal.Journal, scope reconcile.Scope, dir string, mail bool, out io.Writer) (reportFiles, error) {
	var files reportFiles
	now := j.Now()
	loc := cfg.Location()
	res, err := reconcile.Match(ctx, j, scope, now, reconcile.MatchOptions{Location: loc, SLA: cfg.Reconcile.SLA})
	if err != nil {
		return files, err
	}
	files.Balanced = res.Balanced()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return files, err
	}
	meta := reports.Meta{RunAt: now, Location: loc}
	for _, b := range res.Batches {
		meta.BatchIDs = append(meta.BatchIDs, b.ID)
	}
	if len(res.Batches) == 1 {
		meta.File = res.Batches[0].File
	}
	o := reports.Options{Unmasked: !cfg.Reports.Mask}
	stem := "reconciliation-" + safeName(scopeLabel(scope, now.In(loc)))
	files.Workbook = filepath.Join(dir, stem+".xlsx")
	files.SummaryCSV = filepath.Join(dir, stem+"-summary.csv")
	files.DetailsCSV = filepath.Join(dir, stem+"-details.csv")
	if err := reports.WriteFile(files.Workbook, 0o640, func(w io.Writer) error { return reports.WriteWorkbook(w, meta, res, o) }); err != nil {
		return files, fmt.Errorf("workbook: %w", err)
	}
	if err := reports.WriteFile(files.SummaryCSV, 0o640, func(w io.Writer) error { return reports.WriteSummaryCSV(w, res) }); err != nil {
		return files, fmt.Errorf("summary csv: %w", err)
	}
	if err := reports.WriteFile(files.DetailsCSV, 0o640, func(w io.Writer) error { return reports.WriteDetailsCSVResult(w, meta, res, o) }); err != nil {
		return files, fmt.Errorf("details csv: %w", err)
	}
	for _, b := range res.Batches {
		bb, err := j.Batch(ctx, b.ID)
		if err != nil {
			return files, err
		}
		if _, err := os.Stat(bb.Path); err != nil {
			fmt.Fprintf(out, "note: the input of batch %s (%s) is no longer at %s; no annotated copy\n", b.ID, bb.File, bb.Path)
			continue
		}
		ext := filepath.Ext(bb.File)
		dst := filepath.Join(dir, strings.TrimSuffix(safeName(bb.File), ext)+"-annotated"+ext)
		if err := annotate(dst, bb.Path, b.ID, res, ingestOptions(cfg, nil).Read, o); err != nil {
			return files, fmt.Errorf("annotated copy of %s: %w", bb.File, err)
		}
		files.Annotated = append(files.Annotated, dst)
	}
	if !mail {
		return files, nil
	}
	env := envelope(cfg, cfg.Reports.To)
	env.Attachments = []string{files.Workbook}
	if cfg.Reports.AttachAnnotated {
		env.Attachments = append(env.Attachments, files.Annotated...)
	}
	msg, err := reports.Compose(meta, res, env, o)
	if err != nil {
		return files, err
	}
	m, err := newMailer(cfg, j)
	if err != nil {
		return files, err
	}
	if err := m.Submit(ctx, msg); err != nil {
		fmt.Fprintf(out, "note: the email is queued and will be retried: %v\n", err)
	}
	if m.SMTP.Host == "" {
		files.EML = reports.OutboxPath(m.Outbox, reports.MessageID(msg))
	}
	return files, nil
}

func scopeLabel(s reconcile.Scope, now time.Time) string {
	switch {
	case s.BatchID != "":
		return s.BatchID
	case s.Date != "":
		return s.Date
	}
	return "open-" + now.Format("2006-01-02-1504")
}

// safeName keeps a file name to letters, digits, dot, dash and underscore.
func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.TrimLeft(b.String(), ".")
}

// warnQueued tells w how many webhook events were acknowledged and not
// applied yet, and so are left out of what (nothing when there are none).
func warnQueued(w io.Writer, j journal.Journal, what string) error {
	n, err := j.Queued(context.Background())
	if err != nil {
		return fmt.Errorf("webhook events queued: %w", err)
	}
	if n > 0 {
		fmt.Fprintf(w, "warning: %d webhook event(s) acknowledged and not applied yet are left out of %s; 'payrun reconcile' or the daemon applies them\n", n, what)
	}
	return nil
}

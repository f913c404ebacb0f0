package reports

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
)

// Request is one report run: what to reconcile, where the files go, and
// whom to email.
type Request struct {
	Scope reconcile.Scope
	// Dir is where the files are written (created if missing).
	Dir   string
	Match reconcile.MatchOptions
	// Options decide what the reports show (masking).
	Options Options
	// Read is how the batches' input files were read, for their annotated
	// copies.
	Read batch.ReadOptions
	// Mailer, when set, gets the email with the workbook attached (and the
	// annotated inputs when AttachAnnotated), addressed by Envelope.
	Mailer          *Mailer
	Envelope        Envelope
	AttachAnnotated bool
	// Notes, when set, is told what a reader should know (an input file
	// that moved, an email left queued).
	Notes io.Writer
	// Links are the payouts waiting for their beneficiary, with their
	// links (internal/collect.Waiting); those of the report's payouts are
	// listed in a CSV beside the workbook (links.go).
	Links []Link
}

// Files are the paths a report run wrote.
type Files struct {
	Workbook, SummaryCSV, DetailsCSV, EML string
	// LinksCSV lists the report's payouts waiting for their beneficiary
	// and their links ("" when none waits).
	LinksCSV  string
	Annotated []string
	Balanced  bool
	// ReviewCount counts the payouts paid with another amount than the
	// input's.
	ReviewCount int
}

// Run reconciles the scope and writes every report file, then (when a
// mailer is given) queues the email with the workbook attached. Files are
// written before the message is queued, so a failed send loses nothing.
func Run(ctx context.Context, j journal.Journal, r Request) (Files, error) {
	var files Files
	notes := r.Notes
	if notes == nil {
		notes = io.Discard
	}
	now := j.Now()
	loc := r.Match.Location
	if loc == nil {
		loc = time.UTC
	}
	res, err := reconcile.Match(ctx, j, r.Scope, now, r.Match)
	if err != nil {
		return files, err
	}
	files.Balanced, files.ReviewCount = res.Balanced(), res.ReviewCount
	if err := os.MkdirAll(r.Dir, 0o750); err != nil {
		return files, err
	}
	meta := Meta{Scope: r.Scope, RunAt: now, Location: loc}
	for _, b := range res.Batches {
		meta.BatchIDs = append(meta.BatchIDs, b.ID)
		meta.Files = append(meta.Files, b.File)
	}
	if len(res.Batches) == 1 {
		meta.File = res.Batches[0].File
	}
	o := r.Options
	stem := "reconciliation-" + SafeName(ScopeLabel(r.Scope, now.In(loc)))
	files.Workbook = filepath.Join(r.Dir, stem+".xlsx")
	files.SummaryCSV = filepath.Join(r.Dir, stem+"-summary.csv")
	files.DetailsCSV = filepath.Join(r.Dir, stem+"-details.csv")
	if err := WriteFile(files.Workbook, 0o640, func(w io.Writer) error { return WriteWorkbook(w, meta, res, o) }); err != nil {
		return files, fmt.Errorf("workbook: %w", err)
	}
	if err := WriteFile(files.SummaryCSV, 0o640, func(w io.Writer) error { return WriteSummaryCSV(w, res) }); err != nil {
		return files, fmt.Errorf("summary csv: %w", err)
	}
	if err := WriteFile(files.DetailsCSV, 0o640, func(w io.Writer) error { return WriteDetailsCSVResult(w, meta, res, o) }); err != nil {
		return files, fmt.Errorf("details csv: %w", err)
	}
	if err := writeLinks(&files, r, stem, res, loc); err != nil {
		return files, err
	}
	for _, b := range res.Batches {
		bb, err := j.Batch(ctx, b.ID)
		if err != nil {
			return files, err
		}
		if _, err := os.Stat(bb.Path); err != nil {
			fmt.Fprintf(notes, "note: the input of batch %s (%s) is no longer at %s; no annotated copy\n", b.ID, bb.File, bb.Path)
			continue
		}
		ext := filepath.Ext(bb.File)
		dst := filepath.Join(r.Dir, strings.TrimSuffix(SafeName(bb.File), ext)+"-annotated"+ext)
		if err := annotateBatch(dst, bb.Path, b.ID, res, r.Read, o); err != nil {
			return files, fmt.Errorf("annotated copy of %s: %w", bb.File, err)
		}
		files.Annotated = append(files.Annotated, dst)
	}
	if r.Mailer == nil {
		return files, nil
	}
	env := r.Envelope
	env.Attachments = []string{files.Workbook}
	if r.AttachAnnotated {
		env.Attachments = append(env.Attachments, files.Annotated...)
	}
	msg, err := Compose(meta, res, env, o)
	if err != nil {
		return files, err
	}
	if err := r.Mailer.Submit(ctx, msg); err != nil {
		fmt.Fprintf(notes, "note: the email is queued and will be retried: %v\n", err)
	}
	if r.Mailer.SMTP.Host == "" {
		files.EML = OutboxPath(r.Mailer.Outbox, MessageID(msg))
	}
	return files, nil
}

// annotateBatch writes the batch's input file back in its own format with
// the status columns appended.
func annotateBatch(dst, src, batchID string, res *reconcile.Result, ro batch.ReadOptions, o Options) error {
	var lines []reconcile.Line
	for _, l := range res.Lines {
		if l.BatchID == batchID && l.Row > 0 {
			lines = append(lines, l)
		}
	}
	return WriteAnnotated(dst, src, ro, LinesByRow(lines, ""), o)
}

// ScopeLabel names a report's scope in its file names.
func ScopeLabel(s reconcile.Scope, now time.Time) string {
	switch {
	case s.BatchID != "":
		return s.BatchID
	case s.Date != "":
		return s.Date
	}
	return "open-" + now.Format("2006-01-02-1504")
}

// SafeName keeps a file name to letters, digits, dot, dash and underscore.
func SafeName(s string) string {
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

package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
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
//
// Nothing holds the scope's lines: the journal is read in a stream, once
// for the workbook and the details CSV together (the totals and tie-out,
// which the workbook's first sheets show, are written after its line
// sheets), and once per batch for its annotated copy, merged with the
// input file row by row. Memory is the same for ten rows or a million.
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
	if err := os.MkdirAll(r.Dir, 0o750); err != nil {
		return files, err
	}
	o := r.Options
	stem := "reconciliation-" + SafeName(ScopeLabel(r.Scope, now.In(loc)))
	files.Workbook = filepath.Join(r.Dir, stem+".xlsx")
	files.SummaryCSV = filepath.Join(r.Dir, stem+"-summary.csv")
	files.DetailsCSV = filepath.Join(r.Dir, stem+"-details.csv")
	// One pass gives the lines (the workbook's line sheets and the details
	// CSV), the few exceptions the email lists, the waiting payouts among
	// the scope's, and, once the lines are done, the totals and tie-out.
	var sample []reconcile.Line
	waiting := make(map[string]bool, len(r.Links))
	for _, l := range r.Links {
		waiting[l.PayoutID] = false
	}
	var res *reconcile.Result
	meta := Meta{Scope: r.Scope, RunAt: now, Location: loc}
	var merr error
	lines := func(yield func(reconcile.Line) bool) {
		res, merr = reconcile.MatchLines(ctx, j, r.Scope, now, r.Match, func(l reconcile.Line) error {
			if l.Category.Exception() && len(sample) < maxEmailExceptions {
				sample = append(sample, l)
			}
			if _, ok := waiting[l.PayoutID]; ok {
				waiting[l.PayoutID] = true
			}
			if !yield(l) {
				return errStop
			}
			return nil
		})
		if errors.Is(merr, errStop) {
			merr = nil
		}
	}
	final := func() (Meta, *reconcile.Result, error) {
		if merr != nil {
			return meta, nil, merr
		}
		for _, b := range res.Batches {
			meta.BatchIDs = append(meta.BatchIDs, b.ID)
			meta.Files = append(meta.Files, b.File)
		}
		if len(res.Batches) == 1 {
			meta.File = res.Batches[0].File
		}
		return meta, res, nil
	}
	if err := WriteFile(files.DetailsCSV, 0o640, func(csvw io.Writer) error {
		return WriteFile(files.Workbook, 0o640, func(w io.Writer) error {
			return writeBoth(meta, lines, final, w, csvw, o)
		})
	}); err != nil {
		return files, fmt.Errorf("workbook and details csv: %w", err)
	}
	files.Balanced, files.ReviewCount = res.Balanced(), res.ReviewCount
	if err := WriteFile(files.SummaryCSV, 0o640, func(w io.Writer) error { return WriteSummaryCSV(w, res) }); err != nil {
		return files, fmt.Errorf("summary csv: %w", err)
	}
	if err := writeLinks(&files, r, stem, waiting, loc); err != nil {
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
		if err := annotateBatch(ctx, j, bb, dst, now, r, o); err != nil {
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
	// The email lists the first exceptions and counts the rest from the
	// totals.
	mres := *res
	mres.Lines = sample
	msg, err := Compose(meta, &mres, env, o)
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

// errStop ends a match whose consumer stopped ranging.
var errStop = errors.New("stop")

// matched ranges over the lines of a match of scope in a stream; the
// match's error, if any, is left in *err once ranging ends.
func matched(ctx context.Context, j journal.Journal, scope reconcile.Scope, now time.Time, o reconcile.MatchOptions, err *error) iter.Seq[reconcile.Line] {
	return func(yield func(reconcile.Line) bool) {
		_, e := reconcile.MatchLines(ctx, j, scope, now, o, func(l reconcile.Line) error {
			if !yield(l) {
				return errStop
			}
			return nil
		})
		if e != nil && !errors.Is(e, errStop) {
			*err = e
		}
	}
}

// writeBoth writes the workbook to w and the details CSV to csvw from one
// stream of the scope's lines; final gives the totals once the lines are
// done.
func writeBoth(meta Meta, lines iter.Seq[reconcile.Line], final func() (Meta, *reconcile.Result, error), w, csvw io.Writer, o Options) error {
	var cerr error
	rows := make(chan reconcile.Line, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		cerr = WriteDetailsCSV(csvw, meta, func(yield func(reconcile.Line) bool) {
			for l := range rows {
				if !yield(l) {
					return
				}
			}
		}, o)
		for range rows { // drain, so that the workbook's side never blocks
		}
	}()
	closed := false
	finishCSV := func() {
		if !closed {
			closed = true
			close(rows)
			<-done
		}
	}
	werr := writeWorkbook(w, meta, func(yield func(reconcile.Line) bool) {
		for l := range lines {
			rows <- l
			if !yield(l) {
				return
			}
		}
	}, func() (Meta, *reconcile.Result, error) {
		finishCSV()
		if cerr != nil {
			return Meta{}, nil, cerr
		}
		return final()
	}, o)
	finishCSV()
	return errors.Join(werr, cerr)
}

// annotateBatch writes the batch's input file back in its own format with
// the status columns appended. The batch's item lines come in a stream in
// row order and are merged with the file as it is read; its rejected rows
// (few, and placed after the items by the matcher) are gathered first.
func annotateBatch(ctx context.Context, j journal.Journal, b journal.Batch, dst string, now time.Time, r Request, o Options) error {
	scope := reconcile.Scope{BatchID: b.ID}
	var merr error
	rejected := map[int]reconcile.Line{}
	if b.Rows > b.Valid {
		for l := range matched(ctx, j, scope, now, r.Match, &merr) {
			if rejectedLine(l) && l.BatchID == b.ID && l.Row > 0 {
				rejected[l.Row] = l
			}
		}
		if merr != nil {
			return merr
		}
	}
	next, stop := iter.Pull(matched(ctx, j, scope, now, r.Match, &merr))
	defer stop()
	var head reconcile.Line
	have, done := false, false
	lookup := func(row int) (reconcile.Line, bool) {
		if l, ok := rejected[row]; ok {
			return l, true
		}
		for !done && (!have || head.Row < row) {
			l, ok := next()
			if !ok {
				done, have = true, false
				break
			}
			if l.BatchID == b.ID && l.Row > 0 && !rejectedLine(l) {
				head, have = l, true
			}
		}
		if have && head.Row == row {
			return head, true
		}
		return reconcile.Line{}, false
	}
	err := WriteAnnotated(dst, b.Path, r.Read, lookup, o)
	stop()
	return errors.Join(err, merr)
}

// rejectedLine reports whether l is an input row that never became an
// item (invalid or a duplicate): those come after the batch's items.
func rejectedLine(l reconcile.Line) bool {
	return l.Category == reconcile.InvalidInput || l.Category == reconcile.DuplicateInput
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

package bench

import (
	"bufio"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
	"github.com/xuri/excelize/v2"
)

// lines yields n generated reconciliation lines without holding them.
func lines(n int) iter.Seq[reconcile.Line] {
	return func(yield func(reconcile.Line) bool) {
		for i := range n {
			if !yield(Line(i)) {
				return
			}
		}
	}
}

// ReportOurs writes the accountant's workbook for n lines with
// reports.WriteWorkbookLines: the streamed Details sheet (every line:
// cells neutralised, accounts masked, amounts as exact numbers with their
// currency's format, times as dates) and the streamed Exceptions sheet
// (the failed lines), beside the small Summary and Tie-out sheets.
func ReportOurs(dir string, n int) (Side, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Side{}, err
	}
	f, err := os.Create(filepath.Join(dir, "report.xlsx"))
	if err != nil {
		return Side{}, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	meta := reports.Meta{BatchIDs: []string{journalBatch}, File: "payouts-2026-03-02.csv", RunAt: genEpoch}
	res := &reconcile.Result{Scope: "batch " + journalBatch, GeneratedAt: genEpoch, TimeZone: "UTC"}
	start := time.Now()
	if err := reports.WriteWorkbookLines(w, meta, res, lines(n), reports.Options{}); err != nil {
		return Side{}, err
	}
	if err := w.Flush(); err != nil {
		return Side{}, err
	}
	if err := f.Sync(); err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: n}, nil
}

// ReportBaseline writes the same Details cells (24 columns, the same
// values, numbers and dates styled) with a bare excelize StreamWriter:
// no neutralising, masking, exceptions sheet or table.
func ReportBaseline(dir string, n int) (Side, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Side{}, err
	}
	out, err := os.Create(filepath.Join(dir, "baseline.xlsx"))
	if err != nil {
		return Side{}, err
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	start := time.Now()
	f := excelize.NewFile()
	defer f.Close()
	amount, err := f.NewStyle(&excelize.Style{NumFmt: 4})
	if err != nil {
		return Side{}, err
	}
	date, err := f.NewStyle(&excelize.Style{NumFmt: 22})
	if err != nil {
		return Side{}, err
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return Side{}, err
	}
	row := make([]any, 24)
	money := func(minor int64) any {
		return excelize.Cell{StyleID: amount, Value: float64(minor) / 100}
	}
	for i := range n {
		l := Line(i)
		var pamount any
		if l.ProviderAmount != 0 {
			pamount = money(l.ProviderAmount)
		}
		row = append(row[:0], l.BatchID, l.File, l.Row, l.PayoutID, l.Provider, l.Method, l.Currency, money(l.Amount),
			pamount, money(l.Fee), l.Category.Label(), l.Reason, l.State, l.ProviderCode, l.ProviderStatus, l.ProviderRef,
			l.URL, l.Beneficiary, l.Account, l.Document, excelize.Cell{StyleID: date, Value: l.Created},
			excelize.Cell{StyleID: date, Value: l.Updated}, l.AgeDays, l.AgeBucket)
		if err := sw.SetRow("A"+strconv.Itoa(i+1), row); err != nil {
			return Side{}, err
		}
	}
	if err := sw.Flush(); err != nil {
		return Side{}, err
	}
	if _, err := f.WriteTo(w); err != nil {
		return Side{}, err
	}
	if err := w.Flush(); err != nil {
		return Side{}, err
	}
	if err := out.Sync(); err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: n}, nil
}

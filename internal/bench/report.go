package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
	"github.com/xuri/excelize/v2"
	bolt "go.etcd.io/bbolt"
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

// ReportJournalOurs is `payrun report --batch` over the million-item
// journal: app.Report with the default configuration, which reconciles
// the batch (reports.Run: the journal read in a stream) and writes the
// workbook, the summary and details CSVs (the batch's input file is not
// there, so no annotated copy). Every file is synced.
func ReportJournalOurs(path, dir string) (Side, error) {
	ctx := context.Background()
	j, err := boltjournal.Open(path, boltjournal.Options{SkipCheck: true})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	cfg := config.Default()
	cfg.TimeZone = "UTC"
	start := time.Now()
	files, err := app.Report(ctx, cfg, j, reconcile.Scope{BatchID: journalBatch}, dir, false, io.Discard)
	if err != nil {
		return Side{}, err
	}
	elapsed := time.Since(start)
	if !files.Balanced {
		return Side{}, fmt.Errorf("report: the tie-out does not balance")
	}
	n := 0
	err = j.BatchItems(ctx, journalBatch, func(journal.Item) bool { n++; return true })
	return Side{Elapsed: elapsed, Items: n}, err
}

// journalLine is what the report baseline reads of an item.
type journalLine struct {
	BatchID string `json:"batch_id"`
	Row     int    `json:"row"`
	State   string `json:"state"`
	Payout  struct {
		Method string `json:"method"`
		Amount struct {
			Minor    int64  `json:"minor"`
			Currency string `json:"currency"`
		} `json:"amount"`
		Beneficiary struct {
			Name     string `json:"name"`
			LastName string `json:"last_name"`
			Account  string `json:"account_number"`
			CCI      string `json:"cci"`
			Document string `json:"document_number"`
		} `json:"beneficiary"`
	} `json:"payout"`
	Refs struct {
		ProviderID string `json:"provider_id"`
	} `json:"refs"`
	Last struct {
		RawStatus string `json:"raw_status"`
		Code      string `json:"code"`
		Fee       int64  `json:"fee"`
		Amount    struct {
			Minor int64 `json:"minor"`
		} `json:"amount"`
	} `json:"last"`
	Provider string    `json:"provider"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// ReportJournalBaseline is the least a report of the same journal does:
// the batch's items read with bare bbolt in row order (batch_items, then
// items), decoded with the journal's JSON implementation, and the same 24
// Details cells written with a bare excelize StreamWriter, synced. No
// categories, totals, other sheets, CSVs, masking or neutralising.
func ReportJournalBaseline(path, dir string) (Side, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return Side{}, err
	}
	defer db.Close()
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
	money := func(minor int64) any { return excelize.Cell{StyleID: amount, Value: float64(minor) / 100} }
	row := make([]any, 0, 24)
	n := 0
	err = db.View(func(tx *bolt.Tx) error {
		items := tx.Bucket([]byte("items"))
		return tx.Bucket([]byte("batch_items")).ForEach(func(_, id []byte) error {
			var l journalLine
			if err := jsonv2.Unmarshal(items.Get(id), &l); err != nil {
				return err
			}
			n++
			b := l.Payout.Beneficiary
			row = append(row[:0], l.BatchID, "payouts.csv", l.Row, string(id), l.Provider, l.Payout.Method,
				l.Payout.Amount.Currency, money(l.Payout.Amount.Minor), money(l.Last.Amount.Minor), money(l.Last.Fee),
				l.State, "", l.State, l.Last.Code, l.Last.RawStatus, l.Refs.ProviderID, "", b.Name+" "+b.LastName,
				b.Account+b.CCI, b.Document, excelize.Cell{StyleID: date, Value: l.Created},
				excelize.Cell{StyleID: date, Value: l.Updated}, 0, "0-1 days")
			return sw.SetRow("A"+strconv.Itoa(n), row)
		})
	})
	if err != nil {
		return Side{}, err
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

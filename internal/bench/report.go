package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
	"github.com/xuri/excelize/v2"
	bolt "go.etcd.io/bbolt"
)

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
			raw, err := boltjournal.ItemJSON(items.Get(id))
			if err != nil {
				return err
			}
			var l journalLine
			if err := jsonv2.Unmarshal(raw, &l); err != nil {
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

package bench

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/xuri/excelize/v2"
	bolt "go.etcd.io/bbolt"
)

// IngestOurs ingests a payout file into a fresh journal under dir with
// batch.Journal.Ingest: one pass that validates every row and journals it
// into a staging batch in 5,000-row transactions, fsync'd (reading and
// validating one chunk ahead of the journal's transaction).
func IngestOurs(path, dir string) (Side, error) {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Side{}, err
	}
	j, err := boltjournal.Open(filepath.Join(dir, "journal.db"), boltjournal.Options{})
	if err != nil {
		return Side{}, err
	}
	start := time.Now()
	res, err := j.Ingest(ctx, path, journal.IngestOptions{})
	elapsed := time.Since(start)
	if cerr := j.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Side{}, err
	}
	if res.Rejected {
		return Side{}, fmt.Errorf("generated file rejected: %d errors, first %v", len(res.Report.Errors), res.Report.Errors[0])
	}
	return Side{Elapsed: elapsed, Items: res.Batch.Valid}, nil
}

// IngestFill is the fill at which IngestOurs's journal in dir wrote its
// items (boltjournal.ItemsFill of what they take), for the baseline to
// write its records at. It is read after the side, in a child of its own:
// read in the side, the journal's pages would count in its resident set.
func IngestFill(dir string) (float64, error) {
	path := filepath.Join(dir, "journal.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	size, n := 0, 0
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("items"))
		if b == nil {
			return fmt.Errorf("%s has no items", path)
		}
		return b.ForEach(func(k, v []byte) error {
			size, n = size+len(k)+len(v), n+1
			return nil
		})
	})
	return boltjournal.ItemsFill(size, n), err
}

// baseRecord is the baseline's journal record: the row's cells in a flat
// struct beside a batch id, row number, state and time, about the size of
// our item's JSON.
type baseRecord struct {
	BatchID             string    `json:"batch_id"`
	Row                 int       `json:"row"`
	State               string    `json:"state"`
	PayoutID            string    `json:"payout_id"`
	Provider            string    `json:"provider"`
	Method              string    `json:"method"`
	Country             string    `json:"country"`
	Currency            string    `json:"currency"`
	Amount              string    `json:"amount"`
	BeneficiaryName     string    `json:"beneficiary_name"`
	BeneficiaryLastName string    `json:"beneficiary_last_name"`
	Email               string    `json:"email"`
	Phone               string    `json:"phone"`
	DocumentType        string    `json:"document_type"`
	DocumentNumber      string    `json:"document_number"`
	BankCode            string    `json:"bank_code"`
	AccountType         string    `json:"account_type"`
	AccountNumber       string    `json:"account_number"`
	CCI                 string    `json:"cci"`
	CardToken           string    `json:"card_token"`
	Description         string    `json:"description"`
	Created             time.Time `json:"created"`
}

// fill sets the record's cells from a raw record in canonical column
// order (the generated files' order; the baseline does no header matching).
func (b *baseRecord) fill(rec []string) {
	cell := func(i int) string {
		if i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	b.PayoutID, b.Provider, b.Method, b.Country, b.Currency, b.Amount = cell(0), cell(1), cell(2), cell(3), cell(4), cell(5)
	b.BeneficiaryName, b.BeneficiaryLastName, b.Email, b.Phone = cell(6), cell(7), cell(8), cell(9)
	b.DocumentType, b.DocumentNumber, b.BankCode, b.AccountType = cell(10), cell(11), cell(12), cell(13)
	b.AccountNumber, b.CCI, b.CardToken, b.Description = cell(14), cell(15), cell(16), cell(17)
}

// IngestBaseline reads the same file with the raw reader (encoding/csv,
// or excelize Rows()) and writes every record as JSON to bbolt in
// transactions of journal.IngestChunk records, fsync'd: the least a
// journaled ingest does. Its storage settings are the journal's: the same
// bbolt options, the fill at which the journal wrote its items of the same
// rows (fill, from IngestOurs; bbolt's default when 0), the same
// transaction size, fsync on.
func IngestBaseline(path, dir string, fill float64) (Side, error) {
	if fill == 0 {
		fill = bolt.DefaultFillPercent
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Side{}, err
	}
	db, err := bolt.Open(filepath.Join(dir, "baseline.db"), 0o600, &bolt.Options{Timeout: time.Second,
		FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return Side{}, err
	}
	defer db.Close()
	start := time.Now()
	next, closeFn, err := rawRows(path)
	if err != nil {
		return Side{}, err
	}
	defer closeFn()
	if _, err := next(); err != nil { // the header
		return Side{}, err
	}
	now := time.Now().UTC()
	bucket := []byte("items")
	chunk := make([]baseRecord, 0, journal.IngestChunk)
	flush := func() error {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			// The journal's fill for the same rows: at another, one side
			// writes more pages than the other.
			b.FillPercent = fill
			for i := range chunk {
				raw, err := json.Marshal(&chunk[i])
				if err != nil {
					return err
				}
				if err := b.Put([]byte(chunk[i].PayoutID), raw); err != nil {
					return err
				}
			}
			return nil
		})
		chunk = chunk[:0]
		return err
	}
	n := 0
	for {
		rec, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Side{}, err
		}
		n++
		r := baseRecord{BatchID: "B-baseline", Row: n + 1, State: "accepted", Created: now}
		r.fill(rec)
		chunk = append(chunk, r)
		if len(chunk) == cap(chunk) {
			if err := flush(); err != nil {
				return Side{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: n}, nil
}

// rawRows returns the file's records through the bare reader.
func rawRows(path string) (func() ([]string, error), func(), error) {
	if strings.HasSuffix(strings.ToLower(path), ".xlsx") {
		f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, nil, err
		}
		rows, err := f.Rows(f.GetSheetName(0))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		next := func() ([]string, error) {
			if !rows.Next() {
				if err := rows.Error(); err != nil {
					return nil, err
				}
				return nil, io.EOF
			}
			return rows.Columns(excelize.Options{RawCellValue: true})
		}
		return next, func() { rows.Close(); f.Close() }, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	r := csv.NewReader(f)
	r.ReuseRecord = true
	return r.Read, func() { f.Close() }, nil
}

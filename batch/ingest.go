package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// IngestOptions configure Ingest.
type IngestOptions struct {
	Read     ReadOptions
	Validate ValidateOptions
	// SkipInvalid journals the valid rows of a file with invalid rows
	// (on_invalid: skip_rows); by default one invalid row rejects the file.
	SkipInvalid bool
	// Name is the file name to record (default: the base name of path).
	Name string
}

// IngestResult says what became of a file.
type IngestResult struct {
	Batch  Batch
	Report *Report
	// Recognised: the same content was journaled before; nothing changed.
	Recognised bool
	// Rejected: the file had invalid rows and was refused; nothing changed.
	Rejected bool
}

// ingestChunk is the number of rows per journal transaction when
// journaling a file: one fsync per thousand rows, not per row.
const ingestChunk = 1000

// BatchID derives a batch id from the content hash, so that the same file
// always maps to the same batch.
func BatchID(sha string, at time.Time) string {
	return "B" + at.UTC().Format("20060102") + "-" + sha[:10]
}

// FileSHA256 hashes a file.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Ingest validates a payout file and journals it as a batch: once, however
// often the same content is ingested. Every row of a journaled batch is
// either an item (state accepted), or a rejected row (invalid, or a
// duplicate of a payout_id journaled by an earlier batch, which is never
// sent). A rejected file changes nothing. A crash part-way resumes when the
// same file is ingested again.
func (j *Journal) Ingest(path string, o IngestOptions) (*IngestResult, error) {
	sha, size, err := FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	prev, found, err := j.BatchBySHA(sha)
	if err != nil {
		return nil, err
	}
	if found && prev.State != BatchIngesting {
		return &IngestResult{Batch: prev, Recognised: true}, nil
	}
	rep, err := ValidateFile(path, o.Read, o.Validate)
	if err != nil {
		return nil, err
	}
	if len(rep.Errors) > 0 && !o.SkipInvalid {
		return &IngestResult{Report: rep, Rejected: true}, nil
	}
	name := o.Name
	if name == "" {
		name = filepath.Base(path)
	}
	now := j.now().UTC()
	b := prev
	if !found {
		b = Batch{ID: BatchID(sha, now), File: name, Path: path, SHA256: sha, Size: size,
			Kind: rep.Source.Kind, State: BatchIngesting, Created: now, Updated: now}
		err = j.db.Update(func(tx *bolt.Tx) error {
			bk := tx.Bucket(bktBatches)
			if bk.Get([]byte(b.ID)) != nil {
				return fmt.Errorf("%w: %s", ErrBatchExists, b.ID)
			}
			if err := tx.Bucket(bktBatchSHA).Put([]byte(sha), []byte(b.ID)); err != nil {
				return err
			}
			return putJSON(bk, []byte(b.ID), &b)
		})
		if err != nil {
			return nil, err
		}
	}
	invalid := map[int][]RowError{}
	for _, e := range rep.Errors {
		invalid[e.Row] = append(invalid[e.Row], e)
	}
	if err := j.journalRows(&b, path, o, invalid); err != nil {
		return nil, err
	}
	return &IngestResult{Batch: b, Report: rep}, nil
}

// journalRows is the second pass: every row becomes an item or a rejected
// row, in transactions of ingestChunk rows.
func (j *Journal) journalRows(b *Batch, path string, o IngestOptions, invalid map[int][]RowError) error {
	r, err := OpenFile(path, o.Read)
	if err != nil {
		return err
	}
	defer r.Close()
	type pending struct {
		item     *Item
		rejected *RejectedRow
	}
	totals := map[[2]string]*Total{}
	counts := struct{ rows, valid, invalid, dups int }{}
	chunk := make([]pending, 0, ingestChunk)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		err := j.db.Update(func(tx *bolt.Tx) error {
			items, bi, open, rej := tx.Bucket(bktItems), tx.Bucket(bktBatchItems), tx.Bucket(bktOpen), tx.Bucket(bktRejects)
			for _, p := range chunk {
				if p.rejected != nil {
					if err := putJSON(rej, rowKey(b.ID, p.rejected.Row), p.rejected); err != nil {
						return err
					}
					continue
				}
				it := p.item
				key := []byte(it.PayoutID)
				if existing := items.Get(key); existing != nil {
					var other Item
					if err := json.Unmarshal(existing, &other); err != nil {
						return err
					}
					if other.BatchID == b.ID {
						continue // resumed ingest: already journaled
					}
					dup := RejectedRow{BatchID: b.ID, Row: it.Row, PayoutID: it.PayoutID, State: Duplicate,
						Original: other.BatchID, Provider: it.Provider, Currency: it.Payout.Amount.Currency,
						Amount: it.Payout.Amount.Minor, Method: string(it.Payout.Method)}
					if err := putJSON(rej, rowKey(b.ID, it.Row), &dup); err != nil {
						return err
					}
					counts.dups++
					counts.valid--
					t := totals[[2]string{it.Payout.Amount.Currency, it.Provider}]
					t.Count--
					t.Amount -= it.Payout.Amount.Minor
					continue
				}
				if err := putJSON(items, key, it); err != nil {
					return err
				}
				if err := bi.Put(rowKey(b.ID, it.Row), key); err != nil {
					return err
				}
				if err := open.Put(key, []byte(it.State)); err != nil {
					return err
				}
			}
			return nil
		})
		chunk = chunk[:0]
		return err
	}
	now := j.now().UTC()
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			// An unreadable line: the validation report has it; it is an
			// invalid row, never sent, and the rest of the file goes on.
			counts.rows++
			counts.invalid++
			errs := invalid[re.Row]
			if len(errs) == 0 {
				errs = []RowError{*re}
			}
			chunk = append(chunk, pending{rejected: &RejectedRow{BatchID: b.ID, Row: re.Row, State: Invalid, Errors: errs}})
			continue
		}
		if err != nil {
			return err
		}
		counts.rows++
		if errs, bad := invalid[row.Number]; bad {
			counts.invalid++
			chunk = append(chunk, pending{rejected: &RejectedRow{BatchID: b.ID, Row: row.Number, PayoutID: row.PayoutID,
				State: Invalid, Errors: errs, Provider: row.Provider, Currency: row.Currency, Method: row.Method}})
		} else {
			p, provider, err := row.Payout()
			if err != nil {
				return fmt.Errorf("row %d passed validation but cannot be read: %w", row.Number, err)
			}
			counts.valid++
			k := [2]string{p.Amount.Currency, provider}
			t := totals[k]
			if t == nil {
				t = &Total{Currency: p.Amount.Currency, Provider: provider}
				totals[k] = t
			}
			t.Count++
			t.Amount += p.Amount.Minor
			chunk = append(chunk, pending{item: &Item{PayoutID: p.ID, BatchID: b.ID, Row: row.Number, Provider: provider,
				Payout: p, State: Accepted, Refs: refsFor(p), Created: now, Updated: now}})
		}
		if len(chunk) >= ingestChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	b.Rows, b.Valid, b.Invalid, b.Duplicates = counts.rows, counts.valid, counts.invalid, counts.dups
	b.Totals = b.Totals[:0]
	for _, t := range totals {
		if t.Count > 0 {
			b.Totals = append(b.Totals, *t)
		}
	}
	sort.Slice(b.Totals, func(x, y int) bool {
		if b.Totals[x].Currency != b.Totals[y].Currency {
			return b.Totals[x].Currency < b.Totals[y].Currency
		}
		return b.Totals[x].Provider < b.Totals[y].Provider
	})
	b.State = BatchAccepted
	return j.SetBatch(b.ID, func(stored *Batch) error {
		*stored = *b
		return nil
	})
}

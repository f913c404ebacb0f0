package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
// sent). A rejected file changes nothing.
//
// The file is read once: each row is validated and journaled as it comes,
// into a staging batch (BatchIngesting) that becomes accepted at the end,
// or is removed with all it wrote if the file is rejected, or by the next
// Open after a crash, or by the next Ingest should removing it have failed
// (ingest_staging.go). A payout_id the file repeats is found in the journal
// itself (the staged items are keyed by payout_id), so memory does not grow
// with the file.
func (j *Journal) Ingest(path string, o IngestOptions) (*IngestResult, error) {
	if j.wr == nil {
		return nil, errors.New("journal is open read-only")
	}
	j.ingestMu.Lock()
	defer j.ingestMu.Unlock()
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
	// Open removed what a crash left ingesting. A batch still ingesting
	// now is one an earlier Ingest of this process failed to remove (its
	// dropBatch failed after an error or a rejection): it is removed before
	// this file is staged. No other Ingest runs, and no other process holds
	// the journal, so it is no one's work in progress.
	if err := j.dropStaging(); err != nil {
		return nil, err
	}
	rd, err := OpenFile(path, o.Read)
	if err != nil {
		var he *HeaderError
		if errors.As(err, &he) && !o.SkipInvalid {
			return &IngestResult{Report: headerReport(path, he), Rejected: true}, nil
		}
		return nil, err
	}
	defer rd.Close()
	name := o.Name
	if name == "" {
		name = filepath.Base(path)
	}
	src := rd.Source()
	now := j.now().UTC()
	s := &stager{j: j, o: o, src: src, rep: &Report{File: src.Name, Source: src},
		totals: map[[2]string]*Total{}, rejIDs: map[string]int{}, fileDups: map[string][]int{},
		b: Batch{ID: BatchID(sha, now), File: name, Path: path, SHA256: sha, Size: size,
			Kind: src.Kind, State: BatchIngesting, Created: now, Updated: now}}
	res, err := s.run(rd, now)
	if err != nil && s.created {
		if derr := j.dropBatch(s.b.ID); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the staging batch %s: %w", s.b.ID, derr))
		}
	}
	return res, err
}

// staged is one row on its way to the journal.
type staged struct {
	number int
	id     string     // payout_id as in the file
	errs   []RowError // nil: valid
	// provider, currency and method as in the file (invalid rows)
	provider, currency, method string
	item                       Item // valid rows
	// where the row's item JSON, payout_id and row key sit in the
	// chunk's buffer (valid rows)
	val, key, rkey [2]int
}

// stageChunk is ingestChunk rows, read and validated, with their encoded
// items in one buffer (bbolt keeps keys and values until the commit, so a
// chunk is reused only after its transaction).
type stageChunk struct {
	rows []staged
	buf  []byte
	err  error // the read failed after rows (final)
}

func (c *stageChunk) bytes(span [2]int) []byte { return c.buf[span[0]:span[1]:span[1]] }

// stager is one Ingest's state: what has been journaled so far, and the
// report.
type stager struct {
	j       *Journal
	o       IngestOptions
	src     Source
	b       Batch
	rep     *Report
	created bool // the staging batch is in the journal
	totals  map[[2]string]*Total
	counts  struct{ rows, valid, invalid, dups int }
	// rejIDs holds the payout_ids of this file's rejected rows (invalid,
	// or duplicates of an earlier batch), with their row: unlike items,
	// rejected rows are not keyed by payout_id in the journal. It grows
	// with the rejected rows only.
	rejIDs map[string]int
	// fileDups holds each payout_id the file repeats, with all its rows.
	fileDups map[string][]int
}

// run reads, validates and journals the file. Reading and validating run
// on their own goroutine, one chunk ahead of the journal's transactions.
func (s *stager) run(rd *Reader, now time.Time) (*IngestResult, error) {
	// The JSON of now, every item's created and updated time, once.
	nowJSON, err := now.MarshalJSON()
	if err != nil {
		return nil, err
	}
	chunks := make(chan *stageChunk, 1)
	free := make(chan *stageChunk, 2)
	done, exited := make(chan struct{}), make(chan struct{})
	defer func() {
		// The reader is the caller's to close: the goroutine must be out
		// of it first.
		close(done)
		<-exited
	}()
	go func() {
		defer close(exited)
		defer close(chunks)
		// Rows are checked with Validator.check, which does not remember
		// payout_ids: stager.journal finds the repeats in the journal.
		v := NewValidator(s.o.Validate)
		for {
			var c *stageChunk
			select {
			case c = <-free:
				c.rows, c.buf = c.rows[:0], c.buf[:0]
			default:
				c = &stageChunk{rows: make([]staged, 0, ingestChunk)}
			}
			last := s.read(rd, v, c, now, nowJSON)
			select {
			case chunks <- c:
			case <-done:
				return
			}
			if last {
				return
			}
		}
	}()
	for c := range chunks {
		if c.err != nil {
			return nil, c.err
		}
		if len(c.rows) > 0 || !s.created {
			if err := s.j.update(func(tx *bolt.Tx) error { return s.journal(tx, c) }); err != nil {
				return nil, err
			}
		}
		select {
		case free <- c:
		default: // enough chunks in hand
		}
	}
	return s.finish()
}

// read fills a chunk; it reports whether the file is done.
func (s *stager) read(rd *Reader, v *Validator, c *stageChunk, now time.Time, nowJSON []byte) bool {
	for len(c.rows) < ingestChunk {
		row, err := rd.Next()
		if err == io.EOF {
			return true
		}
		var re *RowError
		if errors.As(err, &re) {
			// An unreadable line: an invalid row, never sent; the rest of
			// the file goes on.
			c.rows = append(c.rows, staged{number: re.Row, errs: []RowError{*re}})
			continue
		}
		if err != nil {
			c.err = err
			return true
		}
		p, provider, errs := v.check(s.src, row)
		st := staged{number: row.Number, id: row.PayoutID, errs: errs}
		if len(errs) > 0 {
			st.provider, st.currency, st.method = row.Provider, row.Currency, row.Method
			c.rows = append(c.rows, st)
			continue
		}
		st.item = Item{PayoutID: p.ID, BatchID: s.b.ID, Row: row.Number, Provider: provider,
			Payout: p, State: Accepted, Refs: refsFor(p), Created: now, Updated: now}
		st.val[0] = len(c.buf)
		c.buf = appendFreshItem(c.buf, &st.item, nowJSON)
		st.val[1] = len(c.buf)
		st.key[0] = len(c.buf)
		c.buf = append(c.buf, p.ID...)
		st.key[1] = len(c.buf)
		st.rkey[0] = len(c.buf)
		c.buf = appendRowKey(c.buf, s.b.ID, row.Number)
		st.rkey[1] = len(c.buf)
		c.rows = append(c.rows, st)
	}
	return false
}

// journal writes one chunk in one transaction, in row order: an item per
// valid row, a rejected row per invalid one or duplicate of an earlier
// batch. A payout_id seen before in the file makes every row carrying it
// invalid, the earlier ones too: an earlier row staged as an item is
// taken back out.
func (s *stager) journal(tx *bolt.Tx, c *stageChunk) error {
	if !s.created {
		bk := tx.Bucket(bktBatches)
		if bk.Get([]byte(s.b.ID)) != nil {
			return fmt.Errorf("%w: %s", ErrBatchExists, s.b.ID)
		}
		if err := tx.Bucket(bktBatchSHA).Put([]byte(s.b.SHA256), []byte(s.b.ID)); err != nil {
			return err
		}
		if err := putJSON(bk, []byte(s.b.ID), &s.b); err != nil {
			return err
		}
		s.created = true
	}
	items, bi, open, rej := tx.Bucket(bktItems), tx.Bucket(bktBatchItems), tx.Bucket(bktOpen), tx.Bucket(bktRejects)
	for i := range c.rows {
		r := &c.rows[i]
		s.counts.rows++
		s.rep.add(r.errs...)
		if r.id == "" { // no payout_id: nothing to repeat
			if err := s.reject(rej, r); err != nil {
				return err
			}
			continue
		}
		if rows, ok := s.fileDups[r.id]; ok {
			s.fileDups[strings.Clone(r.id)] = append(rows, r.number) // see Validator.remember
			if err := s.reject(rej, r); err != nil {
				return err
			}
			continue
		}
		if first, ok := s.rejIDs[r.id]; ok {
			// An earlier rejected row has it: both rows are invalid.
			if err := s.invalidate(rej, first); err != nil {
				return err
			}
			delete(s.rejIDs, r.id)
			s.fileDups[strings.Clone(r.id)] = []int{first, r.number}
			if err := s.reject(rej, r); err != nil {
				return err
			}
			continue
		}
		var key []byte
		if r.errs == nil {
			key = c.bytes(r.key)
		} else {
			key = []byte(r.id)
		}
		var other Item // an item of the same payout_id already journaled
		raw := items.Get(key)
		if raw != nil {
			if err := decodeItem(key, raw, &other); err != nil {
				return err
			}
			if other.BatchID == s.b.ID {
				// This file's earlier row: it is taken back out, and both
				// rows are invalid.
				if err := s.unstage(items, bi, open, rej, &other); err != nil {
					return err
				}
				s.fileDups[strings.Clone(r.id)] = []int{other.Row, r.number}
				if err := s.reject(rej, r); err != nil {
					return err
				}
				continue
			}
		}
		if r.errs != nil {
			// Invalid: rejected. Like every rejected row, it goes into
			// rejIDs, should a later row of the file repeat its payout_id.
			s.rejIDs[strings.Clone(r.id)] = r.number
			if err := s.reject(rej, r); err != nil {
				return err
			}
			continue
		}
		if raw != nil {
			// An earlier batch journaled it: a duplicate, never sent, and
			// a rejected row (rejIDs).
			s.rejIDs[strings.Clone(r.id)] = r.number
			it := &r.item
			s.counts.dups++
			dup := RejectedRow{BatchID: s.b.ID, Row: it.Row, PayoutID: it.PayoutID, State: Duplicate,
				Original: other.BatchID, Provider: it.Provider, Currency: it.Payout.Amount.Currency,
				Amount: it.Payout.Amount.Minor, Method: string(it.Payout.Method)}
			if err := putJSON(rej, c.bytes(r.rkey), &dup); err != nil {
				return err
			}
			continue
		}
		if err := items.Put(key, c.bytes(r.val)); err != nil {
			return err
		}
		if err := bi.Put(c.bytes(r.rkey), key); err != nil {
			return err
		}
		if err := open.Put(key, []byte(Accepted)); err != nil {
			return err
		}
		s.counts.valid++
		s.total(r.item.Payout.Amount.Currency, r.item.Provider, 1, r.item.Payout.Amount.Minor)
	}
	return nil
}

func (s *stager) total(currency, provider string, n int, amount int64) {
	k := [2]string{currency, provider}
	t := s.totals[k]
	if t == nil {
		t = &Total{Currency: currency, Provider: provider}
		s.totals[k] = t
	}
	t.Count += n
	t.Amount += amount
}

// reject records an invalid row (its errors; a repeated payout_id is added
// by finish).
func (s *stager) reject(rej *bolt.Bucket, r *staged) error {
	s.counts.invalid++
	return putJSON(rej, rowKey(s.b.ID, r.number), &RejectedRow{BatchID: s.b.ID, Row: r.number, PayoutID: r.id,
		State: Invalid, Errors: r.errs, Provider: r.provider, Currency: r.currency, Method: r.method})
}

// invalidate turns an earlier rejected row into an invalid one, should it
// have been a duplicate of an earlier batch.
func (s *stager) invalidate(rej *bolt.Bucket, row int) error {
	var rr RejectedRow
	key := rowKey(s.b.ID, row)
	ok, err := getJSON(rej, key, &rr)
	if err != nil || !ok || rr.State != Duplicate {
		if err == nil && !ok {
			err = fmt.Errorf("rejected row %d of batch %s is missing", row, s.b.ID)
		}
		return err
	}
	s.counts.dups--
	s.counts.invalid++
	rr.State, rr.Original, rr.Amount = Invalid, "", 0
	return putJSON(rej, key, &rr)
}

// unstage takes a staged item of this batch back out: it becomes an
// invalid row.
func (s *stager) unstage(items, bi, open, rej *bolt.Bucket, it *Item) error {
	key := []byte(it.PayoutID)
	if err := items.Delete(key); err != nil {
		return err
	}
	if err := open.Delete(key); err != nil {
		return err
	}
	if err := bi.Delete(rowKey(s.b.ID, it.Row)); err != nil {
		return err
	}
	s.counts.valid--
	s.total(it.Payout.Amount.Currency, it.Provider, -1, -it.Payout.Amount.Minor)
	return s.reject(rej, &staged{number: it.Row, id: it.PayoutID, provider: it.Provider,
		currency: it.Payout.Amount.Currency, method: string(it.Payout.Method)})
}

// finish reports the payout_ids the file repeats, on every row carrying
// them, and then accepts the batch, or removes it if the file is rejected.
func (s *stager) finish() (*IngestResult, error) {
	dupErrs := repeatErrors(s.src.Name, s.src.Sheet, s.fileDups)
	rep := s.rep
	rep.add(dupErrs...)
	rep.Rows, rep.ValidRows = s.counts.rows, s.counts.valid+s.counts.dups
	sort.SliceStable(rep.Errors, func(a, b int) bool { return rep.Errors[a].Row < rep.Errors[b].Row })
	if (len(rep.Errors) > 0 || rep.Omitted > 0) && !s.o.SkipInvalid {
		if err := s.j.dropBatch(s.b.ID); err != nil {
			return nil, err
		}
		s.created = false
		return &IngestResult{Report: rep, Rejected: true}, nil
	}
	b := &s.b
	b.Rows, b.Valid, b.Invalid, b.Duplicates = s.counts.rows, s.counts.valid, s.counts.invalid, s.counts.dups
	b.Totals = b.Totals[:0]
	for _, t := range s.totals {
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
	b.Updated = s.j.now().UTC()
	err := s.j.update(func(tx *bolt.Tx) error {
		rej := tx.Bucket(bktRejects)
		for _, e := range dupErrs {
			var rr RejectedRow
			key := rowKey(b.ID, e.Row)
			if ok, err := getJSON(rej, key, &rr); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("rejected row %d of batch %s is missing", e.Row, b.ID)
				}
				return err
			}
			rr.Errors = append(rr.Errors, e)
			if err := putJSON(rej, key, &rr); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bktBatches), []byte(b.ID), b)
	})
	if err != nil {
		return nil, err
	}
	return &IngestResult{Batch: *b, Report: rep}, nil
}

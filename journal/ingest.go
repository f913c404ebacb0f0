package journal

import (
	"context"
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

	"github.com/payrun/payrun/batch"
)

// IngestOptions configure Ingest.
type IngestOptions struct {
	Read     batch.ReadOptions
	Validate batch.ValidateOptions
	// SkipInvalid journals the valid rows of a file with invalid rows
	// (on_invalid: skip_rows); by default one invalid row rejects the file.
	SkipInvalid bool
	// Name is the file name to record (default: the base name of path).
	Name string
	// Chunk is the number of rows per transaction (default IngestChunk).
	Chunk int
}

// IngestResult says what became of a file.
type IngestResult struct {
	Batch  Batch
	Report *batch.Report
	// Recognised: the same content was journaled before; nothing changed.
	Recognised bool
	// Rejected: the file had invalid rows and was refused; nothing changed.
	Rejected bool
}

// IngestChunk is the number of rows per transaction when a file is
// journaled: one sync per five thousand rows, not per row (on
// PostgreSQL a chunk is also a round trip for its owners and one for its
// COPY; at 1,000 rows those made ingest 2.66x a bare COPY, at 5,000 1.92x:
// payrun bench --quick --postgres DSN --stages ingest).
const IngestChunk = 5000

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

// Staging is a driver's side of Ingest. A file is journaled into a staging
// batch (BatchIngesting) a chunk a transaction; only at the end is it known
// whether the file is accepted. A rejected file's staging batch is removed
// with everything it wrote, and so is one a crash left behind (by the
// driver, when it opens) or one an earlier Ingest failed to remove: nothing
// but Ingest ever acts on an ingesting batch, and no reader counts one.
type Staging interface {
	Now() time.Time
	BatchBySHA(ctx context.Context, sha string) (Batch, bool, error)
	// DropStaging removes every batch left ingesting, with all it wrote.
	DropStaging(ctx context.Context) error
	// StageChunk writes one chunk in one transaction. The first chunk of
	// a file creates its staging batch b (ErrBatchExists when the id is
	// taken). write is given, for the payout_ids of the chunk that are
	// journaled as items, the batch that holds each, and returns what to
	// write.
	// write runs once, inside the transaction; if the transaction then
	// fails, Ingest fails.
	StageChunk(ctx context.Context, b *Batch, first bool, ids []string, write func(owners map[string]Owner) *ChunkWrites) error
	// FinishStaging adds errors to rejected rows of the staging batch
	// (rows -> errors) and stores b, which is no longer ingesting, in one
	// transaction.
	FinishStaging(ctx context.Context, b *Batch, errs map[int][]batch.RowError) error
	// DropBatch removes a staging batch and everything it wrote: its items
	// (never an earlier batch's item of the same payout_id), its rejected
	// rows, its content hash, and the batch itself last, so that a crash
	// part-way leaves a batch still ingesting.
	DropBatch(ctx context.Context, id string) error
}

// ChunkWrites is what one chunk of a file writes.
type ChunkWrites struct {
	// Unstage are the payout_ids of items of this batch, staged by an
	// earlier chunk, taken back out: a later row repeats their payout_id.
	Unstage []string
	// Items are new items (accepted).
	Items []Item
	// Rejected are rejected rows, new or rewritten (by row).
	Rejected []RejectedRow
}

// Ingest validates a payout file and journals it through a driver's
// Staging; drivers' Journal.Ingest call it. The file is read once: each
// row is validated and journaled as it comes, reading and validating one
// chunk ahead of the store on their own goroutine. A payout_id the file
// repeats is found in the store itself (the staged items are keyed by
// payout_id), so memory grows with the rejected rows only.
func Ingest(ctx context.Context, st Staging, path string, o IngestOptions) (*IngestResult, error) {
	sha, size, err := FileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	prev, found, err := st.BatchBySHA(ctx, sha)
	if err != nil {
		return nil, err
	}
	if found && prev.State != BatchIngesting {
		return &IngestResult{Batch: prev, Recognised: true}, nil
	}
	// A batch still ingesting now is a crash's or an earlier Ingest's
	// leftover (drivers run one Ingest at a time): removed before this
	// file is staged.
	if err := st.DropStaging(ctx); err != nil {
		return nil, err
	}
	rd, err := batch.OpenFile(path, o.Read)
	if err != nil {
		var he *batch.HeaderError
		if errors.As(err, &he) && !o.SkipInvalid {
			return &IngestResult{Report: batch.HeaderReport(path, he), Rejected: true}, nil
		}
		return nil, err
	}
	defer rd.Close()
	name := o.Name
	if name == "" {
		name = filepath.Base(path)
	}
	src := rd.Source()
	now := st.Now().UTC()
	s := &stager{st: st, o: o, src: src, rep: &batch.Report{File: src.Name, Source: src},
		totals: map[[2]string]*Total{}, rejected: map[string]RejectedRow{}, fileDups: map[string][]int{},
		b: Batch{ID: BatchID(sha, now), File: name, Path: path, SHA256: sha, Size: size,
			Kind: src.Kind, State: BatchIngesting, Created: now, Updated: now}}
	res, err := s.run(ctx, rd, now)
	if err != nil && s.created {
		if derr := st.DropBatch(context.WithoutCancel(ctx), s.b.ID); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the staging batch %s: %w", s.b.ID, derr))
		}
	}
	return res, err
}

// staged is one row on its way to the store.
type staged struct {
	number int
	id     string           // payout_id as in the file
	errs   []batch.RowError // nil: valid
	// provider, currency and method as in the file (invalid rows)
	provider, currency, method string
	item                       Item // valid rows
}

// stager is one Ingest's state: what has been journaled so far, and the
// report.
type stager struct {
	st      Staging
	o       IngestOptions
	src     batch.Source
	b       Batch
	rep     *batch.Report
	created bool // the staging batch is in the store
	totals  map[[2]string]*Total
	counts  struct{ rows, valid, invalid, dups int }
	// rejected holds this file's rejected rows that carry a payout_id
	// (invalid, or duplicates of an earlier batch), by payout_id: unlike
	// items, rejected rows are not keyed by payout_id in the store. It
	// grows with the rejected rows only.
	rejected map[string]RejectedRow
	// fileDups holds each payout_id the file repeats, with all its rows.
	fileDups map[string][]int
	// items is the room decide makes a chunk's items in: a store has
	// written them once StageChunk returns.
	items []Item
}

// run reads, validates and journals the file.
func (s *stager) run(ctx context.Context, rd *batch.Reader, now time.Time) (*IngestResult, error) {
	chunks := make(chan []staged, 1)
	// Chunks are handed back once journaled and read into again: a chunk
	// of rows is megabytes, and a fresh one for each was a tenth of the
	// ingest's CPU in allocating and clearing it. At most three are alive:
	// one journaled, one waiting, one being read.
	free := make(chan []staged, 3)
	var readErr error
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
		// Rows are checked with CheckRow, which does not remember
		// payout_ids: the store finds the repeats.
		v := batch.NewValidator(s.o.Validate)
		for {
			var c []staged
			select {
			case c = <-free:
			default:
			}
			c, last, err := s.read(c, rd, v, now)
			if err != nil {
				readErr = err
				return
			}
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
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if len(c) > 0 || !s.created {
			if err := s.journal(ctx, c); err != nil {
				return nil, err
			}
		}
		select {
		case free <- c[:0]:
		default:
		}
	}
	if readErr != nil {
		return nil, readErr
	}
	return s.finish(ctx)
}

// read reads a chunk of rows into c (empty, or nil for a new one); it
// reports whether the file is done.
func (s *stager) read(c []staged, rd *batch.Reader, v *batch.Validator, now time.Time) ([]staged, bool, error) {
	size := s.o.Chunk
	if size <= 0 {
		size = IngestChunk
	}
	if c == nil {
		c = make([]staged, 0, size)
	}
	for len(c) < size {
		row, err := rd.Next()
		if err == io.EOF {
			return c, true, nil
		}
		var re *batch.RowError
		if errors.As(err, &re) {
			// An unreadable line: an invalid row, never sent; the rest of
			// the file goes on.
			c = append(c, staged{number: re.Row, errs: []batch.RowError{*re}})
			continue
		}
		if err != nil {
			return nil, true, err
		}
		p, provider, errs := v.CheckRow(s.src, row)
		st := staged{number: row.Number, id: row.PayoutID, errs: errs}
		if len(errs) > 0 {
			st.provider, st.currency, st.method = row.Provider, row.Currency, row.Method
			c = append(c, st)
			continue
		}
		st.item = Item{PayoutID: p.ID, BatchID: s.b.ID, Row: row.Number, Provider: provider,
			Payout: p, State: Accepted, Refs: RefsFor(p), Created: now, Updated: now}
		c = append(c, st)
	}
	return c, false, nil
}

// journal writes one chunk in one transaction, in row order: an item per
// valid row, a rejected row per invalid one or duplicate of an earlier
// batch. A payout_id seen before in the file makes every row carrying it
// invalid, the earlier ones too: an earlier row staged as an item is taken
// back out.
func (s *stager) journal(ctx context.Context, c []staged) error {
	ids := make([]string, 0, len(c))
	for i := range c {
		if c[i].id != "" {
			ids = append(ids, c[i].id)
		}
	}
	err := s.st.StageChunk(ctx, &s.b, !s.created, ids, func(owners map[string]Owner) *ChunkWrites {
		return s.decide(c, owners)
	})
	if err != nil {
		return err
	}
	s.created = true
	return nil
}

// decide makes the writes of one chunk. owners has every payout_id of the
// chunk journaled as an item before it.
func (s *stager) decide(c []staged, owners map[string]Owner) *ChunkWrites {
	// Room for every row as an item, kept from chunk to chunk: an Item is
	// large, and growing the slice to a chunk's 5,000 by doubling cost a
	// sixth of the ingest's CPU in allocating and copying.
	if cap(s.items) < len(c) {
		s.items = make([]Item, 0, len(c))
	}
	w := &ChunkWrites{Items: s.items[:0]}
	staged := map[string]int{} // items staged by this chunk: payout_id -> index in w.Items
	for i := range c {
		r := &c[i]
		s.counts.rows++
		s.rep.Add(r.errs...)
		if r.id == "" { // no payout_id: nothing to repeat
			s.reject(w, r)
			continue
		}
		if rows, ok := s.fileDups[r.id]; ok {
			s.fileDups[strings.Clone(r.id)] = append(rows, r.number)
			s.reject(w, r)
			continue
		}
		if prev, ok := s.rejected[r.id]; ok {
			// An earlier rejected row has it: both rows are invalid.
			if prev.State == Duplicate {
				prev.State, prev.Original, prev.Amount = Invalid, "", 0
				w.Rejected = append(w.Rejected, prev)
				s.counts.dups--
				s.counts.invalid++
			}
			delete(s.rejected, r.id)
			s.fileDups[strings.Clone(r.id)] = []int{prev.Row, r.number}
			s.reject(w, r)
			continue
		}
		var other Owner
		journaled := false
		if k, ok := staged[r.id]; ok {
			it := w.Items[k]
			other, journaled = ownerOf(&it), true
		} else {
			other, journaled = owners[r.id]
		}
		if journaled && other.BatchID == s.b.ID {
			// This file's earlier row: it is taken back out, and both rows
			// are invalid.
			if k, ok := staged[r.id]; ok {
				w.Items[k] = Item{} // dropped below
				delete(staged, r.id)
			} else {
				w.Unstage = append(w.Unstage, r.id)
			}
			s.counts.valid--
			s.total(other.Currency, other.Provider, -1, -other.Amount)
			s.counts.invalid++
			w.Rejected = append(w.Rejected, RejectedRow{BatchID: s.b.ID, Row: other.Row, PayoutID: r.id, State: Invalid,
				Provider: other.Provider, Currency: other.Currency, Method: other.Method})
			s.fileDups[strings.Clone(r.id)] = []int{other.Row, r.number}
			s.reject(w, r)
			continue
		}
		if r.errs != nil {
			s.reject(w, r)
			continue
		}
		if journaled {
			// An earlier batch journaled it: a duplicate, never sent.
			it := &r.item
			s.counts.dups++
			dup := RejectedRow{BatchID: s.b.ID, Row: it.Row, PayoutID: it.PayoutID, State: Duplicate,
				Original: other.BatchID, Provider: it.Provider, Currency: it.Payout.Amount.Currency,
				Amount: it.Payout.Amount.Minor, Method: string(it.Payout.Method)}
			w.Rejected = append(w.Rejected, dup)
			s.rejected[strings.Clone(r.id)] = dup
			continue
		}
		staged[r.id] = len(w.Items)
		w.Items = append(w.Items, r.item)
		s.counts.valid++
		s.total(r.item.Payout.Amount.Currency, r.item.Provider, 1, r.item.Payout.Amount.Minor)
	}
	kept := w.Items[:0]
	for _, it := range w.Items {
		if it.PayoutID != "" {
			kept = append(kept, it)
		}
	}
	w.Items = kept
	return w
}

// Owner is what staging needs to know of a journaled item.
type Owner struct {
	BatchID                    string
	Row                        int
	Provider, Currency, Method string
	Amount                     int64
}

// ownerOf returns an item's Owner.
func ownerOf(it *Item) Owner {
	return Owner{BatchID: it.BatchID, Row: it.Row, Provider: it.Provider, Currency: it.Payout.Amount.Currency,
		Method: string(it.Payout.Method), Amount: it.Payout.Amount.Minor}
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
func (s *stager) reject(w *ChunkWrites, r *staged) {
	s.counts.invalid++
	rr := RejectedRow{BatchID: s.b.ID, Row: r.number, PayoutID: r.id,
		State: Invalid, Errors: r.errs, Provider: r.provider, Currency: r.currency, Method: r.method}
	w.Rejected = append(w.Rejected, rr)
	if r.id != "" {
		if _, dup := s.fileDups[r.id]; !dup {
			s.rejected[strings.Clone(r.id)] = RejectedRow{Row: r.number, State: Invalid}
		}
	}
}

// finish reports the payout_ids the file repeats, on every row carrying
// them, and then accepts the batch, or removes it if the file is rejected.
func (s *stager) finish(ctx context.Context) (*IngestResult, error) {
	dupErrs := batch.RepeatErrors(s.src.Name, s.src.Sheet, s.fileDups)
	rep := s.rep
	rep.Add(dupErrs...)
	rep.Rows, rep.ValidRows = s.counts.rows, s.counts.valid+s.counts.dups
	sort.SliceStable(rep.Errors, func(a, b int) bool { return rep.Errors[a].Row < rep.Errors[b].Row })
	if (len(rep.Errors) > 0 || rep.Omitted > 0) && !s.o.SkipInvalid {
		if err := s.st.DropBatch(ctx, s.b.ID); err != nil {
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
	SortTotals(b.Totals)
	b.State = BatchAccepted
	b.Updated = s.st.Now().UTC()
	errs := map[int][]batch.RowError{}
	for _, e := range dupErrs {
		errs[e.Row] = append(errs[e.Row], e)
	}
	if err := s.st.FinishStaging(ctx, b, errs); err != nil {
		return nil, err
	}
	return &IngestResult{Batch: *b, Report: rep}, nil
}

// SortTotals orders totals by currency, then provider.
func SortTotals(ts []Total) {
	sort.Slice(ts, func(x, y int) bool {
		if ts[x].Currency != ts[y].Currency {
			return ts[x].Currency < ts[y].Currency
		}
		return ts[x].Provider < ts[y].Provider
	})
}

// Stager is a journal that exposes its Staging. Every driver does: its
// Ingest runs Ingest over it, and the conformance suite stops an ingest
// part-way through it, as a crash would.
type Stager interface {
	Staging() Staging
}

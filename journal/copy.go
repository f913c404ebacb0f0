package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Restorer is what a journal offers `payrun journal copy` beyond Journal:
// reading what the contract keeps to itself (provider references, every
// event with the fact it came with and its place in the queue, all mail,
// the marks), and writing records exactly as another journal holds them,
// which Import cannot (it sets times and starting states, and the log,
// the events and the queue have no way in but the operations that make
// them). Every driver implements it; Copy uses it on both ends.
//
// Restore methods write what they are given, as given, each call in one
// transaction; they are meant for an empty journal that nothing else
// writes to, and they refuse what would break a key (a payout_id, event or
// reference already there).
type Restorer interface {
	// Refs calls fn for every provider reference (a provider's payout id
	// or session id) and the payout it belongs to.
	Refs(ctx context.Context, fn func(Ref) bool) error
	// StoredEvents calls fn for every stored event with the fact it was
	// received with and what became of it; the events waiting in the
	// queue come last, in queue order.
	StoredEvents(ctx context.Context, fn func(StoredEvent) bool) error
	// AllMail returns every message, sent or not, oldest first.
	AllMail(ctx context.Context) ([]QueuedMail, error)
	// ListMarks calls fn for every mark.
	ListMarks(ctx context.Context, fn func(key, value string) bool) error

	// RestoreBatch journals b as given: no time, state or count is set.
	RestoreBatch(ctx context.Context, b Batch) error
	// RestoreItems journals items as given (their batch first), in every
	// field and state.
	RestoreItems(ctx context.Context, items []Item) error
	// RestoreRefs maps provider references to payouts.
	RestoreRefs(ctx context.Context, refs []Ref) error
	// RestoreTransitions appends ts to the log in the order given; each
	// gets a sequence of this journal.
	RestoreTransitions(ctx context.Context, ts []Transition) error
	// RestoreEvents stores events as given: the fact each came with, the
	// fact recorded when it was judged, and, for those queued, a place in
	// the queue after every event queued before, in the order given.
	RestoreEvents(ctx context.Context, evs []StoredEvent) error
	// RestoreMail stores messages as given, sent or not.
	RestoreMail(ctx context.Context, ms []QueuedMail) error
}

// Ref is a provider's id (payout id or session id) for a payout.
type Ref struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	PayoutID string `json:"payout_id"`
}

// StoredEvent is an event as a journal keeps it.
type StoredEvent struct {
	// Event is the raw event with its replay keys; Applied and Note are
	// Judged's.
	Event Event
	// Fact is what the receiver read of it when it was persisted (Applied
	// and Note unset).
	Fact EventFact
	// Judged is the fact recorded when it was applied or judged, nil
	// while it waits.
	Judged *EventFact
	// Queued says it waits in the queue for ApplyQueued.
	Queued bool
}

// CopyReport says what Copy copied, counted on the target afterwards.
type CopyReport struct {
	Batches     int `json:"batches"`
	Items       int `json:"items"`
	Rejected    int `json:"rejected"`
	Transitions int `json:"transitions"`
	Refs        int `json:"refs"`
	Events      int `json:"events"`
	Facts       int `json:"facts"`
	Queued      int `json:"queued"`
	Mail        int `json:"mail"`
	Marks       int `json:"marks"`
	// PerBatch holds each batch's items, rejected rows and totals by
	// currency and provider, as both journals agree on them.
	PerBatch []BatchCount `json:"per_batch"`
	// Skipped are batches a crash left ingesting in the source: never
	// journaled, not copied.
	Skipped []string `json:"skipped,omitempty"`
}

// BatchCount is one batch's items and amounts.
type BatchCount struct {
	ID       string  `json:"id"`
	Items    int     `json:"items"`
	Rejected int     `json:"rejected"`
	Totals   []Total `json:"totals"`
}

// copyChunk is how many records one Restore call writes.
const copyChunk = 1000

// ErrNotEmpty is a copy's target that already holds something.
var ErrNotEmpty = errors.New("the target journal is not empty")

// Copy copies everything from holds into to, an empty journal (perhaps of
// another driver): every batch, item (in its state, with every field),
// rejected row, provider reference, transition, event (with its replay
// keys, its facts, and its place in the queue), message (pending and
// sent) and mark. Then it counts both sides, per batch the items,
// rejected rows and totals by currency and provider, and everything else
// as a whole, and fails unless they agree. Nothing may write to either
// journal meanwhile (stop payrun first).
func Copy(ctx context.Context, from, to Journal) (*CopyReport, error) {
	src, ok := from.(Restorer)
	if !ok {
		return nil, fmt.Errorf("copy: the source journal cannot be read whole (no Restorer)")
	}
	dst, ok := to.(Restorer)
	if !ok {
		return nil, fmt.Errorf("copy: the target journal cannot be restored into (no Restorer)")
	}
	if err := empty(ctx, to, dst); err != nil {
		return nil, err
	}
	rep := &CopyReport{}
	batches, err := from.ListBatches(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		if b.State == BatchIngesting {
			rep.Skipped = append(rep.Skipped, b.ID)
			continue
		}
		if err := copyBatch(ctx, from, to, dst, b); err != nil {
			return nil, fmt.Errorf("copy batch %s: %w", b.ID, err)
		}
	}
	if err := copyEach(ctx, src.Refs, dst.RestoreRefs); err != nil {
		return nil, fmt.Errorf("copy references: %w", err)
	}
	if err := copyEach(ctx, func(ctx context.Context, fn func(Transition) bool) error {
		return from.Transitions(ctx, "", fn)
	}, dst.RestoreTransitions); err != nil {
		return nil, fmt.Errorf("copy transitions: %w", err)
	}
	if err := copyEach(ctx, src.StoredEvents, dst.RestoreEvents); err != nil {
		return nil, fmt.Errorf("copy events: %w", err)
	}
	mail, err := src.AllMail(ctx)
	if err != nil {
		return nil, err
	}
	if err := dst.RestoreMail(ctx, mail); err != nil {
		return nil, fmt.Errorf("copy mail: %w", err)
	}
	var markErr error
	if err := src.ListMarks(ctx, func(k, v string) bool {
		markErr = to.SetMark(ctx, k, v)
		return markErr == nil
	}); err != nil || markErr != nil {
		return nil, fmt.Errorf("copy marks: %w", errors.Join(err, markErr))
	}
	return verify(ctx, from, to, rep)
}

// empty refuses a target that holds anything.
func empty(ctx context.Context, j Journal, r Restorer) error {
	found := ""
	seen := func(what string) bool { found = what; return false }
	bs, err := j.ListBatches(ctx)
	if err != nil {
		return err
	}
	if len(bs) > 0 {
		found = fmt.Sprintf("%d batches", len(bs))
	}
	for _, probe := range []func() error{
		func() error { return j.AllItems(ctx, func(Item) bool { return seen("items") }) },
		func() error { return j.Transitions(ctx, "", func(Transition) bool { return seen("transitions") }) },
		func() error { return j.ListEvents(ctx, func(Event) bool { return seen("events") }) },
		func() error { return r.Refs(ctx, func(Ref) bool { return seen("provider references") }) },
		func() error { return r.ListMarks(ctx, func(string, string) bool { return seen("marks") }) },
		func() error {
			m, err := r.AllMail(ctx)
			if len(m) > 0 {
				seen("mail")
			}
			return err
		},
	} {
		if found != "" {
			break
		}
		if err := probe(); err != nil {
			return err
		}
	}
	if found != "" {
		return fmt.Errorf("%w: it holds %s; copy into a new journal", ErrNotEmpty, found)
	}
	return nil
}

// copyBatch copies a batch, its items and its rejected rows.
func copyBatch(ctx context.Context, from, to Journal, dst Restorer, b Batch) error {
	if err := dst.RestoreBatch(ctx, b); err != nil {
		return err
	}
	if err := copyEach(ctx, func(ctx context.Context, fn func(Item) bool) error {
		return from.BatchItems(ctx, b.ID, fn)
	}, dst.RestoreItems); err != nil {
		return err
	}
	return copyEach(ctx, func(ctx context.Context, fn func(RejectedRow) bool) error {
		return from.RejectedRows(ctx, b.ID, fn)
	}, to.ImportRejected)
}

// copyEach reads records with list and writes them with restore, a chunk
// at a time, so that memory holds one chunk whatever the journal's size.
func copyEach[T any](ctx context.Context, list func(context.Context, func(T) bool) error, restore func(context.Context, []T) error) error {
	chunk := make([]T, 0, copyChunk)
	var werr error
	err := list(ctx, func(v T) bool {
		chunk = append(chunk, v)
		if len(chunk) == copyChunk {
			werr = restore(ctx, chunk)
			chunk = chunk[:0]
		}
		return werr == nil
	})
	if err != nil || werr != nil {
		return errors.Join(err, werr)
	}
	if len(chunk) > 0 {
		return restore(ctx, chunk)
	}
	return nil
}

// tally is what verify counts of one journal.
type tally struct {
	report  CopyReport
	batches map[string]*BatchCount
}

// count counts everything a journal holds.
func count(ctx context.Context, j Journal) (*tally, error) {
	t := &tally{batches: map[string]*BatchCount{}}
	r := j.(Restorer)
	bs, err := j.ListBatches(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.State == BatchIngesting {
			continue
		}
		bc := &BatchCount{ID: b.ID}
		totals := map[[2]string]*Total{}
		if err := j.BatchItems(ctx, b.ID, func(it Item) bool {
			bc.Items++
			k := [2]string{it.Payout.Amount.Currency, it.Provider}
			if totals[k] == nil {
				totals[k] = &Total{Currency: k[0], Provider: k[1]}
			}
			totals[k].Count++
			totals[k].Amount += it.Payout.Amount.Minor
			return true
		}); err != nil {
			return nil, err
		}
		if err := j.RejectedRows(ctx, b.ID, func(RejectedRow) bool { bc.Rejected++; return true }); err != nil {
			return nil, err
		}
		for _, tot := range totals {
			bc.Totals = append(bc.Totals, *tot)
		}
		SortTotals(bc.Totals)
		t.batches[b.ID] = bc
		t.report.Batches++
		t.report.Items += bc.Items
		t.report.Rejected += bc.Rejected
	}
	c := &t.report
	counters := []func() error{
		func() error { return j.Transitions(ctx, "", func(Transition) bool { c.Transitions++; return true }) },
		func() error { return r.Refs(ctx, func(Ref) bool { c.Refs++; return true }) },
		func() error {
			return r.StoredEvents(ctx, func(e StoredEvent) bool {
				c.Events++
				if e.Judged != nil {
					c.Facts++
				}
				if e.Queued {
					c.Queued++
				}
				return true
			})
		},
		func() error { m, err := r.AllMail(ctx); c.Mail = len(m); return err },
		func() error { return r.ListMarks(ctx, func(string, string) bool { c.Marks++; return true }) },
	}
	for _, f := range counters {
		if err := f(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// verify counts both journals and reports the copy, or every difference.
func verify(ctx context.Context, from, to Journal, rep *CopyReport) (*CopyReport, error) {
	a, err := count(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("count the source: %w", err)
	}
	b, err := count(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("count the target: %w", err)
	}
	var diffs []error
	ids := make([]string, 0, len(a.batches))
	for id := range a.batches {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		x, y := a.batches[id], b.batches[id]
		if y == nil {
			diffs = append(diffs, fmt.Errorf("batch %s is missing from the target", id))
			continue
		}
		if x.Items != y.Items || x.Rejected != y.Rejected || !slices.Equal(x.Totals, y.Totals) {
			diffs = append(diffs, fmt.Errorf("batch %s: source %d items, %d rejected, totals %v; target %d, %d, %v",
				id, x.Items, x.Rejected, x.Totals, y.Items, y.Rejected, y.Totals))
		}
		rep.PerBatch = append(rep.PerBatch, *y)
	}
	got, want := b.report, a.report
	got.PerBatch, want.PerBatch = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		diffs = append(diffs, fmt.Errorf("the source holds %+v, the target %+v", want, got))
	}
	perBatch, skipped := rep.PerBatch, rep.Skipped
	*rep = got
	rep.PerBatch, rep.Skipped = perBatch, skipped
	if len(diffs) > 0 {
		return rep, fmt.Errorf("copy does not match its source: %w", errors.Join(diffs...))
	}
	return rep, nil
}

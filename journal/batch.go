package journal

import (
	"context"
	"sort"
	"time"

	"github.com/payrun/payrun/batch"
)

// BatchState is where a whole file stands.
type BatchState string

// Batch states.
const (
	BatchIngesting   BatchState = "ingesting"   // staging: rows being journaled; a rejected file or a crash's leftover is removed (ingest_staging.go)
	BatchAccepted    BatchState = "accepted"    // journaled, not dispatched yet
	BatchHeld        BatchState = "held"        // waits for approval (pre-flight threshold)
	BatchDispatching BatchState = "dispatching" // items being sent
	BatchWaiting     BatchState = "waiting"     // everything sent; some items wait on others
	BatchDone        BatchState = "done"        // every item final
)

// Total is a count and amount per currency and provider.
type Total struct {
	Currency string `json:"currency"`
	Provider string `json:"provider"`
	Count    int    `json:"count"`
	Amount   int64  `json:"amount"`
}

// Batch is one payout file, journaled once whatever how often it is dropped.
type Batch struct {
	ID         string     `json:"id"`
	File       string     `json:"file"` // the name as dropped
	Path       string     `json:"path"` // where the file was read from
	SHA256     string     `json:"sha256"`
	Size       int64      `json:"size"`
	Kind       string     `json:"kind"` // csv or xlsx
	State      BatchState `json:"state"`
	Rows       int        `json:"rows"`
	Valid      int        `json:"valid"`
	Invalid    int        `json:"invalid"`
	Duplicates int        `json:"duplicates"`
	Totals     []Total    `json:"totals"`
	Created    time.Time  `json:"created"`
	Updated    time.Time  `json:"updated"`
	// Approved is set by `payrun approve` for a held batch.
	Approved   time.Time `json:"approved,omitempty"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	// ApprovedVia is how the approval came (the daemon's control socket,
	// the approvals folder, a command on the journal) and ApprovedTotals
	// the totals the approver was shown and approved.
	ApprovedVia    string  `json:"approved_via,omitempty"`
	ApprovedTotals []Total `json:"approved_totals,omitempty"`
	// DroppedBy is who brought the file: the OS owner of the file in the
	// inbox, or the user who ran ingest or process (maker-checker).
	DroppedBy string `json:"dropped_by,omitempty"`
	// Preflighted is when the pre-flight ran on the batch (held or not):
	// a batch accepted without it (journaled by an older payrun, or by a
	// run stopped before its pre-flight) is checked before it is sent.
	Preflighted time.Time `json:"preflighted,omitempty"`
	Note        string    `json:"note,omitempty"`
}

// RejectedRow is a row that was never made an item: invalid, or a
// duplicate of a payout_id journaled by an earlier batch.
type RejectedRow struct {
	BatchID  string           `json:"batch_id"`
	Row      int              `json:"row"`
	PayoutID string           `json:"payout_id,omitempty"`
	State    State            `json:"state"` // invalid or duplicate
	Errors   []batch.RowError `json:"errors,omitempty"`
	// Original is the batch that journaled the payout_id first (duplicates).
	Original string `json:"original,omitempty"`
	Provider string `json:"provider,omitempty"`
	Currency string `json:"currency,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Method   string `json:"method,omitempty"`
}

// RefreshBatch sets a batch's state from its items' states (dispatching
// while any waits to be sent, waiting while any is not final, done).
func RefreshBatch(ctx context.Context, j Journal, id string) error {
	counts := map[State]int{}
	if err := j.BatchItems(ctx, id, func(it Item) bool { counts[it.State]++; return true }); err != nil {
		return err
	}
	return SetProgress(ctx, j, id, counts)
}

// SetProgress sets a batch's state from the count of its items in each
// state. A held or ingesting batch is left alone, and an accepted one is
// not made dispatching by items merely waiting to be sent.
func SetProgress(ctx context.Context, j Batches, id string, counts map[State]int) error {
	state := BatchDone
	for s := range counts {
		switch {
		case s == Accepted || s == Queued || s == Sending:
			state = BatchDispatching
		case !s.Final() && state == BatchDone:
			state = BatchWaiting
		}
	}
	return j.SetBatch(ctx, id, func(b *Batch) error {
		if b.State == BatchHeld || b.State == BatchIngesting {
			return nil
		}
		if b.State == BatchAccepted && state == BatchDispatching {
			return nil
		}
		b.State = state
		return nil
	})
}

// Imported returns a batch and its items as Import journals them: times
// set to now where missing, the batch accepted unless it says otherwise,
// items of the batch, accepted unless they say otherwise, with their
// starting references.
func Imported(b Batch, items []Item, now time.Time) (Batch, []Item) {
	if b.Created.IsZero() {
		b.Created = now
	}
	b.Updated = now
	if b.State == "" {
		b.State = BatchAccepted
	}
	out := make([]Item, len(items))
	for i, it := range items {
		it.BatchID = b.ID
		if it.State == "" {
			it.State = Accepted
		}
		if it.Created.IsZero() {
			it.Created, it.Updated = now, now
		}
		if it.Refs.PayoutID == "" {
			it.Refs.PayoutID, it.Refs.Method = it.Payout.ID, it.Payout.Method
		}
		out[i] = it
	}
	return b, out
}

// SortBatches orders batches newest first (by id within the same time).
func SortBatches(bs []Batch) {
	sort.Slice(bs, func(a, b int) bool {
		if bs[a].Created.Equal(bs[b].Created) {
			return bs[a].ID > bs[b].ID
		}
		return bs[a].Created.After(bs[b].Created)
	})
}

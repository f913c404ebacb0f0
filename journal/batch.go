package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
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
	Note       string    `json:"note,omitempty"`
}

// RejectedRow is a row that was never made an item: invalid, or a
// duplicate of a payout_id journaled by an earlier batch.
type RejectedRow struct {
	BatchID  string     `json:"batch_id"`
	Row      int        `json:"row"`
	PayoutID string     `json:"payout_id,omitempty"`
	State    State      `json:"state"` // invalid or duplicate
	Errors   []RowError `json:"errors,omitempty"`
	// Original is the batch that journaled the payout_id first (duplicates).
	Original string `json:"original,omitempty"`
	Provider string `json:"provider,omitempty"`
	Currency string `json:"currency,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Method   string `json:"method,omitempty"`
}

// Batch returns one batch.
func (j *Journal) Batch(id string) (Batch, error) {
	var b Batch
	err := j.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bktBatches), []byte(id), &b)
		if err == nil && !ok {
			return fmt.Errorf("batch %s: %w", id, ErrNotFound)
		}
		return err
	})
	return b, err
}

// BatchBySHA returns the batch journaled for a file content, if any.
func (j *Journal) BatchBySHA(sha string) (Batch, bool, error) {
	var b Batch
	var found bool
	err := j.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bktBatchSHA).Get([]byte(sha))
		if id == nil {
			return nil
		}
		var err error
		found, err = getJSON(tx.Bucket(bktBatches), id, &b)
		return err
	})
	return b, found, err
}

// Batches returns every batch, newest first.
func (j *Journal) Batches() ([]Batch, error) {
	var out []Batch
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBatches).ForEach(func(_, v []byte) error {
			var b Batch
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	sort.Slice(out, func(a, b int) bool {
		if out[a].Created.Equal(out[b].Created) {
			return out[a].ID > out[b].ID
		}
		return out[a].Created.After(out[b].Created)
	})
	return out, err
}

// SetBatch updates a batch's bookkeeping (state, approval).
func (j *Journal) SetBatch(id string, fn func(*Batch) error) error {
	return j.batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBatches)
		var b Batch
		ok, err := getJSON(bk, []byte(id), &b)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("batch %s: %w", id, ErrNotFound)
		}
		if err := fn(&b); err != nil {
			return err
		}
		b.Updated = j.now().UTC()
		return putJSON(bk, []byte(id), &b)
	})
}

// RejectedRows calls fn for every invalid or duplicate row of a batch.
func (j *Journal) RejectedRows(batchID string, fn func(RejectedRow)) error {
	return j.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktRejects).Cursor()
		prefix := append([]byte(batchID), 0)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r RejectedRow
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			fn(r)
		}
		return nil
	})
}

// ErrBatchExists is returned when a batch id is taken by another file.
var ErrBatchExists = errors.New("batch id already used by another file")

// Import journals a batch whose items were built elsewhere (tools,
// benchmarks, tests), in transactions of ingestChunk items. Items start in
// the state they carry (normally accepted); existing payout_ids are refused.
func (j *Journal) Import(b Batch, items []Item) error {
	now := j.now().UTC()
	if b.Created.IsZero() {
		b.Created = now
	}
	b.Updated = now
	if b.State == "" {
		b.State = BatchAccepted
	}
	err := j.update(func(tx *bolt.Tx) error {
		if b.SHA256 != "" {
			if err := tx.Bucket(bktBatchSHA).Put([]byte(b.SHA256), []byte(b.ID)); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bktBatches), []byte(b.ID), &b)
	})
	if err != nil {
		return err
	}
	for start := 0; start < len(items); start += ingestChunk {
		end := min(start+ingestChunk, len(items))
		err := j.update(func(tx *bolt.Tx) error {
			bi, ib, open := tx.Bucket(bktBatchItems), tx.Bucket(bktItems), tx.Bucket(bktOpen)
			for i := start; i < end; i++ {
				it := items[i]
				it.BatchID = b.ID
				if it.State == "" {
					it.State = Accepted
				}
				if it.Created.IsZero() {
					it.Created, it.Updated = now, now
				}
				if it.Refs.PayoutID == "" {
					it.Refs = refsFor(it.Payout)
				}
				if ib.Get([]byte(it.PayoutID)) != nil {
					return fmt.Errorf("payout %s is already journaled", it.PayoutID)
				}
				if err := putItem(ib, []byte(it.PayoutID), &it); err != nil {
					return err
				}
				if err := bi.Put(rowKey(b.ID, it.Row), []byte(it.PayoutID)); err != nil {
					return err
				}
				if !it.State.Final() {
					if err := open.Put([]byte(it.PayoutID), []byte(it.State)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

package boltjournal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	bolt "go.etcd.io/bbolt"
)

// Batch returns one batch.
func (j *Journal) Batch(_ context.Context, id string) (journal.Batch, error) {
	var b journal.Batch
	err := j.view(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bktBatches), []byte(id), &b)
		if err == nil && !ok {
			return fmt.Errorf("batch %s: %w", id, journal.ErrNotFound)
		}
		return err
	})
	return b, err
}

// BatchBySHA returns the batch journaled for a file content, if any.
func (j *Journal) BatchBySHA(_ context.Context, sha string) (journal.Batch, bool, error) {
	var b journal.Batch
	var found bool
	err := j.view(func(tx *bolt.Tx) error {
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

// ListBatches returns every batch, newest first.
func (j *Journal) ListBatches(context.Context) ([]journal.Batch, error) {
	var out []journal.Batch
	err := j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktBatches).ForEach(func(_, v []byte) error {
			var b journal.Batch
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	journal.SortBatches(out)
	return out, err
}

// SetBatch updates a batch's bookkeeping (state, approval).
func (j *Journal) SetBatch(ctx context.Context, id string, fn func(*journal.Batch) error) error {
	return j.write(ctx, func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBatches)
		var b journal.Batch
		ok, err := getJSON(bk, []byte(id), &b)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("batch %s: %w", id, journal.ErrNotFound)
		}
		if err := fn(&b); err != nil {
			return err
		}
		b.Updated = j.now().UTC()
		return putJSON(bk, []byte(id), &b)
	})
}

// RejectedRows calls fn for every invalid or duplicate row of a batch.
func (j *Journal) RejectedRows(_ context.Context, batchID string, fn func(journal.RejectedRow) bool) error {
	return j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktRejects).Cursor()
		prefix := append([]byte(batchID), 0)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var r journal.RejectedRow
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			if !fn(r) {
				return nil
			}
		}
		return nil
	})
}

// Import journals a batch whose items were built elsewhere, a chunk of
// items a transaction.
func (j *Journal) Import(_ context.Context, b journal.Batch, items []journal.Item) error {
	b, items = journal.Imported(b, items, j.now().UTC())
	// Refused before anything is written: every payout_id is checked
	// first.
	err := j.view(func(tx *bolt.Tx) error {
		ib := tx.Bucket(bktItems)
		for i := range items {
			if ib.Get([]byte(items[i].PayoutID)) != nil {
				return fmt.Errorf("payout %s is already journaled", items[i].PayoutID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = j.update(func(tx *bolt.Tx) error {
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
	for start := 0; start < len(items); start += journal.IngestChunk {
		chunk := items[start:min(start+journal.IngestChunk, len(items))]
		err := j.update(func(tx *bolt.Tx) error {
			for i := range chunk {
				if tx.Bucket(bktItems).Get([]byte(chunk[i].PayoutID)) != nil {
					return fmt.Errorf("payout %s is already journaled", chunk[i].PayoutID)
				}
			}
			return putItems(tx, chunk)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// putItems stores new items with their row keys and open marks, and
// leaves their pages room to grow (ItemsFill; bbolt reads a bucket's fill
// when the transaction commits).
func putItems(tx *bolt.Tx, items []journal.Item) error {
	ib, bi, open := tx.Bucket(bktItems), tx.Bucket(bktBatchItems), tx.Bucket(bktOpen)
	size := 0
	defer func() { ib.FillPercent = ItemsFill(size, len(items)) }()
	for i := range items {
		it := &items[i]
		n, err := putItemSize(ib, []byte(it.PayoutID), it)
		if err != nil {
			return err
		}
		size += n
		if err := bi.Put(rowKey(it.BatchID, it.Row), []byte(it.PayoutID)); err != nil {
			return err
		}
		if !it.State.Final() {
			if err := open.Put([]byte(it.PayoutID), []byte(it.State)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ImportRejected journals rejected rows of a batch built elsewhere.
func (j *Journal) ImportRejected(_ context.Context, rows []journal.RejectedRow) error {
	return j.update(func(tx *bolt.Tx) error { return putRejected(tx.Bucket(bktRejects), rows) })
}

func putRejected(b *bolt.Bucket, rows []journal.RejectedRow) error {
	for i := range rows {
		if err := putJSON(b, rowKey(rows[i].BatchID, rows[i].Row), &rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// Ingest journals a file through journal.Ingest, one at a time.
func (j *Journal) Ingest(ctx context.Context, path string, o journal.IngestOptions) (*journal.IngestResult, error) {
	if j.ro {
		return nil, journal.ErrReadOnly
	}
	j.ingestMu.Lock()
	defer j.ingestMu.Unlock()
	return journal.Ingest(ctx, staging{j}, path, o)
}

// staging is the journal as journal.Ingest stages files into it.
type staging struct{ *Journal }

func (s staging) BatchBySHA(ctx context.Context, sha string) (journal.Batch, bool, error) {
	return s.Journal.BatchBySHA(ctx, sha)
}

func (s staging) StageChunk(_ context.Context, b *journal.Batch, first bool, ids []string, write func(map[string]journal.Owner) *journal.ChunkWrites) error {
	return s.update(func(tx *bolt.Tx) error {
		if first {
			bk := tx.Bucket(bktBatches)
			if bk.Get([]byte(b.ID)) != nil {
				return fmt.Errorf("%w: %s", journal.ErrBatchExists, b.ID)
			}
			if err := tx.Bucket(bktBatchSHA).Put([]byte(b.SHA256), []byte(b.ID)); err != nil {
				return err
			}
			if err := putJSON(bk, []byte(b.ID), b); err != nil {
				return err
			}
		}
		items := tx.Bucket(bktItems)
		own, err := owners(items, ids)
		if err != nil {
			return err
		}
		w := write(own)
		bi, open := tx.Bucket(bktBatchItems), tx.Bucket(bktOpen)
		for _, id := range w.Unstage {
			var it journal.Item
			if ok, err := getItem(items, []byte(id), &it); err != nil || !ok || it.BatchID != b.ID {
				if err == nil {
					err = fmt.Errorf("staged payout %s of batch %s is missing", id, b.ID)
				}
				return err
			}
			if err := items.Delete([]byte(id)); err != nil {
				return err
			}
			if err := open.Delete([]byte(id)); err != nil {
				return err
			}
			if err := bi.Delete(rowKey(b.ID, it.Row)); err != nil {
				return err
			}
		}
		if err := putItems(tx, w.Items); err != nil {
			return err
		}
		return putRejected(tx.Bucket(bktRejects), w.Rejected)
	})
}

func (s staging) FinishStaging(_ context.Context, b *journal.Batch, errs map[int][]batch.RowError) error {
	rows := make([]int, 0, len(errs))
	for r := range errs {
		rows = append(rows, r)
	}
	sort.Ints(rows)
	return s.update(func(tx *bolt.Tx) error {
		rej := tx.Bucket(bktRejects)
		for _, row := range rows {
			var rr journal.RejectedRow
			key := rowKey(b.ID, row)
			if ok, err := getJSON(rej, key, &rr); err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("rejected row %d of batch %s is missing", row, b.ID)
				}
				return err
			}
			rr.Errors = append(rr.Errors, errs[row]...)
			if err := putJSON(rej, key, &rr); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bktBatches), []byte(b.ID), b)
	})
}

// dropChunk is how many rows of a staging batch one transaction removes.
const dropChunk = 10_000

// stagingBatches lists the batches in state BatchIngesting.
func stagingBatches(tx *bolt.Tx) ([]string, error) {
	var ids []string
	marker := []byte(`"state":"` + journal.BatchIngesting + `"`)
	err := tx.Bucket(bktBatches).ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, marker) {
			return nil
		}
		var b journal.Batch
		if err := json.Unmarshal(v, &b); err != nil {
			return err
		}
		if b.State == journal.BatchIngesting {
			ids = append(ids, string(k))
		}
		return nil
	})
	return ids, err
}

// DropStaging removes every batch left ingesting, with all it wrote.
func (j *Journal) DropStaging(ctx context.Context) error {
	var ids []string
	err := j.view(func(tx *bolt.Tx) error {
		var err error
		ids, err = stagingBatches(tx)
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := j.DropBatch(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// DropBatch removes a staging batch: its items (only those it journaled,
// never an earlier batch's item of the same payout_id) with their row
// index and open entries, its rejected rows, its content hash and the batch
// itself, last, so that a crash part-way leaves a batch still ingesting
// that the next open removes.
func (j *Journal) DropBatch(_ context.Context, id string) error {
	prefix := append([]byte(id), 0)
	for {
		more := false
		err := j.update(func(tx *bolt.Tx) error {
			items, bi, open, rej := tx.Bucket(bktItems), tx.Bucket(bktBatchItems), tx.Bucket(bktOpen), tx.Bucket(bktRejects)
			n := 0
			for _, bk := range []*bolt.Bucket{bi, rej} {
				c := bk.Cursor()
				for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Seek(prefix) {
					if n == dropChunk {
						more = true
						return nil
					}
					if bk == bi {
						if raw := items.Get(v); raw != nil && itemBatch(v, raw) == id {
							if err := items.Delete(v); err != nil {
								return err
							}
							if err := open.Delete(v); err != nil {
								return err
							}
						}
					}
					if err := c.Delete(); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	return j.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBatches)
		var b journal.Batch
		if ok, err := getJSON(bk, []byte(id), &b); err != nil || !ok {
			return err
		}
		shas := tx.Bucket(bktBatchSHA)
		if b.SHA256 != "" && string(shas.Get([]byte(b.SHA256))) == id {
			if err := shas.Delete([]byte(b.SHA256)); err != nil {
				return err
			}
		}
		return bk.Delete([]byte(id))
	})
}

// itemBatch returns the batch of the item stored under key ("" if it
// cannot be read).
func itemBatch(key, raw []byte) string {
	var it journal.Item
	if decodeItem(key, raw, &it) != nil {
		return ""
	}
	return it.BatchID
}

// Staging is the journal as journal.Ingest stages files into it.
func (j *Journal) Staging() journal.Staging { return staging{j} }

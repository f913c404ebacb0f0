package batch

import (
	"bytes"
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// Ingest journals a file in one pass: each row is validated and journaled
// as it is read, into a staging batch (state BatchIngesting), 1,000 rows
// per transaction. Only at the end is it known whether the file is
// accepted; a rejected file's staging batch is then removed with
// everything it wrote, so that the journal is as before. A batch still
// ingesting when the journal is opened is what a crash left; one still
// ingesting when Ingest starts is what an earlier Ingest of the process
// failed to remove. Either is removed the same way, and ingesting the file
// again starts afresh. Nothing but Ingest ever acts on an ingesting batch
// (Dispatcher.Run, in-doubt resolution and approval skip it).

// dropChunk is how many rows of a staging batch one transaction removes.
const dropChunk = 10_000

// stagingBatches lists the batches in state BatchIngesting.
func stagingBatches(tx *bolt.Tx) ([]string, error) {
	var ids []string
	marker := []byte(`"state":"` + BatchIngesting + `"`)
	err := tx.Bucket(bktBatches).ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, marker) {
			return nil
		}
		var b Batch
		if err := json.Unmarshal(v, &b); err != nil {
			return err
		}
		if b.State == BatchIngesting {
			ids = append(ids, string(k))
		}
		return nil
	})
	return ids, err
}

// dropStaging removes every batch left ingesting, with all it wrote.
func (j *Journal) dropStaging() error {
	var ids []string
	err := j.db.View(func(tx *bolt.Tx) error {
		var err error
		ids, err = stagingBatches(tx)
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := j.dropBatch(id); err != nil {
			return err
		}
	}
	return nil
}

// dropBatch removes a staging batch: its items (only those it journaled,
// never an earlier batch's item of the same payout_id) with their row
// index and open entries, its rejected rows, its content hash and the batch
// itself, last, so that a crash part-way leaves a batch still ingesting
// that the next open removes.
func (j *Journal) dropBatch(id string) error {
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
						if raw := items.Get(v); raw != nil && itemBatch(raw) == id {
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
		var b Batch
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

// itemBatch returns the batch of a stored item ("" if it cannot be read).
func itemBatch(raw []byte) string {
	var s struct {
		BatchID string `json:"batch_id"`
	}
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s.BatchID
}

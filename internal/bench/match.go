package bench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/reconcile"
	bolt "go.etcd.io/bbolt"
)

// MatchOurs reconciles the million-item journal's batch with
// reconcile.Match: every row placed in one category, totals, tie-out.
func MatchOurs(path string) (Side, error) {
	j, err := batch.Open(path, batch.Options{})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	start := time.Now()
	res, err := reconcile.Match(j, reconcile.Scope{BatchID: journalBatch}, genEpoch.Add(time.Hour), reconcile.MatchOptions{})
	elapsed := time.Since(start)
	if err != nil {
		return Side{}, err
	}
	if !res.Balanced() {
		return Side{}, fmt.Errorf("match: tie-out does not balance")
	}
	return Side{Elapsed: elapsed, Items: len(res.Lines)}, nil
}

// fact is what the bare join reads of an item: the provider's side.
type fact struct {
	State  string `json:"state"`
	Payout struct {
		Amount struct {
			Minor int64 `json:"minor"`
		} `json:"amount"`
	} `json:"payout"`
	Last struct {
		Amount struct {
			Minor int64 `json:"minor"`
		} `json:"amount"`
	} `json:"last"`
}

// MatchBaseline is a bare hash join of the same keys: the items bucket
// read with bare bbolt into a map[payout_id]fact (state and amounts
// decoded), then probed with the batch's input rows (batch_items), a row
// matched when paid and the amounts agree.
func MatchBaseline(path string) (Side, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return Side{}, err
	}
	defer db.Close()
	start := time.Now()
	rows, matched := 0, 0
	err = db.View(func(tx *bolt.Tx) error {
		facts := make(map[string]fact, 1<<16)
		if err := tx.Bucket([]byte("items")).ForEach(func(k, v []byte) error {
			var f fact
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			facts[string(k)] = f
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket([]byte("batch_items")).ForEach(func(_, v []byte) error {
			rows++
			if f, ok := facts[string(v)]; ok && f.State == string(batch.Succeeded) && f.Payout.Amount.Minor == f.Last.Amount.Minor {
				matched++
			}
			return nil
		})
	})
	if err != nil {
		return Side{}, err
	}
	if matched == 0 {
		return Side{}, fmt.Errorf("bare join matched nothing of %d rows", rows)
	}
	return Side{Elapsed: time.Since(start), Items: rows}, nil
}

package bench

import (
	"context"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/reconcile"
	bolt "go.etcd.io/bbolt"
)

// MatchOurs reconciles the million-item journal's batch with
// reconcile.MatchLines as `payrun reconcile` does: every row placed in one
// category, totals, tie-out, and no consumer of the lines (nil), so they
// are neither kept nor handled; Match, which keeps them, costs ~0.9 KB per
// line more. The check on the result is the tie-out, outside the timing.
func MatchOurs(path string) (Side, error) {
	j, err := boltjournal.Open(path, boltjournal.Options{})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	return matchJournal(j)
}

// matchJournal is MatchOurs on j, opened already (not timed).
func matchJournal(j journal.Journal) (Side, error) {
	ctx := context.Background()
	start := time.Now()
	res, err := reconcile.MatchLines(ctx, j, reconcile.Scope{BatchID: journalBatch}, genEpoch.Add(time.Hour), reconcile.MatchOptions{}, nil)
	elapsed := time.Since(start)
	if err != nil {
		return Side{}, err
	}
	if !res.Balanced() {
		return Side{}, fmt.Errorf("match: tie-out does not balance")
	}
	return Side{Elapsed: elapsed, Items: res.LineCount}, nil
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
// read with bare bbolt into a map[payout_id]fact (expanded as the journal
// stores them, state and amounts decoded), then probed with the batch's input rows (batch_items), a row
// matched when paid and the amounts agree. The items are decoded with the
// JSON implementation the journal reads them with (go-json-experiment/json),
// so the ratio is the matcher's own work, not a choice of decoder.
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
			raw, err := boltjournal.ItemJSON(v)
			if err != nil {
				return err
			}
			var f fact
			if err := jsonv2.Unmarshal(raw, &f); err != nil {
				return err
			}
			facts[string(k)] = f
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket([]byte("batch_items")).ForEach(func(_, v []byte) error {
			rows++
			if f, ok := facts[string(v)]; ok && f.State == string(journal.Succeeded) && f.Payout.Amount.Minor == f.Last.Amount.Minor {
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

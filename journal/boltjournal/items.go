package boltjournal

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/payrun/payrun/journal"
	bolt "go.etcd.io/bbolt"
)

// boltTx is a bbolt write transaction seen as journal.Tx, for
// journal.ApplyTo.
type boltTx struct{ tx *bolt.Tx }

func (t boltTx) PayoutByRef(provider, id string) (string, bool, error) {
	v := t.tx.Bucket(bktRefs).Get(refKey(provider, id))
	return string(v), v != nil, nil
}

func (t boltTx) PutRef(provider, id, payoutID string) error {
	return t.tx.Bucket(bktRefs).Put(refKey(provider, id), []byte(payoutID))
}

func (t boltTx) PutItem(it *journal.Item, from journal.State) error {
	if err := putItem(t.tx.Bucket(bktItems), []byte(it.PayoutID), it); err != nil {
		return err
	}
	// The open index holds the state, so it changes only with it.
	if it.State == from {
		return nil
	}
	open := t.tx.Bucket(bktOpen)
	if it.State.Final() {
		return open.Delete([]byte(it.PayoutID))
	}
	return open.Put([]byte(it.PayoutID), []byte(it.State))
}

func (t boltTx) AppendTransition(tr *journal.Transition) error {
	log := t.tx.Bucket(bktTransitions)
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	tr.Seq = seq
	return log.Put(u64(seq), appendTransition(nil, tr))
}

// itemIn reads one item inside a transaction.
func itemIn(tx *bolt.Tx, payoutID string) (journal.Item, error) {
	var it journal.Item
	ok, err := getItem(tx.Bucket(bktItems), []byte(payoutID), &it)
	if err != nil {
		return journal.Item{}, fmt.Errorf("payout %s: %w", payoutID, err)
	}
	if !ok {
		return journal.Item{}, fmt.Errorf("payout %s: %w", payoutID, journal.ErrNotFound)
	}
	return it, nil
}

// Apply commits changes, each checked by journal.ApplyTo, in the next
// group commit.
func (j *Journal) Apply(ctx context.Context, changes ...journal.Change) error {
	if len(changes) == 0 {
		return nil
	}
	return j.write(ctx, func(tx *bolt.Tx) error {
		now := j.now().UTC()
		for _, c := range changes {
			it, err := itemIn(tx, c.PayoutID)
			if err != nil {
				return err
			}
			if err := journal.ApplyTo(boltTx{tx}, &it, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// Update changes an item's bookkeeping fields without a state change.
func (j *Journal) Update(ctx context.Context, payoutID string, fn func(*journal.Item)) error {
	return j.write(ctx, func(tx *bolt.Tx) error { return updateIn(tx, payoutID, fn) })
}

// updateIn is Update inside a transaction.
func updateIn(tx *bolt.Tx, payoutID string, fn func(*journal.Item)) error {
	it, err := itemIn(tx, payoutID)
	if err != nil {
		return err
	}
	fn(&it)
	return putItem(tx.Bucket(bktItems), []byte(payoutID), &it)
}

// Item returns one item by payout_id.
func (j *Journal) Item(_ context.Context, payoutID string) (journal.Item, error) {
	var it journal.Item
	err := j.view(func(tx *bolt.Tx) (err error) {
		it, err = itemIn(tx, payoutID)
		return err
	})
	return it, err
}

// BatchItems calls fn for every item of a batch, in row order.
func (j *Journal) BatchItems(_ context.Context, batchID string, fn func(journal.Item) bool) error {
	return j.view(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		c := tx.Bucket(bktBatchItems).Cursor()
		prefix := append([]byte(batchID), 0)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var it journal.Item
			if ok, err := getItem(items, v, &it); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			if !fn(it) {
				return nil
			}
		}
		return nil
	})
}

// OpenItems calls fn for every item that is not final.
func (j *Journal) OpenItems(_ context.Context, fn func(journal.Item) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		return tx.Bucket(bktOpen).ForEach(func(k, _ []byte) error {
			var it journal.Item
			if ok, err := getItem(items, k, &it); err != nil || !ok {
				return err
			}
			if !fn(it) {
				return errStop
			}
			return nil
		})
	}))
}

// OpenStates calls fn with the payout_id and state of every item not yet
// final, from the open index alone: no item is decoded.
func (j *Journal) OpenStates(_ context.Context, fn func(payoutID string, s journal.State) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktOpen).ForEach(func(k, v []byte) error {
			if !fn(string(k), journal.State(v)) {
				return errStop
			}
			return nil
		})
	}))
}

// AllItems calls fn for every item, in payout_id order.
func (j *Journal) AllItems(_ context.Context, fn func(journal.Item) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktItems).ForEach(func(k, v []byte) error {
			var it journal.Item
			if err := decodeItem(k, v, &it); err != nil {
				return err
			}
			if !fn(it) {
				return errStop
			}
			return nil
		})
	}))
}

// Owners returns, of ids, those journaled as items.
func (j *Journal) Owners(_ context.Context, ids []string) (map[string]journal.Owner, error) {
	var out map[string]journal.Owner
	err := j.view(func(tx *bolt.Tx) (err error) {
		out, err = owners(tx.Bucket(bktItems), ids)
		return err
	})
	return out, err
}

// owners reads, of ids, the items a bucket holds.
func owners(items *bolt.Bucket, ids []string) (map[string]journal.Owner, error) {
	out := map[string]journal.Owner{}
	for _, id := range ids {
		raw := items.Get([]byte(id))
		if raw == nil {
			continue
		}
		var it journal.Item
		if err := decodeItem([]byte(id), raw, &it); err != nil {
			return nil, fmt.Errorf("payout %s: %w", id, err)
		}
		out[id] = journal.Owner{BatchID: it.BatchID, Row: it.Row, Provider: it.Provider,
			Currency: it.Payout.Amount.Currency, Method: string(it.Payout.Method), Amount: it.Payout.Amount.Minor}
	}
	return out, nil
}

// PayoutByRef returns the payout_id a provider's own id or session id
// belongs to.
func (j *Journal) PayoutByRef(_ context.Context, provider, id string) (string, bool, error) {
	var out string
	err := j.view(func(tx *bolt.Tx) error {
		out = string(tx.Bucket(bktRefs).Get(refKey(provider, id)))
		return nil
	})
	return out, out != "", err
}

// Transitions calls fn for every transition of a payout, oldest first.
// It scans the log; it is for operators and tests, not hot paths.
func (j *Journal) Transitions(_ context.Context, payoutID string, fn func(journal.Transition) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktTransitions).ForEach(func(k, v []byte) error {
			t, err := readTransition(binary.BigEndian.Uint64(k), v)
			if err != nil {
				return err
			}
			if (payoutID == "" || t.PayoutID == payoutID) && !fn(t) {
				return errStop
			}
			return nil
		})
	}))
}

package boltjournal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/payrun/payrun/journal"
	bolt "go.etcd.io/bbolt"
)

// The journal.Restorer of the bbolt driver: `payrun journal copy` reads a
// file whole through it, and writes into one.

var _ journal.Restorer = (*Journal)(nil)

// Refs calls fn for every provider reference, by provider and id.
func (j *Journal) Refs(_ context.Context, fn func(journal.Ref) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktRefs).ForEach(func(k, v []byte) error {
			sep := bytes.IndexByte(k, 0)
			if sep < 0 {
				return fmt.Errorf("reference key %q: no provider", k)
			}
			if !fn(journal.Ref{Provider: string(k[:sep]), ID: string(k[sep+1:]), PayoutID: string(v)}) {
				return errStop
			}
			return nil
		})
	}))
}

// StoredEvents calls fn for every stored event: those applied or judged
// by key, then those queued in queue order.
func (j *Journal) StoredEvents(_ context.Context, fn func(journal.StoredEvent) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		events, queue := eventsOf(tx), tx.Bucket(bktQueue)
		queued := map[string]bool{}
		if err := queue.ForEach(func(_, k []byte) error { queued[string(k)] = true; return nil }); err != nil {
			return err
		}
		emit := func(k, rec, fact []byte, inQueue bool) error {
			ev, f, err := readEventRecord(k, rec, true)
			if err != nil {
				return err
			}
			se := journal.StoredEvent{Event: ev, Fact: f, Queued: inQueue}
			if fact != nil {
				jf, err := decodeFact(k, rec, fact)
				if err != nil {
					return fmt.Errorf("event fact %q: %w", k, err)
				}
				se.Judged = &jf
				se.Event.Applied, se.Event.Note = jf.Applied, jf.Note
			}
			if !fn(se) {
				return errStop
			}
			return nil
		}
		if err := events.forEach(func(k, rec, fact []byte) error {
			if queued[string(k)] {
				return nil
			}
			return emit(k, rec, fact, false)
		}); err != nil {
			return err
		}
		return queue.ForEach(func(_, k []byte) error {
			rec, _, fact, ok, err := events.get(k)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("queued event %q: %w", k, journal.ErrNotFound)
			}
			return emit(k, rec, fact, true)
		})
	}))
}

// AllMail returns every message, sent or not, oldest first.
func (j *Journal) AllMail(context.Context) ([]journal.QueuedMail, error) {
	var out []journal.QueuedMail
	err := j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMail).ForEach(func(_, v []byte) error {
			var m journal.QueuedMail
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b journal.QueuedMail) int { return a.Queued.Compare(b.Queued) })
	return out, err
}

// markPrefix is where bktMeta keeps the marks.
var markPrefix = []byte("m:")

// ListMarks calls fn for every mark, in key order.
func (j *Journal) ListMarks(_ context.Context, fn func(key, value string) bool) error {
	return j.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktMeta).Cursor()
		for k, v := c.Seek(markPrefix); k != nil && bytes.HasPrefix(k, markPrefix); k, v = c.Next() {
			if !fn(string(k[len(markPrefix):]), string(v)) {
				return nil
			}
		}
		return nil
	})
}

// RestoreBatch journals b as given.
func (j *Journal) RestoreBatch(_ context.Context, b journal.Batch) error {
	return j.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bktBatches)
		if bk.Get([]byte(b.ID)) != nil {
			return fmt.Errorf("%w: %s", journal.ErrBatchExists, b.ID)
		}
		if b.SHA256 != "" {
			if err := tx.Bucket(bktBatchSHA).Put([]byte(b.SHA256), []byte(b.ID)); err != nil {
				return err
			}
		}
		return putJSON(bk, []byte(b.ID), &b)
	})
}

// RestoreItems journals items as given, refusing a payout_id journaled.
func (j *Journal) RestoreItems(_ context.Context, items []journal.Item) error {
	return j.update(func(tx *bolt.Tx) error {
		ib := tx.Bucket(bktItems)
		for i := range items {
			if ib.Get([]byte(items[i].PayoutID)) != nil {
				return fmt.Errorf("payout %s is already journaled", items[i].PayoutID)
			}
		}
		return putItems(tx, items)
	})
}

// RestoreRefs maps provider references to payouts, refusing one that
// names another payout.
func (j *Journal) RestoreRefs(_ context.Context, refs []journal.Ref) error {
	return j.update(func(tx *bolt.Tx) error {
		t := boltTx{tx}
		for _, r := range refs {
			prev, ok, err := t.PayoutByRef(r.Provider, r.ID)
			if err != nil {
				return err
			}
			if ok && prev != r.PayoutID {
				return fmt.Errorf("provider %s id %s already belongs to payout %s, not %s", r.Provider, r.ID, prev, r.PayoutID)
			}
			if err := t.PutRef(r.Provider, r.ID, r.PayoutID); err != nil {
				return err
			}
		}
		return nil
	})
}

// RestoreTransitions appends ts to the log in the order given.
func (j *Journal) RestoreTransitions(_ context.Context, ts []journal.Transition) error {
	return j.update(func(tx *bolt.Tx) error {
		t := boltTx{tx}
		for i := range ts {
			tr := ts[i]
			if err := t.AppendTransition(&tr); err != nil {
				return err
			}
		}
		return nil
	})
}

// RestoreEvents stores events as given, queueing those queued in the
// order given.
func (j *Journal) RestoreEvents(_ context.Context, evs []journal.StoredEvent) error {
	return j.update(func(tx *bolt.Tx) error {
		events, queue := eventsOf(tx), tx.Bucket(bktQueue)
		for i := range evs {
			se := &evs[i]
			k := eventKey(se.Event.Provider, se.Event.ID)
			if _, _, _, ok, err := events.get(k); err != nil || ok {
				if err != nil {
					return err
				}
				return fmt.Errorf("event %s %s is already stored", se.Event.Provider, se.Event.ID)
			}
			seq, err := events.add(k, appendEventRecord(nil, &se.Event, &se.Fact))
			if err != nil {
				return err
			}
			if se.Judged != nil {
				f := *se.Judged
				f.Provider, f.EventID = se.Event.Provider, se.Event.ID
				if err := events.setFact(k, seq, appendFact(nil, &f)); err != nil {
					return err
				}
			}
			if se.Queued {
				seq, err := queue.NextSequence()
				if err != nil {
					return err
				}
				if err := queue.Put(u64(seq), k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// RestoreMail stores messages as given.
func (j *Journal) RestoreMail(_ context.Context, ms []journal.QueuedMail) error {
	return j.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMail)
		for i := range ms {
			if err := putJSON(b, []byte(ms[i].ID), &ms[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

package batch

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// Change is one state transition of one item, with what the provider said.
type Change struct {
	PayoutID string
	To       State
	Actor    string // dispatcher, webhook, poller, operator, ingest
	Reason   string
	// Status, when set, is recorded as the item's last provider status and
	// its references are merged into the item's.
	Status *providers.Status
	// Update, when set, changes other fields of the item in the same
	// transaction (attempt counters, poll times). It must be deterministic:
	// a group commit may run it twice.
	Update func(*Item)
	// From, when set, makes the change conditional: it applies only if the
	// item is in that state (compare-and-set), otherwise ErrConflict.
	From State
	// Payload is stored in the transition log (a raw provider answer).
	Payload json.RawMessage
}

// ErrConflict is returned when a conditional change finds the item in
// another state than expected.
var ErrConflict = errors.New("item changed state concurrently")

// Apply commits changes, each checked against the state machine. All
// changes of one call commit together or not at all; concurrent callers
// share transactions (bbolt's group commit), and Apply returns after the
// commit is durable. A change to the state the item is already in, with no
// Status or Update, is a no-op; a change off the graph is refused with
// *ErrTransition and nothing of the call is applied.
func (j *Journal) Apply(changes ...Change) error {
	if len(changes) == 0 {
		return nil
	}
	return j.db.Batch(func(tx *bolt.Tx) error { return j.apply(tx, changes) })
}

func (j *Journal) apply(tx *bolt.Tx, changes []Change) error {
	items := tx.Bucket(bktItems)
	open := tx.Bucket(bktOpen)
	log := tx.Bucket(bktTransitions)
	refs := tx.Bucket(bktRefs)
	now := j.now().UTC()
	for _, c := range changes {
		var it Item
		ok, err := getJSON(items, []byte(c.PayoutID), &it)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("payout %s: %w", c.PayoutID, ErrNotFound)
		}
		if c.From != "" && it.State != c.From {
			return fmt.Errorf("payout %s is %s, expected %s: %w", c.PayoutID, it.State, c.From, ErrConflict)
		}
		from := it.State
		if from == c.To && c.Status == nil && c.Update == nil {
			continue
		}
		if from != c.To && !CanMove(from, c.To) {
			return &ErrTransition{PayoutID: c.PayoutID, From: from, To: c.To}
		}
		it.State = c.To
		if c.Reason != "" || from != c.To {
			it.Reason = c.Reason
		}
		if c.Status != nil {
			mergeStatus(&it, *c.Status)
			for _, id := range []string{c.Status.Refs.ProviderID, c.Status.Refs.SessionID} {
				if id == "" {
					continue
				}
				k := refKey(it.Provider, id)
				if prev := refs.Get(k); prev != nil && string(prev) != it.PayoutID {
					return fmt.Errorf("provider %s id %s already belongs to payout %s, not %s", it.Provider, id, prev, it.PayoutID)
				}
				if err := refs.Put(k, []byte(it.PayoutID)); err != nil {
					return err
				}
			}
		}
		if c.Update != nil {
			c.Update(&it)
		}
		if c.To == Sending && it.SentAt.IsZero() {
			it.SentAt = now
		}
		it.Updated = now
		if err := putJSON(items, []byte(it.PayoutID), &it); err != nil {
			return err
		}
		if it.State.Final() {
			err = open.Delete([]byte(it.PayoutID))
		} else {
			err = open.Put([]byte(it.PayoutID), nil)
		}
		if err != nil {
			return err
		}
		if from != c.To || c.Payload != nil {
			seq, _ := log.NextSequence()
			t := Transition{Seq: seq, PayoutID: it.PayoutID, From: from, To: c.To, At: now, Actor: c.Actor,
				Reason: c.Reason, Payload: c.Payload}
			if err := putJSON(log, u64(seq), &t); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeStatus records a provider status on an item, keeping references
// already known (a later status may omit them).
func mergeStatus(it *Item, st providers.Status) {
	refs := it.Refs
	if st.Refs.ProviderID != "" {
		refs.ProviderID = st.Refs.ProviderID
	}
	if st.Refs.SessionID != "" {
		refs.SessionID = st.Refs.SessionID
	}
	refs.PayoutID = it.PayoutID
	refs.Method = it.Payout.Method
	it.Refs = refs
	url := it.Last.URL
	fee := it.Last.Fee
	it.Last = st
	it.Last.Refs = refs
	if it.Last.URL == "" {
		it.Last.URL = url
	}
	if it.Last.Fee == 0 {
		it.Last.Fee = fee
	}
}

// Update changes an item's bookkeeping fields without a state change (poll
// times, conflict notes).
func (j *Journal) Update(payoutID string, fn func(*Item)) error {
	return j.db.Batch(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		var it Item
		ok, err := getJSON(items, []byte(payoutID), &it)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("payout %s: %w", payoutID, ErrNotFound)
		}
		fn(&it)
		return putJSON(items, []byte(payoutID), &it)
	})
}

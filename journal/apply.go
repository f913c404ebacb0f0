package batch

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
// share transactions (the journal's group commit, journal_commit.go), and
// Apply returns after the commit is durable. A change to the state the item is already in, with no
// Status or Update, is a no-op; a change off the graph is refused with
// *ErrTransition and nothing of the call is applied.
func (j *Journal) Apply(changes ...Change) error {
	if len(changes) == 0 {
		return nil
	}
	return j.batch(func(tx *bolt.Tx) error { return j.apply(tx, changes) })
}

func (j *Journal) apply(tx *bolt.Tx, changes []Change) error {
	now := j.now().UTC()
	for _, c := range changes {
		it, err := itemIn(tx, c.PayoutID)
		if err != nil {
			return err
		}
		if err := applyTo(tx, &it, c, now); err != nil {
			return err
		}
	}
	return nil
}

// itemIn reads one item inside a transaction.
func itemIn(tx *bolt.Tx, payoutID string) (Item, error) {
	var it Item
	ok, err := getItem(tx.Bucket(bktItems), []byte(payoutID), &it)
	if err != nil {
		return Item{}, fmt.Errorf("payout %s: %w", payoutID, err)
	}
	if !ok {
		return Item{}, fmt.Errorf("payout %s: %w", payoutID, ErrNotFound)
	}
	return it, nil
}

// applyTo applies one change to it, the item as it stands in tx, and writes
// the item, its open mark and its transition there. It is the one place
// that checks a change against the graph: Apply and the webhook Applier's
// transactions (ApplyQueued) both come through it. On success it holds
// the item as written.
func applyTo(tx *bolt.Tx, it *Item, c Change, now time.Time) error {
	if c.From != "" && it.State != c.From {
		return fmt.Errorf("payout %s is %s, expected %s: %w", c.PayoutID, it.State, c.From, ErrConflict)
	}
	from := it.State
	if from == c.To && c.Status == nil && c.Update == nil {
		return nil
	}
	if from != c.To && !CanMove(from, c.To) {
		return &ErrTransition{PayoutID: c.PayoutID, From: from, To: c.To}
	}
	next := *it
	next.State = c.To
	if c.Reason != "" || from != c.To {
		next.Reason = c.Reason
	}
	if c.Status != nil {
		mergeStatus(&next, *c.Status)
		if err := putRefs(tx.Bucket(bktRefs), &next, c.Status.Refs); err != nil {
			return err
		}
	}
	if c.Update != nil {
		c.Update(&next)
	}
	if c.To == Sending && next.SentAt.IsZero() {
		next.SentAt = now
	}
	next.Updated = now
	if err := putItem(tx.Bucket(bktItems), []byte(next.PayoutID), &next); err != nil {
		return err
	}
	// The open index holds the state, so it changes only with it.
	if next.State != from {
		open := tx.Bucket(bktOpen)
		var err error
		if next.State.Final() {
			err = open.Delete([]byte(next.PayoutID))
		} else {
			err = open.Put([]byte(next.PayoutID), []byte(next.State))
		}
		if err != nil {
			return err
		}
	}
	if from != c.To || c.Payload != nil {
		log := tx.Bucket(bktTransitions)
		seq, _ := log.NextSequence()
		t := Transition{Seq: seq, PayoutID: next.PayoutID, From: from, To: c.To, At: now, Actor: c.Actor,
			Reason: c.Reason, Payload: c.Payload}
		if err := putJSON(log, u64(seq), &t); err != nil {
			return err
		}
	}
	*it = next
	return nil
}

// putRefs maps the provider's ids in refs to the item, refusing an id that
// already belongs to another payout.
func putRefs(refs *bolt.Bucket, it *Item, r providers.Refs) error {
	for _, id := range []string{r.ProviderID, r.SessionID} {
		if id == "" {
			continue
		}
		k := refKey(it.Provider, id)
		if prev := refs.Get(k); prev != nil {
			if string(prev) != it.PayoutID {
				return fmt.Errorf("provider %s id %s already belongs to payout %s, not %s", it.Provider, id, prev, it.PayoutID)
			}
			continue
		}
		if err := refs.Put(k, []byte(it.PayoutID)); err != nil {
			return err
		}
	}
	return nil
}

// statusChange is the change a provider status makes to an item by
// ApplyStatus's rules, or ok=false when it makes none: a fact about a
// session that is not the item's journaled one (it never speaks for the
// payout), or a move the graph refuses (final states never regress, except
// succeeded -> reversed). The change is conditional on the item's state.
func statusChange(it Item, actor string, st providers.Status) (c Change, ok bool) {
	if st.Refs.SessionID != "" && st.Refs.SessionID != it.Refs.SessionID {
		return Change{}, false
	}
	to := StateFor(st.Outcome)
	c = Change{PayoutID: it.PayoutID, To: to, Actor: actor, Status: &st, From: it.State}
	if it.State == to {
		return c, true
	}
	if !CanMove(it.State, to) {
		return Change{}, false
	}
	c.Reason = st.Message
	if st.Code != "" {
		c.Reason = st.Code + ": " + st.Message
	}
	return c, true
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
	return j.batch(func(tx *bolt.Tx) error { return updateIn(tx, payoutID, fn) })
}

// updateIn is Update inside a transaction.
func updateIn(tx *bolt.Tx, payoutID string, fn func(*Item)) error {
	it, err := itemIn(tx, payoutID)
	if err != nil {
		return err
	}
	fn(&it)
	return putItem(tx.Bucket(bktItems), []byte(payoutID), &it)
}

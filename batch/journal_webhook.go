package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// Receipt is one verified provider notification, as the webhook receiver
// hands it to Receive: its raw events in order, what each of them said,
// and the replay key (TeemoPay's nonce) that goes with the first.
type Receipt struct {
	ReplayKey string
	Events    []Event
	// Facts holds one fact per event (Provider, EventID, Status,
	// DuplicateNotice); Applied, Note and Received are filled in.
	Facts []EventFact
}

// key returns the replay key that goes with event i: the receipt's, with
// the first event.
func (r Receipt) key(i int) string {
	if i == 0 {
		return r.ReplayKey
	}
	return ""
}

// Judged is what the receiver's rules made of one new event inside
// Receive's transaction.
type Judged struct {
	// Later leaves the event stored but not marked, for the caller to apply
	// after the commit: a provider call (the confirm rule) must never run
	// inside a transaction. A judge that answers Later must not have
	// written anything.
	Later   bool
	Applied bool
	Note    string
}

// Received is what Receive did with one event of a receipt.
type Received struct {
	// New says the event was not stored before this receipt.
	New bool
	// Done says nothing is left to do: the event was judged and marked in
	// Receive's transaction, or an earlier delivery marked it. Otherwise the
	// event is stored unmarked and the caller applies it.
	Done    bool
	Applied bool
	Note    string
}

// Receive is the webhook receiver's common path in one group-committed
// transaction: it refuses a replayed receipt (replay=true, nothing
// stored), stores each raw event that is new, has judge apply it to its
// item through tx (the state machine's rules, as Apply) and records the
// event's fact, applied or noted. It returns once all of it is durable, so
// the acknowledgement can follow.
//
// judge is called with the index of each new event, in order; once it
// answers Later, the events after it are stored unmarked too, so that the
// caller applies them in order. An event stored by an earlier delivery is
// never judged here: marked, it is done (a duplicate delivery); unmarked,
// it is the caller's (the delivery that stored it failed, or is applying
// it now). judge may run more than once (a group commit re-runs a group
// when one of its writes fails); it must not keep anything from one run to
// the next except by event index. An error from judge fails the receipt
// and nothing of it is stored.
func (j *Journal) Receive(r Receipt, judge func(tx *EventTx, i int) (Judged, error)) (replay bool, out []Received, err error) {
	if len(r.Facts) != len(r.Events) {
		return false, nil, fmt.Errorf("receipt of %d events with %d facts", len(r.Events), len(r.Facts))
	}
	if len(r.Events) == 0 {
		return false, nil, nil // nothing to keep, and the replay key goes with the first event
	}
	pre, err := j.prepare(r)
	if err != nil {
		return false, nil, err
	}
	err = j.batch(func(tx *bolt.Tx) (err error) {
		out = make([]Received, len(r.Events))
		replay, err = j.receive(tx, r, judge, out, pre)
		return err
	})
	if err != nil {
		return false, nil, err
	}
	return replay, out, nil
}

// receive is Receive's transaction; it reports a replay having stored
// nothing.
func (j *Journal) receive(tx *bolt.Tx, r Receipt, judge func(*EventTx, int) (Judged, error), out []Received, pre *prepared) (replay bool, err error) {
	events := tx.Bucket(bktEvents)
	facts, err := tx.CreateBucketIfNotExists(bktEventFacts)
	if err != nil {
		return false, err
	}
	etx := &EventTx{tx: tx, now: j.now().UTC(), warm: pre.items}
	later := false
	for i, ev := range r.Events {
		k := refKey(ev.Provider, ev.ID)
		if raw := events.Get(k); raw != nil {
			seen, isReplay, err := redelivered(events, k, raw, r.key(i))
			if err != nil {
				return false, err
			}
			if isReplay {
				// The replay key goes with the first event, so nothing of
				// the receipt is stored yet.
				return true, nil
			}
			out[i] = Received{Done: seen.Applied || seen.Note != "", Applied: seen.Applied, Note: seen.Note}
			later = later || !out[i].Done
			continue
		}
		out[i].New = true
		var jd Judged
		if !later {
			if jd, err = judge(etx, i); err != nil {
				return false, err
			}
		}
		if later || jd.Later {
			later = true
			ev := keyedEvent(ev, r.key(i))
			if err := putJSON(events, k, &ev); err != nil {
				return false, err
			}
			continue
		}
		rawEv, rawFact, err := pre.encode(r, i, jd)
		if err != nil {
			return false, err
		}
		if err := events.Put(k, rawEv); err != nil {
			return false, err
		}
		if err := facts.Put(k, rawFact); err != nil {
			return false, err
		}
		out[i] = Received{New: true, Done: true, Applied: jd.Applied, Note: jd.Note}
	}
	return false, nil
}

// prepared is the CPU work of a receipt done before its write
// transaction, in parallel by each delivery: a group commit runs its
// writes one after the other on one goroutine, so whatever a write does
// there, every delivery of the group waits for.
type prepared struct {
	// items are the items the events are most likely about, decoded
	// (decoding an item is most of the CPU an event costs). The write
	// transaction uses one only if its bytes are still the stored ones.
	items []cachedItem
	// events and facts are the events and facts encoded as applied without
	// a note, the common judgement.
	events, facts [][]byte
}

// prepare reads, in a read transaction of its own, the items of the
// receipt's facts (by the provider's id, the session, the payout_id, as the
// receiver looks them up) and encodes its events and facts as applied.
func (j *Journal) prepare(r Receipt) (*prepared, error) {
	pre := &prepared{events: make([][]byte, len(r.Events)), facts: make([][]byte, len(r.Events))}
	for i := range r.Events {
		var err error
		if pre.events[i], pre.facts[i], err = encodeEvent(r, i, Judged{Applied: true}); err != nil {
			return nil, err
		}
	}
	err := j.db.View(func(tx *bolt.Tx) error {
		items, refs := tx.Bucket(bktItems), tx.Bucket(bktRefs)
		for _, f := range r.Facts {
			key := []byte(f.Status.Refs.PayoutID)
			for _, id := range []string{f.Status.Refs.ProviderID, f.Status.Refs.SessionID} {
				if id == "" {
					continue
				}
				if pid := refs.Get(refKey(f.Provider, id)); pid != nil {
					key = append([]byte(nil), pid...)
					break
				}
			}
			raw := items.Get(key)
			if raw == nil {
				continue
			}
			c := cachedItem{raw: append([]byte(nil), raw...)}
			if err := decodeItem(key, c.raw, &c.it); err != nil {
				return fmt.Errorf("payout %s: %w", key, err)
			}
			pre.items = append(pre.items, c)
		}
		return nil
	})
	return pre, err
}

// encode returns event i and its fact as stored for the judgement jd.
func (pre *prepared) encode(r Receipt, i int, jd Judged) (event, fact []byte, err error) {
	if jd.Applied && jd.Note == "" {
		return pre.events[i], pre.facts[i], nil
	}
	return encodeEvent(r, i, jd)
}

func encodeEvent(r Receipt, i int, jd Judged) (event, fact []byte, err error) {
	ev, f := keyedEvent(r.Events[i], r.key(i)), r.Facts[i]
	ev.Applied, ev.Note = jd.Applied, jd.Note
	f.Applied, f.Note, f.Received = jd.Applied, jd.Note, ev.Received
	if event, err = json.Marshal(&ev); err != nil {
		return nil, nil, fmt.Errorf("event %s %s: %w", ev.Provider, ev.ID, err)
	}
	if fact, err = json.Marshal(&f); err != nil {
		return nil, nil, fmt.Errorf("event %s %s: %w", ev.Provider, ev.ID, err)
	}
	return event, fact, nil
}

// cachedItem is an item decoded from raw, its stored bytes.
type cachedItem struct {
	raw []byte
	it  Item
}

// EventTx is Receive's transaction, seen through what the receiver's rules
// read and write: the same operations as the Journal's, inside one
// transaction. It is valid only during the judge call it is passed to.
type EventTx struct {
	tx   *bolt.Tx
	now  time.Time
	warm []cachedItem
}

// Item returns one item by payout_id (ErrNotFound when there is none).
func (e *EventTx) Item(payoutID string) (Item, error) {
	raw := e.tx.Bucket(bktItems).Get([]byte(payoutID))
	if raw == nil {
		return Item{}, fmt.Errorf("payout %s: %w", payoutID, ErrNotFound)
	}
	for i := range e.warm {
		if c := &e.warm[i]; c.it.PayoutID == payoutID && bytes.Equal(c.raw, raw) {
			return c.it, nil
		}
	}
	var it Item
	if err := decodeItem([]byte(payoutID), raw, &it); err != nil {
		return Item{}, fmt.Errorf("payout %s: %w", payoutID, err)
	}
	return it, nil
}

// PayoutByRef returns the payout_id a provider's own id or session id
// belongs to.
func (e *EventTx) PayoutByRef(provider, id string) (string, bool) {
	v := e.tx.Bucket(bktRefs).Get(refKey(provider, id))
	return string(v), v != nil
}

// ApplyStatus is Journal.ApplyStatus inside the transaction.
func (e *EventTx) ApplyStatus(payoutID, actor string, st providers.Status) (bool, error) {
	it, err := e.Item(payoutID)
	if err != nil {
		return false, err
	}
	c, ok := statusChange(it, actor, st)
	if !ok {
		return false, nil
	}
	return true, applyTo(e.tx, &it, c, e.now)
}

// Update is Journal.Update inside the transaction.
func (e *EventTx) Update(payoutID string, fn func(*Item)) error { return updateIn(e.tx, payoutID, fn) }

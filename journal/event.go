package batch

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Event is a raw provider notification as received, kept before it is
// acknowledged so that nothing a provider said is ever lost.
type Event struct {
	Provider string    `json:"provider"`
	ID       string    `json:"id"`
	PayoutID string    `json:"payout_id,omitempty"`
	Type     string    `json:"type,omitempty"`
	Received time.Time `json:"received"`
	Body     []byte    `json:"body"`
	// Applied says the event's fact was applied to its item; Note says why
	// not (unexpected payout, duplicate notice, refused transition).
	// Neither is set while the event waits in the queue (ApplyQueued).
	// They are the event's fact's (EventFact), filled in by Event and
	// Events: the raw event is written when it is received, and again
	// only to add a replay key (keepReplayKeys).
	Applied bool   `json:"applied,omitempty"`
	Note    string `json:"note,omitempty"`
	// ReplayKeys are the replay keys (TeemoPay nonces) of the deliveries
	// that brought this event. A replay is a request sent again verbatim:
	// its body is the signed one, so its event is this one, and its key is
	// one of these. Kept with the event rather than in an index of their
	// own: random keys (a nonce) would dirty a page of such an index for
	// every webhook, where events are written in the order they come.
	ReplayKeys []string `json:"replay_keys,omitempty"`
}

// keyedEvent returns ev with replayKey among its keys ("" adds none).
func keyedEvent(ev Event, replayKey string) Event {
	if replayKey != "" {
		ev.ReplayKeys = append(ev.ReplayKeys[:len(ev.ReplayKeys):len(ev.ReplayKeys)], replayKey)
	}
	return ev
}

// keepReplayKeys adds to the event stored under k (its record rec) the
// replay keys of later deliveries it does not hold yet, so that a replay
// of any of them is known; it rewrites the record once, or not at all.
func keepReplayKeys(events *bolt.Bucket, k, rec []byte, keys ...string) error {
	ev, f, err := readEventRecord(k, rec, true)
	if err != nil {
		return err
	}
	changed := false
	for _, key := range keys {
		if key != "" && !slices.Contains(ev.ReplayKeys, key) {
			ev, changed = keyedEvent(ev, key), true
		}
	}
	if !changed {
		return nil
	}
	return events.Put(k, appendEventRecord(nil, &ev, &f))
}

// Events calls fn for every stored event (moving what the intake log
// holds into the journal first).
func (j *Journal) Events(fn func(Event)) error {
	if err := j.flushIntake(); err != nil {
		return err
	}
	return j.db.View(func(tx *bolt.Tx) error {
		facts := tx.Bucket(bktEventFacts)
		return tx.Bucket(bktEvents).ForEach(func(k, v []byte) error {
			ev, err := eventAt(facts, k, v)
			if err != nil {
				return err
			}
			fn(ev)
			return nil
		})
	})
}

// Event returns one stored event (moving what the intake log holds into
// the journal first).
func (j *Journal) Event(provider, id string) (ev Event, ok bool, err error) {
	if err := j.flushIntake(); err != nil {
		return Event{}, false, err
	}
	err = j.db.View(func(tx *bolt.Tx) error {
		k := refKey(provider, id)
		v := tx.Bucket(bktEvents).Get(k)
		if ok = v != nil; !ok {
			return nil
		}
		ev, err = eventAt(tx.Bucket(bktEventFacts), k, v)
		return err
	})
	return ev, ok, err
}

// eventAt decodes the event stored under k as v, with what became of it
// from its fact, if it has one (facts may be nil).
func eventAt(facts *bolt.Bucket, k, v []byte) (Event, error) {
	ev, _, err := readEventRecord(k, v, true)
	if err != nil {
		return ev, err
	}
	if facts == nil {
		return ev, nil
	}
	if raw := facts.Get(k); raw != nil {
		var f struct {
			Applied bool   `json:"applied"`
			Note    string `json:"note"`
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			return ev, fmt.Errorf("event fact %s: %w", k, err)
		}
		ev.Applied, ev.Note = f.Applied, f.Note
	}
	return ev, nil
}

// QueuedMail is a message waiting to be delivered.
type QueuedMail struct {
	ID      string    `json:"id"`
	EML     []byte    `json:"eml"`
	Queued  time.Time `json:"queued"`
	Sent    time.Time `json:"sent,omitempty"`
	Tries   int       `json:"tries"`
	LastErr string    `json:"last_err,omitempty"`
}

// EnqueueMail stores a message until MarkMailSent. Enqueueing an id again
// keeps the first message.
func (j *Journal) EnqueueMail(id string, eml []byte) error {
	return j.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMail)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		return putJSON(b, []byte(id), &QueuedMail{ID: id, EML: eml, Queued: j.now().UTC()})
	})
}

// PendingMail returns the messages not sent yet, oldest first.
func (j *Journal) PendingMail() ([]QueuedMail, error) {
	var out []QueuedMail
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMail).ForEach(func(_, v []byte) error {
			var m QueuedMail
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if m.Sent.IsZero() {
				out = append(out, m)
			}
			return nil
		})
	})
	return out, err
}

// MarkMailSent records a delivery (idempotent); a non-nil sendErr records a
// failed try instead.
func (j *Journal) MarkMailSent(id string, sendErr error) error {
	return j.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMail)
		var m QueuedMail
		ok, err := getJSON(b, []byte(id), &m)
		if err != nil || !ok {
			return err
		}
		if !m.Sent.IsZero() {
			return nil
		}
		m.Tries++
		if sendErr != nil {
			m.LastErr = sendErr.Error()
		} else {
			m.Sent = j.now().UTC()
		}
		return putJSON(b, []byte(id), &m)
	})
}

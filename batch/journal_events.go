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
	Applied bool   `json:"applied"`
	Note    string `json:"note,omitempty"`
	// ReplayKeys are the replay keys (TeemoPay nonces) of the deliveries
	// that brought this event. A replay is a request sent again verbatim:
	// its body is the signed one, so its event is this one, and its key is
	// one of these. Kept with the event rather than in an index of their
	// own: random keys (a nonce) would dirty a page of such an index for
	// every webhook, where events are written in the order they come.
	ReplayKeys []string `json:"replay_keys,omitempty"`
}

// seenEvent is what a delivery needs of an event stored before it.
type seenEvent struct {
	Applied    bool     `json:"applied"`
	Note       string   `json:"note"`
	ReplayKeys []string `json:"replay_keys"`
}

// keyedEvent returns ev with replayKey among its keys ("" adds none).
func keyedEvent(ev Event, replayKey string) Event {
	if replayKey != "" {
		ev.ReplayKeys = append(ev.ReplayKeys[:len(ev.ReplayKeys):len(ev.ReplayKeys)], replayKey)
	}
	return ev
}

// redelivered handles a delivery of an event already stored under k, with
// the delivery's replay key: a key seen before is a replay (nothing
// stored), a new one is kept with the event, so that a replay of this
// delivery is known too.
func redelivered(events *bolt.Bucket, k, raw []byte, replayKey string) (seen seenEvent, replay bool, err error) {
	if err := json.Unmarshal(raw, &seen); err != nil {
		return seen, false, fmt.Errorf("event %s: %w", k, err)
	}
	if replayKey == "" {
		return seen, false, nil
	}
	if slices.Contains(seen.ReplayKeys, replayKey) {
		return seen, true, nil
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return seen, false, fmt.Errorf("event %s: %w", k, err)
	}
	ev = keyedEvent(ev, replayKey)
	return seen, false, putJSON(events, k, &ev)
}

// RecordEvent stores an event unless one with the same provider and id is
// already stored, and reports whether it is new. A replay key (TeemoPay
// nonce), when given, must be new to the event: a key it was delivered
// with before returns isNew=false, replay=true and stores nothing.
func (j *Journal) RecordEvent(ev Event, replayKey string) (isNew, replay bool, err error) {
	err = j.batch(func(tx *bolt.Tx) error {
		isNew, replay = false, false
		b := tx.Bucket(bktEvents)
		k := refKey(ev.Provider, ev.ID)
		if raw := b.Get(k); raw != nil {
			_, replay, err = redelivered(b, k, raw, replayKey)
			return err
		}
		isNew = true
		ev := keyedEvent(ev, replayKey)
		return putJSON(b, k, &ev)
	})
	return isNew, replay, err
}

// MarkEvent records what became of an event.
func (j *Journal) MarkEvent(provider, id string, applied bool, note string) error {
	return j.batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEvents)
		k := refKey(provider, id)
		var ev Event
		ok, err := getJSON(b, k, &ev)
		if err != nil || !ok {
			return err
		}
		ev.Applied, ev.Note = applied, note
		return putJSON(b, k, &ev)
	})
}

// Events calls fn for every stored event.
func (j *Journal) Events(fn func(Event)) error {
	return j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktEvents).ForEach(func(_, v []byte) error {
			var ev Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			fn(ev)
			return nil
		})
	})
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

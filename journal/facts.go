package batch

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// bktEventFacts holds what each applied event said and what became of it
// (provider, 0, event id -> EventFact, JSON).
var bktEventFacts = []byte("event_facts")

// EventFact is what a verified provider event said, as the receiver read
// it. The raw event (Event) is the evidence; the fact lets the matcher
// place events (unexpected payouts, a second provider payout for one
// payout_id) without the provider's keys.
type EventFact struct {
	Provider        string           `json:"provider"`
	EventID         string           `json:"event_id"`
	Status          providers.Status `json:"status"`
	DuplicateNotice bool             `json:"duplicate_notice,omitempty"`
	// Applied and Note mirror the event's (set when it is applied).
	Applied  bool      `json:"applied"`
	Note     string    `json:"note,omitempty"`
	Received time.Time `json:"received"`
}

// MarkEventFact records what became of an event ApplyQueued left for
// later, and the fact it carried, in one transaction; the next ApplyQueued
// takes it off the queue. f.Received, when zero, is the event's.
func (j *Journal) MarkEventFact(applied bool, note string, f EventFact) error {
	// The event may still be in the intake log only.
	if err := j.flushIntake(); err != nil {
		return err
	}
	return j.batch(func(tx *bolt.Tx) error {
		k := refKey(f.Provider, f.EventID)
		rec := tx.Bucket(bktEvents).Get(k)
		if rec == nil {
			return fmt.Errorf("event %s %s: %w", f.Provider, f.EventID, ErrNotFound)
		}
		if f.Received.IsZero() {
			ev, _, err := readEventRecord(k, rec, false)
			if err != nil {
				return err
			}
			f.Received = ev.Received
		}
		f.Applied, f.Note = applied, note
		return tx.Bucket(bktEventFacts).Put(k, appendFact(nil, &f))
	})
}

// EventFacts calls fn for every recorded fact.
func (j *Journal) EventFacts(fn func(EventFact)) error {
	return j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktEventFacts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var f EventFact
			if err := json.Unmarshal(v, &f); err != nil {
				return err
			}
			fn(f)
			return nil
		})
	})
}

// ImportRejected journals rejected rows (invalid or duplicate) of a batch
// built elsewhere (tools, benchmarks, tests), as Import does for items.
func (j *Journal) ImportRejected(rows []RejectedRow) error {
	return j.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bktRejects)
		for i := range rows {
			if err := putJSON(b, rowKey(rows[i].BatchID, rows[i].Row), &rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

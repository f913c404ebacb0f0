package boltjournal

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/payrun/payrun/journal"

	bolt "go.etcd.io/bbolt"
)

// An upgrade rewrites a journal of schema from into schemaVersion, inside
// the transaction that opens it for writing: it is upgraded wholly, or,
// on any error, not at all.
type upgrade struct {
	from string
	run  func(tx *bolt.Tx, path string) error
}

// upgrades are the schemas this payrun upgrades from. (Version 1 is not
// among them: its payouts are refused, see schemaVersion.)
// Each brings the journal to schema 7's layout, then moves its events into
// schema 8's buckets (indexEvents).
var upgrades = []upgrade{
	{from: "2", run: func(tx *bolt.Tx, _ string) error { return then(upgradeEvents(tx), tx) }},
	// 4 and 5 store the same buckets; 4 may have an intake log beside the
	// file, which 5 does not: 3 had none.
	{from: "3", run: func(tx *bolt.Tx, _ string) error { return indexEvents(tx) }},
	{from: "4", run: func(tx *bolt.Tx, path string) error { return then(drainIntake(tx, path+intakeSuffix), tx) }},
	// 6 reads 5's JSON transitions and facts as they are, 7 6's records.
	{from: "5", run: func(tx *bolt.Tx, _ string) error { return indexEvents(tx) }},
	{from: "6", run: func(tx *bolt.Tx, _ string) error { return indexEvents(tx) }},
	{from: "7", run: func(tx *bolt.Tx, _ string) error { return indexEvents(tx) }},
}

// then moves the events into schema 8's buckets once the step before,
// which returned err, has brought the journal to 7's layout.
func then(err error, tx *bolt.Tx) error {
	if err != nil {
		return err
	}
	return indexEvents(tx)
}

// upgradeEvents rewrites version 2's webhook events as version 3 stores
// them. Version 2 kept each event as JSON (the body in base64) and its
// fact apart: as JSON in the queue while it waited to be applied, then in
// event_facts. Version 3 keeps the fact in the event's record and only the
// event's key in the queue. An event with no fact anywhere cannot be
// applied or matched; it fails the upgrade rather than be guessed at.
func upgradeEvents(tx *bolt.Tx) error {
	queue, events, facts := tx.Bucket(bktQueue), tx.Bucket(bktEventsV7), tx.Bucket(bktEventFactsV7)
	queued := map[string]journal.EventFact{}
	var seqs, keys [][]byte
	err := queue.ForEach(func(seq, v []byte) error {
		var f journal.EventFact
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("queued event %x: %w", seq, err)
		}
		k := refKey(f.Provider, f.EventID)
		queued[string(k)] = f
		seqs, keys = append(seqs, bytes.Clone(seq)), append(keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	if err := putAll(queue, seqs, keys); err != nil {
		return err
	}
	var ks, recs [][]byte
	err = events.ForEach(func(k, v []byte) error {
		var ev journal.Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("event %q: %w", k, err)
		}
		f, ok := queued[string(k)]
		if raw := facts.Get(k); raw != nil {
			if err := json.Unmarshal(raw, &f); err != nil {
				return fmt.Errorf("event fact %q: %w", k, err)
			}
			ok = true
		}
		if !ok {
			return fmt.Errorf("event %q has no fact, queued or applied", k)
		}
		ks, recs = append(ks, bytes.Clone(k)), append(recs, appendEventRecord(nil, &ev, &f))
		return nil
	})
	if err != nil {
		return err
	}
	return putAll(events, ks, recs)
}

// putAll puts vals[i] under keys[i] in b. The upgrade collects what it
// rewrites before writing it: a bucket must not change under its ForEach.
func putAll(b *bolt.Bucket, keys, vals [][]byte) error {
	for i := range keys {
		if err := b.Put(keys[i], vals[i]); err != nil {
			return err
		}
	}
	return nil
}

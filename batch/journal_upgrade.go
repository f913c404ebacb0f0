package batch

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// An upgrade rewrites a journal of schema from into schemaVersion, inside
// the transaction that opens it for writing: it is upgraded wholly, or,
// on any error, not at all.
type upgrade struct {
	from string
	run  func(*bolt.Tx) error
}

// upgrades are the schemas this payrun upgrades from. (Version 1 is not
// among them: its payouts are refused, see schemaVersion.)
var upgrades = []upgrade{{from: "2", run: upgradeEvents}}

// upgradeChunk is how many events upgradeEvents rewrites between two
// seeks of its cursor (bbolt's cursors do not survive a Put).
const upgradeChunk = 4096

// upgradeEvents rewrites version 2's webhook events as version 3 stores
// them. Version 2 kept each event as JSON (the body in base64) and its
// fact apart: as JSON in the queue while it waited to be applied, then in
// event_facts. Version 3 keeps the fact in the event's record and only the
// event's key in the queue. An event with no fact anywhere cannot be
// applied or matched; it fails the upgrade rather than be guessed at.
func upgradeEvents(tx *bolt.Tx) error {
	queue, events, facts := tx.Bucket(bktQueue), tx.Bucket(bktEvents), tx.Bucket(bktEventFacts)
	queued := map[string]EventFact{}
	var seqs, keys [][]byte
	err := queue.ForEach(func(seq, v []byte) error {
		var f EventFact
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
	for i := range seqs {
		if err := queue.Put(seqs[i], keys[i]); err != nil {
			return err
		}
	}
	var after []byte
	for {
		var ks, recs [][]byte
		c := events.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(ks) < upgradeChunk; k, v = c.Next() {
			var ev Event
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
		}
		if len(ks) == 0 {
			return nil
		}
		for i := range ks {
			if err := events.Put(ks[i], recs[i]); err != nil {
				return err
			}
		}
		after = ks[len(ks)-1]
	}
}

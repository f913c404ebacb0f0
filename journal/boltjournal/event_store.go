package boltjournal

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Webhook events are kept in two buckets (schema 8):
//
//   - bktEventRecords: each event's record (event_record.go) under a
//     sequence number, in the order the events were persisted. Its pages
//     are filled nearly to the brim (recordsFill), as the records come in
//     order.
//   - bktEventIndex: provider, 0, event id -> the record's sequence
//     number (uvarint), followed by the event's fact (layout.go) once it
//     is applied or judged.
//
// Until schema 7 the records were stored under the provider and event id
// themselves. Event ids are hashes of the notifications' bodies and arrive
// in no order, so those pages were split half full and stayed two thirds
// full: in a night of four providers 765 bytes of pages a payout for 511
// in use. An index entry is a fifth of a record, so it is cheap to keep
// in no order; the fact it carries replaces the bucket of facts beside
// the records, which repeated every key.
type eventStore struct{ records, index *bolt.Bucket }

func eventsOf(tx *bolt.Tx) eventStore {
	return eventStore{records: tx.Bucket(bktEventRecords), index: tx.Bucket(bktEventIndex)}
}

// get returns the record of the event under the key k, its sequence
// number and its fact (nil until it has one); ok is false when no event is
// stored under k.
func (s eventStore) get(k []byte) (rec []byte, seq uint64, fact []byte, ok bool, err error) {
	v := s.index.Get(k)
	if v == nil {
		return nil, 0, nil, false, nil
	}
	rec, seq, fact, err = s.at(k, v)
	return rec, seq, fact, err == nil, err
}

// at reads the index entry v of the key k and finds its record.
func (s eventStore) at(k, v []byte) (rec []byte, seq uint64, fact []byte, err error) {
	seq, n := binary.Uvarint(v)
	if n <= 0 {
		return nil, 0, nil, fmt.Errorf("event %q: index entry %x: %w", k, v, errRecord)
	}
	if rec = s.records.Get(u64(seq)); rec == nil {
		return nil, 0, nil, fmt.Errorf("event %q: its record %d is missing: %w", k, seq, errRecord)
	}
	if len(v) > n {
		fact = v[n:]
	}
	return rec, seq, fact, nil
}

// add stores the record of a new event under the key k and returns its
// sequence number.
func (s eventStore) add(k, rec []byte) (uint64, error) {
	seq, err := s.records.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := s.records.Put(u64(seq), rec); err != nil {
		return 0, err
	}
	return seq, s.index.Put(k, binary.AppendUvarint(nil, seq))
}

// setFact records the fact of the event under k, whose record is seq.
func (s eventStore) setFact(k []byte, seq uint64, fact []byte) error {
	v := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(fact)), seq)
	return s.index.Put(k, append(v, fact...))
}

// putRecord rewrites the record seq.
func (s eventStore) putRecord(seq uint64) func([]byte) error {
	return func(rec []byte) error { return s.records.Put(u64(seq), rec) }
}

// forEach calls fn for every event by key, with its record and its fact
// (nil until it has one).
func (s eventStore) forEach(fn func(k, rec, fact []byte) error) error {
	return s.index.ForEach(func(k, v []byte) error {
		rec, _, fact, err := s.at(k, v)
		if err != nil {
			return err
		}
		return fn(k, rec, fact)
	})
}

// indexEvents moves the events of a schema 7 journal (or an earlier one,
// once upgraded to 7's layout) into schema 8's buckets, in key order, under
// schema 8's keys (the queue's too), and removes the buckets they were in. A fact without its event fails the
// upgrade rather than be dropped.
func indexEvents(tx *bolt.Tx) error {
	old, oldFacts := tx.Bucket(bktEventsV7), tx.Bucket(bktEventFactsV7)
	s := eventsOf(tx)
	s.records.FillPercent = recordsFill
	if old != nil {
		err := old.ForEach(func(k, rec []byte) error {
			nk, err := rekey(k)
			if err != nil {
				return err
			}
			seq, err := s.add(nk, rec)
			if err != nil {
				return err
			}
			if oldFacts == nil {
				return nil
			}
			if fact := oldFacts.Get(k); fact != nil {
				return s.setFact(nk, seq, fact)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if oldFacts != nil {
		err := oldFacts.ForEach(func(k, _ []byte) error {
			if old == nil || old.Get(k) == nil {
				return fmt.Errorf("event fact %q without its event", k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// The queue holds event keys: schema 8's now.
	queue := tx.Bucket(bktQueue)
	var seqs, keys [][]byte
	err := queue.ForEach(func(seq, k []byte) error {
		nk, err := rekey(k)
		seqs, keys = append(seqs, bytes.Clone(seq)), append(keys, nk)
		return err
	})
	if err != nil {
		return err
	}
	if err := putAll(queue, seqs, keys); err != nil {
		return err
	}
	for _, name := range [][]byte{bktEventsV7, bktEventFactsV7} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventKey is the index key of the event id of provider: the provider, 0,
// then the id. Most ids are hashes of a notification's body in hex, after
// a prefix (bank131:3f9a…, or none: Monnet's 64 digits); those are kept
// as the prefix, 1, and the hash's bytes, half the size. An id with a
// control byte is kept as 2 and the id, so that no id reads as another.
func eventKey(provider, id string) []byte {
	k := append(append(make([]byte, 0, len(provider)+1+len(id)), provider...), 0)
	if strings.IndexFunc(id, func(r rune) bool { return r < 0x20 }) >= 0 {
		return append(append(k, keyText), id...)
	}
	prefix, digits := hexTail(id)
	if len(digits) < 16 {
		return append(k, id...)
	}
	k, _ = hex.AppendDecode(append(append(k, prefix...), keyHex), []byte(digits)) // digits are hex (hexTail)
	return k
}

// Marks in an event key, after the provider's 0 (eventKey).
const (
	keyHex  = 1
	keyText = 2
)

// hexTail splits id into what comes before its last ':' (with it) and the
// rest when the rest is an even number of lowercase hex digits; digits is
// "" otherwise.
func hexTail(id string) (prefix, digits string) {
	i := strings.LastIndexByte(id, ':') + 1
	prefix, digits = id[:i], id[i:]
	if len(digits)%2 != 0 || strings.IndexFunc(digits, func(r rune) bool {
		return (r < '0' || r > '9') && (r < 'a' || r > 'f')
	}) >= 0 {
		return id, ""
	}
	return prefix, digits
}

// splitEventKey returns the provider and event id of the index key k
// (eventKey). A key of schema 7 and earlier (the id as it is) reads as it
// was.
func splitEventKey(k []byte) (provider, id string, err error) {
	sep := bytes.IndexByte(k, 0)
	if sep < 0 {
		return "", "", fmt.Errorf("event key %q: %w", k, errRecord)
	}
	provider, rest := string(k[:sep]), k[sep+1:]
	if len(rest) > 0 && rest[0] == keyText {
		return provider, string(rest[1:]), nil
	}
	if i := bytes.IndexByte(rest, keyHex); i >= 0 {
		return provider, string(rest[:i]) + hex.EncodeToString(rest[i+1:]), nil
	}
	return provider, string(rest), nil
}

// rekey is schema 8's key of the event under the schema 7 key k (the
// provider, 0, the id as it is).
func rekey(k []byte) ([]byte, error) {
	sep := bytes.IndexByte(k, 0)
	if sep < 0 {
		return nil, fmt.Errorf("event key %q: %w", k, errRecord)
	}
	return eventKey(string(k[:sep]), string(k[sep+1:])), nil
}

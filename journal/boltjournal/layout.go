package boltjournal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/internal/leanitem"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// How the journal lays its values out on bbolt's pages. A million-item
// journal is read end to end by the matcher through bbolt's mmap, so every
// byte an item takes on disk is a byte of the matcher's resident set.

// appendBuckets are filled to the brim before a page splits. bbolt splits a
// full page in two halves by default (FillPercent 0.5), right for keys
// arriving at random, but the keys of these buckets arrive in order (row
// keys, sequence numbers) and their values never grow, so pages filled in
// order would end half empty and stay so. Items are not here: an item
// grows and shrinks with every change of its state, and a page of items
// filled to the brim splits at each change into a full page and one of a
// few keys. In a night of four providers at 1.0 the items' pages held a
// third of what they could (698 bytes of pages a payout for 236 in use),
// at 0.5 two thirds (347). Events' records are kept in the order they
// come, under sequence numbers (event_store.go), and are here; their index
// by provider and event id, whose keys arrive in no order in a night of
// four providers, is not: at 1.0 such a bucket's pages were a quarter to
// half full, at 0.5 two thirds. (payrun bench --night 3000; the journal
// went from 2,800 to 2,224 bytes a payout.)
var appendBuckets = [][]byte{bktBatchItems, bktOpen, bktTransitions, bktRejects, bktQueue}

// recordsFill is the FillPercent of the events' records, which come in
// order but not all stay as written: a second delivery of a notification
// under another replay key adds that key to its record. On a page filled
// to the brim that split the page into a full one and one of a record,
// which nothing fills again; the twentieth of a page left free takes it.
const recordsFill = 0.95

// refsFill is the FillPercent of the provider references. A provider
// numbers its payouts and sessions in order (Bank 131's ps_3230 and
// po_2018, TeemoPay's TF2501010001PE…, Monnet's operation numbers), so
// each kind of reference is appended at its own end of the bucket, and at
// bbolt's default half of every page stayed empty (148 bytes of pages a
// payout for 74 in use in a night of four providers). A tenth of a page
// is left for ids that come out of order.
const refsFill = 0.9

// New items are written at a fill that leaves each page room for what its
// items gain later. An item is ingested small and grows by 46-141 bytes as
// it is paid (its provider's ids, its last status; 75 in the middle of a
// night of four providers). Written at bbolt's default half, a page of
// items ended two thirds full; written fuller, it overflows as its items
// grow, splits, and ends worse than at half (a night of 8,000 rows: items
// 352 bytes of pages a payout at 0.5, 285 at 0.62, 278 at 0.65, 416 at
// 0.7, where a page's items outgrow it). The fill is therefore worked out
// from the items being written: a page is filled so far that, when each
// item has grown by itemGrowth, the page is full. itemGrowth is half as
// much again as the middle of what items gained, so a page of items that
// grow more than most still fits; one that does not splits in halves, as
// every page did before.
const (
	itemGrowth  = 110
	maxItemFill = 0.9
)

// leafElement is what bbolt adds to a key and its value on a leaf page.
const leafElement = 16

// ItemsFill is the FillPercent at which n new items taking size bytes
// (keys and values) are written: bbolt's default for none, else as above,
// between bbolt's default and maxItemFill. The bench's ingest baseline
// writes its records at the fill this gave the journal for the same rows,
// so that both sides write at one fill.
func ItemsFill(size, n int) float64 {
	if n == 0 {
		return bolt.DefaultFillPercent
	}
	per := float64(size)/float64(n) + leafElement
	return min(max(per/(per+itemGrowth), bolt.DefaultFillPercent), maxItemFill)
}

// tuneFill sets FillPercent on the append-mostly buckets of a write
// transaction. bbolt keeps one Bucket per name and transaction and reads
// FillPercent when it commits, so setting it once per transaction is
// enough: the committer and Journal.update, through which every journal
// write goes, call it when a transaction begins.
func tuneFill(tx *bolt.Tx) {
	for _, name := range appendBuckets {
		if b := tx.Bucket(name); b != nil {
			b.FillPercent = 1.0
		}
	}
	if b := tx.Bucket(bktEventRecords); b != nil {
		b.FillPercent = recordsFill
	}
	if b := tx.Bucket(bktRefs); b != nil {
		b.FillPercent = refsFill
	}
}

// storedItem is an Item as the journal stores it: the same JSON without
// what the item repeats (the payout_id, which is the key, in the value;
// the rest as leanitem leaves it out): a quarter of a paid item. Fields
// left out are restored on reading (item); an item stored in full (as
// json.Marshal writes an Item) reads the same.
type storedItem struct {
	journal.Item
	// PayoutID is left out: it is the key.
	PayoutID string          `json:"payout_id,omitempty"`
	Payout   leanitem.Payout `json:"payout"`
	Refs     leanitem.Refs   `json:"refs"`
	Last     leanitem.Status `json:"last,omitzero"`
}

// storeItem returns what the journal stores for it, under its PayoutID.
func storeItem(it *journal.Item) (*storedItem, error) {
	if it.PayoutID == "" {
		return nil, fmt.Errorf("an item without a payout_id cannot be stored")
	}
	s := &storedItem{Item: *it}
	s.Payout, s.Refs, s.Last = leanitem.Lean(it)
	return s, nil
}

// item restores the Item that storeItem stored under key.
func (s *storedItem) item(key []byte) journal.Item {
	it := s.Item
	it.PayoutID = s.PayoutID
	if it.PayoutID == "" {
		it.PayoutID = string(key)
	}
	leanitem.Restore(&it, s.Payout, s.Refs, s.Last)
	return it
}

// An item is stored as its JSON (storedItem), compressed with the items'
// dictionary (dict.go) after the format byte itemDictV1; JSON that does
// not shrink is stored as it is, and starts with '{', as every item did
// before schema 7.
const itemDictV1 = 1

// encodeItem is what the journal stores for an item.
func encodeItem(it *journal.Item) ([]byte, error) {
	s, err := storeItem(it)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if out, ok := compress(itemDict(), []byte{itemDictV1}, raw); ok {
		return out, nil
	}
	return raw, nil
}

// ItemJSON returns the JSON of an item as the items bucket holds it (the
// lean storedItem, expanded when it is compressed): for what reads a
// journal's file with bare bbolt, the bench's baselines, which must read
// the same bytes the journal does.
func ItemJSON(v []byte) ([]byte, error) {
	if len(v) > 0 && v[0] == itemDictV1 {
		raw, err := expand(itemDict(), v[1:])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errRecord, err)
		}
		return raw, nil
	}
	return v, nil
}

// getItem decodes the item stored under key (decodeItem); ok is false when
// there is none.
func getItem(b *bolt.Bucket, key []byte, it *journal.Item) (ok bool, err error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	return true, decodeItem(key, raw, it)
}

// putItem stores it under key as encodeItem lays it out.
func putItem(b *bolt.Bucket, key []byte, it *journal.Item) error {
	_, err := putItemSize(b, key, it)
	return err
}

// putItemSize is putItem, returning the bytes of key and value stored.
func putItemSize(b *bolt.Bucket, key []byte, it *journal.Item) (int, error) {
	raw, err := encodeItem(it)
	if err != nil {
		return 0, err
	}
	return len(key) + len(raw), b.Put(key, raw)
}

// decodeItem reads an item stored under key by encodeItem (or in full).
// It decodes with the JSON v2 implementation (go-json-experiment/json, the
// encoding/json/v2 of Go's GOEXPERIMENT=jsonv2), about three times faster
// than encoding/json's decoder on an item: every journal write that
// changes an item and every scan (matcher, recovery, reports) decodes
// items. The JSON is encoding/json's, which v2 reads the same way: exact
// field names, valid UTF-8, no duplicate names.
func decodeItem(key, raw []byte, it *journal.Item) error {
	raw, err := ItemJSON(raw)
	if err != nil {
		return err
	}
	var s storedItem
	if err := jsonv2.Unmarshal(raw, &s); err != nil {
		return err
	}
	*it = s.item(key)
	return nil
}

// A transition is stored as a binary record (bktTransitions, under its
// sequence), not as JSON: a payout makes five to seven of them in a night,
// and their JSON, field names and RFC 3339 times, was a fifth of the
// journal. Layout, after the format byte (transitionV1):
//
//	payout_id, from, to, actor, reason   strings (uvarint length, bytes)
//	at                                   time (varint seconds, uvarint ns), UTC
//	payload                              the rest, verbatim (JSON, scrubbed)
//
// Records written as JSON by schema 5 and earlier start with '{' and are
// read as they were.
//
// transitionV2 is a V1 record, after its format byte, compressed with the
// transitions' dictionary (dict.go): the states, actors and reasons that
// every payout repeats. A night's transition took 58 bytes as V1, 23 as
// V2. Records are written as V2, or as V1 when that is smaller.
const (
	transitionV1 = 1
	transitionV2 = 2
)

// appendTransition appends t's record to dst (its Seq is the key).
func appendTransition(dst []byte, t *journal.Transition) []byte {
	at := len(dst)
	return compressRecord(transitionDict(), appendPlainTransition(dst, t), at, transitionV2)
}

// appendPlainTransition appends t's record as V1 lays it out.
func appendPlainTransition(dst []byte, t *journal.Transition) []byte {
	dst = append(dst, transitionV1)
	for _, s := range [...]string{t.PayoutID, string(t.From), string(t.To), t.Actor, t.Reason} {
		dst = appendRecString(dst, s)
	}
	dst = appendRecTime(dst, t.At)
	return append(dst, t.Payload...)
}

// readTransition decodes the transition stored under seq as v.
func readTransition(seq uint64, v []byte) (journal.Transition, error) {
	t := journal.Transition{Seq: seq}
	if len(v) > 0 && v[0] == '{' {
		err := json.Unmarshal(v, &t)
		return t, err
	}
	r := recReader{b: v}
	switch format := r.byte(); {
	case format == transitionV2:
		plain, err := expand(transitionDict(), r.b)
		if err != nil {
			return journal.Transition{}, fmt.Errorf("transition %d: %w: %w", seq, errRecord, err)
		}
		r.b = plain
	case format != transitionV1 && r.err == nil:
		r.err = fmt.Errorf("format %d", format)
	}
	var from, to string
	for _, s := range [...]*string{&t.PayoutID, &from, &to, &t.Actor, &t.Reason} {
		*s = r.string()
	}
	t.From, t.To = journal.State(from), journal.State(to)
	t.At = r.time().UTC()
	if r.err != nil {
		return journal.Transition{}, fmt.Errorf("transition %d: %w: %w", seq, errRecord, r.err)
	}
	if len(r.b) > 0 {
		t.Payload = bytes.Clone(r.b)
	}
	return t, nil
}

// An event's fact (in bktEventIndex) repeats what the event's record carries
// (event_record.go): the status, the duplicate flag, the time received.
// When it does, the journal stores only what became of the event, after
// the format byte factShort: the applied flag (one byte) and the note (the
// rest). A fact that differs from its record's is stored in full, as JSON.
const factShort = 2

// encodeFact is what the journal stores for f, the fact of the event whose
// record is rec.
func encodeFact(k, rec []byte, f *journal.EventFact) ([]byte, error) {
	_, carried, err := readEventRecord(k, rec, false)
	if err != nil {
		return nil, err
	}
	carried.Applied, carried.Note = f.Applied, f.Note
	if !sameFact(&carried, f) {
		return appendFact(nil, f), nil
	}
	applied := byte(0)
	if f.Applied {
		applied = 1
	}
	return append([]byte{factShort, applied}, f.Note...), nil
}

// sameFact compares two facts field by field (times by instant).
func sameFact(a, b *journal.EventFact) bool {
	return a.Provider == b.Provider && a.EventID == b.EventID && a.DuplicateNotice == b.DuplicateNotice &&
		a.Applied == b.Applied && a.Note == b.Note && a.Received.Equal(b.Received) &&
		a.Status.At.Equal(b.Status.At) && sameStatusButAt(a.Status, b.Status)
}

func sameStatusButAt(a, b providers.Status) bool {
	a.At, b.At = time.Time{}, time.Time{}
	return a == b
}

// decodeFact reads the fact v of the event under k, whose record is rec;
// a short one is completed from the record.
func decodeFact(k, rec, v []byte) (journal.EventFact, error) {
	if len(v) == 0 || v[0] != factShort {
		var f journal.EventFact
		err := json.Unmarshal(v, &f)
		return f, err
	}
	_, f, err := readEventRecord(k, rec, false)
	if err != nil {
		return f, err
	}
	if len(v) < 2 {
		return f, fmt.Errorf("event fact %q: %w", k, errRecord)
	}
	f.Applied, f.Note = v[1] == 1, string(v[2:])
	return f, nil
}

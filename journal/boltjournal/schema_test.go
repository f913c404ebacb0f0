package boltjournal

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// TestOpenRefusesOtherSchema: a journal written in another layout (a
// version 1 journal stored payouts under other JSON names) is refused,
// read-only or not, with ErrSchema, and is left as it was.
func TestOpenRefusesOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	setSchema(t, path, "1")
	for _, ro := range []bool{false, true} {
		if j, err := Open(path, Options{ReadOnly: ro}); !errors.Is(err, journal.ErrSchema) {
			if err == nil {
				j.Close()
			}
			t.Fatalf("read-only %v: Open of a version 1 journal: %v, want journal.ErrSchema", ro, err)
		}
	}
	if got := schemaOf(t, path); got != "1" {
		t.Errorf("schema after the refused opens: %q, want it left at 1", got)
	}
	setSchema(t, path, schemaVersion)
	j, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version %s journal: %v", schemaVersion, err)
	}
	j.Close()
}

func setSchema(t *testing.T, path, v string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		if v != schemaVersion {
			if err := unindexEvents(tx); err != nil {
				return err
			}
		}
		return tx.Bucket(bktMeta).Put(schemaKey, []byte(v))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// unindexEvents puts the events of a journal back the way schema 7 and
// earlier kept them (records under their keys, facts beside them), so
// that a journal written by this payrun can stand for an older one.
func unindexEvents(tx *bolt.Tx) error {
	old, err := tx.CreateBucketIfNotExists(bktEventsV7)
	if err != nil {
		return err
	}
	facts, err := tx.CreateBucketIfNotExists(bktEventFactsV7)
	if err != nil {
		return err
	}
	err = eventsOf(tx).forEach(func(k, rec, fact []byte) error {
		if err := old.Put(bytes.Clone(k), bytes.Clone(rec)); err != nil {
			return err
		}
		if fact != nil {
			return facts.Put(bytes.Clone(k), bytes.Clone(fact))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, b := range [][]byte{bktEventRecords, bktEventIndex} {
		if err := tx.DeleteBucket(b); err != nil {
			return err
		}
	}
	return nil
}

func schemaOf(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	_ = db.View(func(tx *bolt.Tx) error { v = string(tx.Bucket(bktMeta).Get(schemaKey)); return nil })
	return v
}

// TestOpenUpgradesSchema2: a version 2 journal (webhook events as JSON,
// their facts queued or applied beside them) is refused read-only, and
// opened for writing it is upgraded in place: every event reads as it was,
// with what became of it, a queued event is applied with the fact it was
// queued with, and a replay key kept before still refuses a replay.
func TestOpenUpgradesSchema2(t *testing.T) {
	path, at := filepath.Join(t.TempDir(), "journal.db"), time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	writeSchema2(t, path, at, true)

	if j, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, journal.ErrSchema) {
		if err == nil {
			j.Close()
		}
		t.Fatalf("read-only Open of a version 2 journal: %v, want journal.ErrSchema", err)
	}
	if got := schemaOf(t, path); got != "2" {
		t.Fatalf("schema after a read-only open: %q, want 2", got)
	}

	j, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version 2 journal: %v", err)
	}
	ev, ok, err := j.Event(ctx, "teemopay", "e1")
	if err != nil || !ok {
		t.Fatalf("event e1 after the upgrade: %v, %v", ok, err)
	}
	want := v2Event("e1", "P1", at)
	want.Applied = true
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("event e1 after the upgrade:\n got %+v\nwant %+v", ev, want)
	}
	if n, err := j.Queued(ctx); n != 1 || err != nil {
		t.Fatalf("queued after the upgrade: %d, %v; want 1", n, err)
	}
	var seen []journal.EventFact
	n, later, err := j.ApplyQueued(ctx, 10, func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		seen = append(seen, f)
		ok, err := tx.ApplyStatus(f.Status.Refs.PayoutID, "webhook", f.Status)
		return journal.Judged{Applied: ok}, err
	})
	if n != 1 || later != nil || err != nil {
		t.Fatalf("ApplyQueued = %d, %v, %v", n, later, err)
	}
	if len(seen) != 1 || !reflect.DeepEqual(seen[0].Status, v2Fact("e2", "P2", at).Status) || !seen[0].Received.Equal(at) {
		t.Errorf("fact applied: %+v, want e2's as it was queued", seen)
	}
	if it, err := j.Item(ctx, "P2"); err != nil || it.State != journal.Succeeded {
		t.Errorf("P2 after its queued event: %v, %v; want succeeded", it.State, err)
	}
	replay, _, err := j.Persist(ctx, journal.Receipt{ReplayKey: "teemopay:n1", Events: []journal.Event{v2Event("e1", "P1", at)},
		Facts: []journal.EventFact{v2Fact("e1", "P1", at)}})
	if !replay || err != nil {
		t.Errorf("replay of e1's delivery after the upgrade: replay %v, %v; want a replay", replay, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := schemaOf(t, path); got != schemaVersion {
		t.Errorf("schema after the upgrade: %q, want %s", got, schemaVersion)
	}
}

// TestUpgradeFailsWhole: a version 2 event with no fact anywhere fails the
// upgrade, and the journal is left exactly as it was.
func TestUpgradeFailsWhole(t *testing.T) {
	path, at := filepath.Join(t.TempDir(), "journal.db"), time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	writeSchema2(t, path, at, false)
	before := dumpJournal(t, path)
	if j, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), `"teemopay\x00e2" has no fact`) {
		if err == nil {
			j.Close()
		}
		t.Fatalf("Open of a version 2 journal with a fact missing: %v", err)
	}
	if after := dumpJournal(t, path); !reflect.DeepEqual(after, before) {
		t.Error("the failed upgrade changed the journal")
	}
}

// writeSchema2 writes at path a version 2 journal holding payouts P1 and
// P2 (submitted to TeemoPay), P1's event e1 applied, and P2's event e2
// queued (when queued) or with no fact at all.
func writeSchema2(t *testing.T, path string, at time.Time, queued bool) {
	t.Helper()
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var items []journal.Item
	for i, id := range []string{"P1", "P2"} {
		items = append(items, journal.Item{PayoutID: id, Provider: "teemopay", Row: i + 2, State: journal.Submitted,
			Payout: providers.Payout{ID: id, Method: providers.BankTransfer, Country: "PE",
				Amount: money.Money{Minor: 1000, Currency: "PEN"}}})
	}
	if err := j.Import(ctx, journal.Batch{ID: "B1", File: "b1.csv", Rows: 2, Valid: 2}, items); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(tx *bolt.Tx, bucket string, k []byte, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(k, raw); err != nil {
			t.Fatal(err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		put(tx, "events", []byte("teemopay\x00e1"), v2Event("e1", "P1", at))
		applied := v2Fact("e1", "P1", at)
		put(tx, "event_facts", []byte("teemopay\x00e1"), applied)
		put(tx, "events", []byte("teemopay\x00e2"), v2Event("e2", "P2", at))
		if queued {
			put(tx, "event_queue", []byte{0, 0, 0, 0, 0, 0, 0, 1}, v2Fact("e2", "P2", at))
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// v2Event is the raw event id about payout, as version 2 stored it
// (json.Marshal), delivered with replay key teemopay:n1.
func v2Event(id, payout string, at time.Time) journal.Event {
	return journal.Event{Provider: "teemopay", ID: id, PayoutID: payout, Type: "success", Received: at,
		Body: []byte(`{"merchantOrderNo":"` + payout + `","status":"SUCCESS"}`), ReplayKeys: []string{"teemopay:n1"}}
}

// v2Fact is the fact of event id: payout paid, as version 2 queued it
// (applied true, as Persist wrote it) and recorded it.
func v2Fact(id, payout string, at time.Time) journal.EventFact {
	return journal.EventFact{Provider: "teemopay", EventID: id, Applied: true, Received: at, Status: providers.Status{
		Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: payout, Method: providers.BankTransfer, ProviderID: "T" + payout},
		RawStatus: "SUCCESS", Amount: money.Money{Minor: 1000, Currency: "PEN"}, Fee: 150,
		At: time.Date(2026, 11, 20, 4, 0, 0, 0, time.FixedZone("", -5*3600))}}
}

// dumpJournal returns every bucket's keys and values at path.
func dumpJournal(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenUpgradesSchema3: a version 3 journal (the same buckets, no
// intake log) opens as version 5 with everything in it; read-only, it is
// refused until then.
func TestOpenUpgradesSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	ev := journal.Event{Provider: "teemopay", ID: "e1", Body: []byte(`{}`)}
	r := journal.Receipt{ReplayKey: "n1", Events: []journal.Event{ev}, Facts: []journal.EventFact{{Provider: "teemopay", EventID: "e1"}}}
	if _, _, err := j.Persist(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	setSchema(t, path, "3")
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, journal.ErrSchema) {
		t.Fatalf("read-only open of a version 3 journal: %v, want journal.ErrSchema", err)
	}
	j = openJournal(t, path)
	if q, _ := j.Queued(ctx); q != 1 {
		t.Errorf("after the upgrade: %d queued, want e1", q)
	}
	if replay, _, _ := j.Persist(ctx, r); !replay {
		t.Error("the replay key did not survive the upgrade")
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := schemaOf(t, path); got != schemaVersion {
		t.Errorf("schema after opening: %q, want %s", got, schemaVersion)
	}
}

// TestOpenUpgradesSchema7: a version 7 journal (events' records under
// their keys, their facts beside them) opens as version 8 with every event
// as it was: an applied one with what became of it, among the facts, a
// queued one still queued and applied with the fact its record carries,
// replay keys kept; the buckets it came from are gone.
func TestOpenUpgradesSchema7(t *testing.T) {
	path, at := filepath.Join(t.TempDir(), "journal.db"), time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	// The second event's id is a hash in hex, which schema 8 keys as bytes.
	hexID := strings.Repeat("0123456789abcdef", 4)
	j := openJournal(t, path)
	var items []journal.Item
	for i, id := range []string{"P1", "P2"} {
		items = append(items, journal.Item{PayoutID: id, Provider: "teemopay", Row: i + 2, State: journal.Submitted,
			Payout: providers.Payout{ID: id, Method: providers.BankTransfer, Country: "PE",
				Amount: money.Money{Minor: 1000, Currency: "PEN"}}})
	}
	if err := j.Import(ctx, journal.Batch{ID: "B1", File: "b1.csv", Rows: 2, Valid: 2}, items); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		events, err := tx.CreateBucketIfNotExists(bktEventsV7)
		if err != nil {
			return err
		}
		facts, err := tx.CreateBucketIfNotExists(bktEventFactsV7)
		if err != nil {
			return err
		}
		for _, id := range []string{"e1", hexID} {
			payout := map[string]string{"e1": "P1", hexID: "P2"}[id]
			ev, f := v2Event(id, payout, at), v2Fact(id, payout, at)
			k := refKey("teemopay", id)
			rec := appendEventRecord(nil, &ev, &f)
			if err := events.Put(k, rec); err != nil {
				return err
			}
			if id == "e1" {
				fact, err := encodeFact(k, rec, &journal.EventFact{Provider: f.Provider, EventID: id, Received: at,
					Status: f.Status, Applied: true, Note: "paid"})
				if err != nil {
					return err
				}
				if err := facts.Put(k, fact); err != nil {
					return err
				}
				continue
			}
			if err := tx.Bucket(bktQueue).Put(u64(1), k); err != nil {
				return err
			}
		}
		// A schema 7 journal had neither of schema 8's buckets.
		if err := unindexEvents(tx); err != nil {
			return err
		}
		return tx.Bucket(bktMeta).Put(schemaKey, []byte("7"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	j = openJournal(t, path)
	ev, ok, err := j.Event(ctx, "teemopay", "e1")
	want := v2Event("e1", "P1", at)
	want.Applied, want.Note = true, "paid"
	if err != nil || !ok || !reflect.DeepEqual(ev, want) {
		t.Fatalf("event e1 after the upgrade: %v, %v:\n got %+v\nwant %+v", ok, err, ev, want)
	}
	var facts []journal.EventFact
	if err := j.EventFacts(ctx, func(f journal.EventFact) bool { facts = append(facts, f); return true }); err != nil {
		t.Fatal(err)
	}
	if len(facts) != 1 || facts[0].EventID != "e1" || facts[0].Note != "paid" || facts[0].Status.Refs.ProviderID != "TP1" {
		t.Fatalf("facts after the upgrade: %+v, want e1's", facts)
	}
	var listed []string
	if err := j.ListEvents(ctx, func(e journal.Event) bool { listed = append(listed, e.ID); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(listed, []string{hexID, "e1"}) {
		t.Fatalf("events after the upgrade: %v", listed)
	}
	replay, _, err := j.Persist(ctx, journal.Receipt{ReplayKey: "teemopay:n1", Events: []journal.Event{v2Event(hexID, "P2", at)},
		Facts: []journal.EventFact{v2Fact(hexID, "P2", at)}})
	if !replay || err != nil {
		t.Errorf("replay of the second event's delivery after the upgrade: replay %v, %v; want a replay", replay, err)
	}
	n, later, err := j.ApplyQueued(ctx, 10, func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		ok, err := tx.ApplyStatus(f.Status.Refs.PayoutID, "webhook", f.Status)
		return journal.Judged{Applied: ok}, err
	})
	if n != 1 || later != nil || err != nil {
		t.Fatalf("ApplyQueued = %d, %v, %v; want the second event applied", n, later, err)
	}
	if it, err := j.Item(ctx, "P2"); err != nil || it.State != journal.Succeeded {
		t.Errorf("P2 after its queued event: %v, %v; want succeeded", it.State, err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got := schemaOf(t, path); got != schemaVersion {
		t.Errorf("schema after opening: %q, want %s", got, schemaVersion)
	}
	for k := range dumpJournal(t, path) {
		if strings.HasPrefix(k, "events/") || strings.HasPrefix(k, "event_facts/") {
			t.Errorf("%q is left in schema 7's buckets", k)
		}
	}
}

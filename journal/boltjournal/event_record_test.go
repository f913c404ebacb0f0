package boltjournal

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"

	"github.com/payrun/payrun/journal"
)

// TestEventRecordRoundTrip reads back what appendEventRecord wrote, over
// events and facts with every field filled at random (or left zero): a
// field added to Event, EventFact or providers.Status is filled too, so
// the test fails until the record carries it. Times come back as the same
// instant with the same offset (a zone's name is not kept).
func TestEventRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		var ev journal.Event
		var f journal.EventFact
		fillRandom(rng, reflect.ValueOf(&ev).Elem())
		fillRandom(rng, reflect.ValueOf(&f).Elem())
		// What the record does not carry: the key carries the provider and
		// the id, event_facts what became of the event, and the fact was
		// received with its event, and it is kept in UTC, as the receiver
		// takes it.
		ev.Received = ev.Received.UTC()
		ev.Provider, ev.ID = "teemopay", fillWords[i%len(fillWords)]
		ev.Applied, ev.Note = false, ""
		f.Provider, f.EventID, f.Applied, f.Note, f.Received = ev.Provider, ev.ID, false, "", ev.Received
		if len(ev.Body) == 0 {
			ev.Body = nil
		}
		if len(ev.ReplayKeys) == 0 {
			ev.ReplayKeys = nil
		}
		rec := appendEventRecord(nil, &ev, &f)
		gotEv, gotF, err := readEventRecord(eventKey(ev.Provider, ev.ID), rec, true)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		sameTime(t, i, "received", gotEv.Received, ev.Received)
		sameTime(t, i, "fact received", gotF.Received, f.Received)
		sameTime(t, i, "status at", gotF.Status.At, f.Status.At)
		gotEv.Received, ev.Received = time.Time{}, time.Time{}
		gotF.Received, f.Received, gotF.Status.At, f.Status.At = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(gotEv, ev) {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i, gotEv, ev)
		}
		if !reflect.DeepEqual(gotF, f) {
			t.Fatalf("fact %d:\n got %+v\nwant %+v", i, gotF, f)
		}
		if _, _, err := readEventRecord(eventKey(ev.Provider, ev.ID), rec, false); err != nil {
			t.Fatalf("event %d without its body: %v", i, err)
		}
	}
}

func sameTime(t *testing.T, i int, what string, got, want time.Time) {
	t.Helper()
	_, gotOff := got.Zone()
	_, wantOff := want.Zone()
	if !got.Equal(want) || gotOff != wantOff || got.IsZero() != want.IsZero() {
		t.Fatalf("event %d: %s %v, want %v", i, what, got, want)
	}
}

// TestEventRecordRefusesDamage: a record cut short anywhere, of another
// format, or under a key without a provider is an error naming the event,
// never a partial event.
func TestEventRecordRefusesDamage(t *testing.T) {
	ev, f := sampleEvent()
	k := eventKey(ev.Provider, ev.ID)
	ev.Body = nil // so that every cut falls inside a field
	rec := appendEventRecord(nil, &ev, &f)
	for n := range len(rec) {
		if _, _, err := readEventRecord(k, rec[:n], true); !errors.Is(err, errRecord) {
			t.Fatalf("record cut to %d of %d bytes: %v, want errRecord", n, len(rec), err)
		}
	}
	other := bytes.Clone(rec)
	other[0] = eventRecordV3 + 1 // no such format
	if _, _, err := readEventRecord(k, other, true); !errors.Is(err, errRecord) {
		t.Errorf("format %d: %v, want errRecord", other[0], err)
	}
	if _, _, err := readEventRecord([]byte("teemopay"), rec, true); !errors.Is(err, errRecord) {
		t.Errorf("key without a provider: %v, want errRecord", err)
	}
}

// FuzzReadEventRecord: any bytes read as an event record give an event or
// an error, never a panic, and an event read re-encodes to a record that
// reads the same.
func FuzzReadEventRecord(f *testing.F) {
	ev, fact := sampleEvent()
	f.Add(appendEventRecord(nil, &ev, &fact))
	noBody := ev
	noBody.Body = nil
	v2 := append(appendPlainRecord(nil, &noBody, &fact), s2.EncodeBetter(nil, ev.Body)...)
	v2[0] = eventRecordV2
	f.Add(v2)
	f.Add([]byte{eventRecordV1, 0xff, 0x80})
	f.Add([]byte{eventRecordV1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	k := eventKey(ev.Provider, ev.ID)
	f.Fuzz(func(t *testing.T, rec []byte) {
		ev, fact, err := readEventRecord(k, rec, true)
		if err != nil {
			return
		}
		again := appendEventRecord(nil, &ev, &fact)
		ev2, fact2, err := readEventRecord(k, again, true)
		if err != nil {
			t.Fatalf("re-encoded record: %v", err)
		}
		if !reflect.DeepEqual(ev, ev2) || !reflect.DeepEqual(fact, fact2) {
			t.Fatalf("re-encoded record reads differently:\n%+v %+v\n%+v %+v", ev, fact, ev2, fact2)
		}
	})
}

// TestEventKeys: every event id reads back from its key as it was: hashes
// in hex after a prefix are kept as bytes, half their size, and no id,
// whatever bytes it holds, reads as another.
func TestEventKeys(t *testing.T) {
	hash := "3f9a0c1d2e4b5a6978c0d1e2f3a4b5c6"
	ids := []string{"", "e1", hash, "bank131:" + hash, strings.Repeat("ab", 32), "a:b:" + hash,
		hash[:14], hash + "0", strings.ToUpper(hash), "x:" + strings.ToUpper(hash), "teemopay:TP1|T1|2|2026-03-02",
		"\x01" + hash, "x\x01" + hash, "\x02e", "\x00", "a\x00b", "p:\x01", ":" + hash, hash + ":"}
	seen := map[string]string{}
	for _, id := range ids {
		k := eventKey("bank131", id)
		p, got, err := splitEventKey(k)
		if err != nil || p != "bank131" || got != id {
			t.Errorf("id %q: key %q reads as %q %q (%v)", id, k, p, got, err)
		}
		if other, ok := seen[string(k)]; ok {
			t.Errorf("ids %q and %q share the key %q", other, id, k)
		}
		seen[string(k)] = id
	}
	if k := eventKey("bank131", "bank131:"+hash); len(k) != len("bank131\x00bank131:")+1+len(hash)/2 {
		t.Errorf("a hashed id keyed as %d bytes: %q", len(k), k)
	}
}

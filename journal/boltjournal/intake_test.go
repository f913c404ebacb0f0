package boltjournal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// schema4 makes a schema 4 journal at path whose intake log holds recs
// (a crash's leftovers), as payrun 4 would have left them.
func schema4(t *testing.T, path string, prepare func(j *Journal), recs ...[]byte) {
	t.Helper()
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(j)
	}
	err = j.update(func(tx *bolt.Tx) error {
		if err := unindexEvents(tx); err != nil {
			return err
		}
		return tx.Bucket(bktMeta).Put(schemaKey, []byte("4"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	const gen = 3
	log := make([]byte, intakeHeader)
	slot := log[(gen%2)*intakeSlot:]
	copy(slot, intakeMagic[:])
	binary.LittleEndian.PutUint64(slot[8:], gen)
	binary.LittleEndian.PutUint32(slot[16:], crc32.Checksum(slot[:16], castagnoli))
	for _, r := range recs {
		log = append(log, r...)
	}
	if err := os.WriteFile(path+intakeSuffix, log, 0o600); err != nil {
		t.Fatal(err)
	}
}

// logged is the intake record of a new event.
func logged(t *testing.T, gen uint64, id, nonce string) []byte {
	t.Helper()
	ev := journal.Event{Provider: "teemopay", ID: id, PayoutID: "p" + id, Received: time.Unix(1e9, 0).UTC(), Body: []byte(`{"id":"` + id + `"}`)}
	ev = ev.WithReplayKey(nonce)
	f := journal.EventFact{Provider: "teemopay", EventID: id, Status: providers.Status{Outcome: providers.Succeeded}}
	return appendIntakeRec(nil, gen, intakeEvent, refKey("teemopay", id), appendPlainRecord(nil, &ev, &f))
}

// TestOpenDrainsTheIntakeLog: opening a schema 4 journal for writing moves
// what its intake log holds into the file (new events stored and queued in
// the order they were logged, later replay keys kept with their events, a
// torn last record and records of an older generation left out), upgrades
// it to schema 5 and removes the log.
func TestOpenDrainsTheIntakeLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	stored := func(j *Journal) {
		ev := journal.Event{Provider: "teemopay", ID: "e0", Received: time.Unix(1e9, 0).UTC(), Body: []byte(`{}`)}
		r := journal.Receipt{ReplayKey: "n0", Events: []journal.Event{ev}, Facts: []journal.EventFact{{Provider: "teemopay", EventID: "e0"}}}
		if _, _, err := j.Persist(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	torn := logged(t, 3, "e9", "n9")
	schema4(t, path, stored,
		logged(t, 3, "e1", "n1"),
		appendIntakeRec(nil, 3, intakeReplay, refKey("teemopay", "e1"), []byte("n1b")),
		appendIntakeRec(nil, 3, intakeReplay, refKey("teemopay", "e0"), []byte("n0b")),
		logged(t, 3, "e2", "n2"),
		torn[:len(torn)-9]) // past the padding (at most 7 bytes), into the record
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := os.Stat(path + intakeSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the intake log is still there: %v", err)
	}
	ctx := context.Background()
	for id, keys := range map[string][]string{"e0": {"n0", "n0b"}, "e1": {"n1", "n1b"}, "e2": {"n2"}} {
		ev, ok, err := j.Event(ctx, "teemopay", id)
		if err != nil || !ok || !slices.Equal(ev.ReplayKeys, keys) {
			t.Errorf("%s: %v %v keys %q, want %q", id, ok, err, ev.ReplayKeys, keys)
		}
	}
	if _, ok, _ := j.Event(ctx, "teemopay", "e9"); ok {
		t.Error("a torn record was moved")
	}
	if n, _ := j.Queued(ctx); n != 3 {
		t.Fatalf("%d queued, want e0, e1, e2", n)
	}
	var order []string
	if _, _, err := j.ApplyQueued(ctx, 10, func(_ journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		order = append(order, f.EventID)
		return journal.Judged{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"e0", "e1", "e2"}) {
		t.Fatalf("applied in order %v", order)
	}
	var v []byte
	_ = j.view(func(tx *bolt.Tx) error { v = bytes.Clone(tx.Bucket(bktMeta).Get(schemaKey)); return nil })
	if string(v) != schemaVersion {
		t.Fatalf("schema %s", v)
	}
}

// TestDamagedIntakeLogChangesNothing: an intake log that cannot be read
// fails the open with the file named, and the journal stays at schema 4
// with its log, for an operator to look at.
func TestDamagedIntakeLogChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	schema4(t, path, nil, logged(t, 3, "e1", "n1"))
	raw, _ := os.ReadFile(path + intakeSuffix)
	clear(raw[:intakeHeader]) // both headers gone, records still there
	if err := os.WriteFile(path+intakeSuffix, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(path+intakeSuffix)) {
		t.Fatalf("open: %v", err)
	}
	if _, err := os.Stat(path + intakeSuffix); err != nil {
		t.Fatalf("the log is gone: %v", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bktMeta).Get(schemaKey); string(v) != "4" {
			t.Errorf("schema %s after a failed upgrade", v)
		}
		return nil
	})
}

func FuzzScanIntake(f *testing.F) {
	good := appendIntakeRec(nil, 7, intakeEvent, []byte("teemopay\x00e1"), []byte("rec"))
	good = appendIntakeRec(good, 7, intakeReplay, []byte("teemopay\x00e1"), []byte("n2"))
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(appendIntakeRec(nil, 6, intakeEvent, []byte("k"), []byte("v")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, end, err := scanIntake(bytes.NewReader(b), 7)
		if err != nil {
			return
		}
		if end > align8(int64(len(b))) || end%8 != 0 {
			t.Fatalf("end %d: beyond %d bytes, or not 8-byte aligned", end, len(b))
		}
		for _, r := range recs {
			if r.kind != intakeEvent && r.kind != intakeReplay || len(r.key) == 0 {
				t.Fatalf("record %+v", r)
			}
		}
	})
}

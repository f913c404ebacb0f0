package boltjournal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// intakeReceipt is one TeemoPay event eventID about payout id, delivered
// with replay key key.
func intakeReceipt(id, eventID, key string) Receipt {
	st := providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: id, ProviderID: "P" + id}}
	return Receipt{ReplayKey: key,
		Events: []Event{{Provider: "teemopay", ID: eventID, PayoutID: id, Received: time.Unix(1e9, 0).UTC(), Body: []byte(`{"id":"` + eventID + `"}`)}},
		Facts:  []EventFact{{Provider: "teemopay", EventID: eventID, Status: st}}}
}

// mustPersist persists r and checks what Persist said of it.
func mustPersist(t *testing.T, j *Journal, r Receipt, wantReplay bool, wantFresh int) {
	t.Helper()
	replay, fresh, err := j.Persist(r)
	if err != nil || replay != wantReplay || fresh != wantFresh {
		t.Fatalf("Persist(%s, key %q) = replay %v, %d new, %v; want replay %v, %d new",
			r.Events[0].ID, r.ReplayKey, replay, fresh, err, wantReplay, wantFresh)
	}
}

// crash stops j as a kill would: nothing is moved out of the intake log,
// nothing more is written; the files are closed so that the test can open
// them again.
func crash(t *testing.T, j *Journal) {
	t.Helper()
	j.in.stop()
	j.in.f.Close()
	j.wr.close()
	if err := j.db.Close(); err != nil {
		t.Fatal(err)
	}
}

// journalEvents returns the stored events' ids and replay keys, and how
// many are queued, read without moving anything.
func journalEvents(t *testing.T, j *Journal) (events map[string][]string, queued int) {
	t.Helper()
	events = map[string][]string{}
	err := j.db.View(func(tx *bolt.Tx) error {
		queued = tx.Bucket(bktQueue).Stats().KeyN
		return tx.Bucket(bktEvents).ForEach(func(k, v []byte) error {
			ev, _, err := readEventRecord(k, v, false)
			events[ev.ID] = ev.ReplayKeys
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return events, queued
}

// TestIntakeRecoversAfterCrash: what Persist acknowledged is only in the
// intake log until it is moved; after a crash, opening the journal moves
// all of it, in order, with every replay key, queued once, and resets the
// log. A replay of a delivery made before the crash is still refused.
func TestIntakeRecoversAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	mustPersist(t, j, intakeReceipt("p1", "e1", "n1"), false, 1)
	mustPersist(t, j, intakeReceipt("p2", "e2", "n2"), false, 1)
	mustPersist(t, j, intakeReceipt("p1", "e1", "n3"), false, 0) // duplicate delivery, new key
	mustPersist(t, j, intakeReceipt("p1", "e1", "n1"), true, 0)  // replay
	if events, q := journalEvents(t, j); len(events) != 0 || q != 0 {
		t.Fatalf("before any move the journal holds %d events, %d queued; want them in the log only", len(events), q)
	}
	crash(t, j)
	if n, err := intakeRecords(path + intakeSuffix); err != nil || n != 3 {
		t.Fatalf("the log holds %d records (%v), want 3: two events and a replay key", n, err)
	}
	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrIntake) || !strings.Contains(err.Error(), "3 webhook records") {
		t.Fatalf("read-only open with events in the log: %v, want ErrIntake saying how many", err)
	}

	j = openJournal(t, path)
	defer j.Close()
	events, q := journalEvents(t, j)
	want := map[string][]string{"e1": {"n1", "n3"}, "e2": {"n2"}}
	if q != 2 || len(events) != 2 || !slices.Equal(events["e1"], want["e1"]) || !slices.Equal(events["e2"], want["e2"]) {
		t.Fatalf("after recovery: events %v, %d queued; want %v, 2 queued", events, q, want)
	}
	if n, err := intakeRecords(path + intakeSuffix); err != nil || n != 0 {
		t.Fatalf("the log holds %d records after recovery (%v), want it reset", n, err)
	}
	mustPersist(t, j, intakeReceipt("p1", "e1", "n3"), true, 0)
	mustPersist(t, j, intakeReceipt("p2", "e2", "n2"), true, 0)
	mustPersist(t, j, intakeReceipt("p3", "e3", "n4"), false, 1)
	var order []string
	for {
		n, _, err := j.ApplyQueued(1, func(_ *EventTx, f EventFact) (Judged, error) {
			order = append(order, f.EventID)
			return Judged{Note: "seen"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if !slices.Equal(order, []string{"e1", "e2", "e3"}) {
		t.Errorf("applied %v, want e1, e2, e3: the order they were acknowledged in", order)
	}
}

// TestIntakeTornTail: a crash that cuts the last group's write short (at
// any byte) loses that group only, which was never acknowledged; every
// record before it is recovered and the journal opens.
func TestIntakeTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j := openJournal(t, path)
	mustPersist(t, j, intakeReceipt("p1", "e1", "n1"), false, 1)
	mustPersist(t, j, intakeReceipt("p2", "e2", "n2"), false, 1)
	before := j.in.off
	mustPersist(t, j, intakeReceipt("p3", "e3", "n3"), false, 1)
	after := j.in.off
	crash(t, j)
	whole, err := os.ReadFile(path + intakeSuffix)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The record's own bytes end before its padding, which nothing reads.
	end := before + intakeRecHead + int64(binary.LittleEndian.Uint32(whole[before:]))
	if end > after || after-end >= 8 {
		t.Fatalf("record at %d ends at %d, padded to %d", before, end, after)
	}
	for cut := before; cut < end; cut++ {
		torn := slices.Clone(whole)
		clear(torn[cut:after]) // the rest of the group never reached the disk
		if cut > before {
			torn[cut-1] ^= 0xff // and the last byte that did is garbage
		}
		p := filepath.Join(dir, fmt.Sprintf("cut%d.db", cut))
		if err := os.WriteFile(p, db, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+intakeSuffix, torn, 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := Open(p, Options{})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		events, q := journalEvents(t, j)
		if q != 2 || len(events) != 2 || events["e3"] != nil {
			t.Errorf("cut at %d: %d events, %d queued (%v), want e1 and e2 only", cut, len(events), q, events)
		}
		j.Close()
	}
}

// TestIntakeGenerations: a reset log keeps its old records on disk under
// an older generation, which is never read again; a torn write of the
// current header falls back to the other slot, whose records (moved
// before) are moved again without storing or queueing anything twice.
func TestIntakeGenerations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	for i := range 3 {
		id := fmt.Sprint(i)
		mustPersist(t, j, intakeReceipt("p"+id, "e"+id, "n"+id), false, 1)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, path)
	gen := j.in.gen
	mustPersist(t, j, intakeReceipt("p9", "e9", "n9"), false, 1)
	crash(t, j)

	// The previous generation's records are still in the file, after e9's.
	raw, err := os.ReadFile(path + intakeSuffix)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`{"id":"e2"}`)) {
		t.Fatal("the reset log no longer holds the old records; this test needs them")
	}
	// Tear the current header: the previous generation is current again.
	raw[int64(gen%2)*intakeSlot+3] ^= 0xff
	if err := os.WriteFile(path+intakeSuffix, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, path)
	defer j.Close()
	events, q := journalEvents(t, j)
	if len(events) != 3 || q != 3 {
		t.Errorf("after a torn header: %d events, %d queued (%v); want e0-e2 once each (e9 was in the torn generation)", len(events), q, events)
	}
	for id, keys := range events {
		if len(keys) != 1 {
			t.Errorf("%s has replay keys %v, want one", id, keys)
		}
	}
}

// TestIntakeFull: a log that grows past its limit before the Applier
// moves it (a storm that never pauses) moves what it holds into the
// journal and starts again from the top; nothing is lost or doubled and
// the file stays near the limit.
func TestIntakeFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	defer j.Close()
	j.in.max, j.in.idle = 16<<10, 4<<10
	const n = 600
	for i := range n {
		id := fmt.Sprint(i)
		mustPersist(t, j, intakeReceipt("p"+id, "e"+id, "n"+id), false, 1)
		if i%7 == 0 {
			mustPersist(t, j, intakeReceipt("p"+id, "e"+id, "n"+id), true, 0)
			mustPersist(t, j, intakeReceipt("p"+id, "e"+id, "m"+id), false, 0)
		}
	}
	if j.in.gen < 5 {
		t.Errorf("the log was reset %d times, want several", j.in.gen-1)
	}
	if st, err := j.in.f.Stat(); err != nil || st.Size() > intakeHeader+intakeGrow {
		t.Errorf("log file of %d bytes (%v), want it kept near its limit", st.Size(), err)
	}
	if q := j.mustQueued(t); q != n {
		t.Fatalf("%d queued, want %d", q, n)
	}
	if err := j.flushIntake(); err != nil {
		t.Fatal(err)
	}
	events, q := journalEvents(t, j)
	if q != n {
		t.Fatalf("%d queued in the journal after the last move, want %d", q, n)
	}
	for i := range n {
		id := fmt.Sprint(i)
		want := []string{"n" + id}
		if i%7 == 0 {
			want = append(want, "m"+id)
		}
		if !slices.Equal(events["e"+id], want) {
			t.Fatalf("e%s has replay keys %v, want %v", id, events["e"+id], want)
		}
	}
}

func (j *Journal) mustQueued(t *testing.T) int {
	t.Helper()
	n, err := j.Queued()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIntakeMovesRaceDeliveries: deliveries (new, duplicate, replayed)
// keep coming while the Applier moves and applies: every event is stored
// and applied exactly once, every replay refused, every new key kept.
func TestIntakeMovesRaceDeliveries(t *testing.T) {
	j := newJournal(t)
	const n = 300
	var wg sync.WaitGroup
	fresh := make([]int, 3*n)
	replays := make([]bool, 3*n)
	for i := range 3 * n {
		id := fmt.Sprint(i % n)
		key := fmt.Sprintf("k%d", i)
		wg.Go(func() {
			var err error
			replays[i], fresh[i], err = j.Persist(intakeReceipt("p"+id, "e"+id, key))
			if err != nil {
				t.Error(err)
			}
			// A replay of this very delivery, now or while it moves.
			if r, f, err := j.Persist(intakeReceipt("p"+id, "e"+id, key)); err != nil || !r || f != 0 {
				t.Errorf("replay of %s: replay %v, %d new, %v", key, r, f, err)
			}
		})
	}
	applied := map[string]int{}
	count := func(_ *EventTx, f EventFact) (Judged, error) {
		applied[f.EventID]++
		return Judged{Applied: true}, nil
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := j.ApplyQueued(17, count); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	for {
		n, _, err := j.ApplyQueued(100, count)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	events, q := journalEvents(t, j)
	if q != 0 || len(events) != n || len(applied) != n {
		t.Fatalf("%d events, %d applied, %d queued; want %d, %d, 0", len(events), len(applied), q, n, n)
	}
	for i := range n {
		id := fmt.Sprint(i)
		if fresh[i]+fresh[i+n]+fresh[i+2*n] != 1 || replays[i] || replays[i+n] || replays[i+2*n] {
			t.Errorf("e%s: new in %d deliveries (want 1), a first delivery refused as a replay: %v",
				id, fresh[i]+fresh[i+n]+fresh[i+2*n], replays[i] || replays[i+n] || replays[i+2*n])
		}
		if applied["e"+id] != 1 {
			t.Errorf("e%s applied %d times", id, applied["e"+id])
		}
		keys := slices.Sorted(slices.Values(events["e"+id]))
		if want := []string{"k" + id, fmt.Sprintf("k%d", i+n), fmt.Sprintf("k%d", i+2*n)}; !slices.Equal(keys, slices.Sorted(slices.Values(want))) {
			t.Errorf("e%s keeps keys %v, want %v", id, keys, want)
		}
	}
}

// TestIntakeWriteFailure: once a write to the log fails, the log takes
// nothing more (each delivery is refused, and its provider sends it
// again); opening the journal again recovers what was acknowledged.
func TestIntakeWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	mustPersist(t, j, intakeReceipt("p1", "e1", "n1"), false, 1)
	j.in.f.Close() // every later write fails
	for _, r := range []Receipt{intakeReceipt("p2", "e2", "n2"), intakeReceipt("p3", "e3", "n3")} {
		if _, _, err := j.Persist(r); !errors.Is(err, ErrIntake) {
			t.Fatalf("Persist after a failed write: %v, want ErrIntake", err)
		}
	}
	j.wr.close()
	j.in.stop()
	j.db.Close()
	j = openJournal(t, path)
	defer j.Close()
	if events, q := journalEvents(t, j); len(events) != 1 || q != 1 || events["e1"] == nil {
		t.Fatalf("after reopening: %v, %d queued; want e1 only", events, q)
	}
}

// FuzzScanIntake: whatever follows the header, reading the log gives
// records or stops; it never panics, and what it returns was written as a
// record of the current generation.
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
		// A last record may lack its padding; the next one is written
		// where the reader will look for it, after the padding.
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

// TestIntakeMovesInChunks: a storm larger than a move's chunk is moved a
// chunk a transaction, in order, all of it before the first events are
// applied.
func TestIntakeMovesInChunks(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "journal.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const n = 2*moveChunk + 100
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				id := fmt.Sprintf("%05d", i)
				if _, _, err := j.Persist(intakeReceipt("p"+id, "e"+id, "n"+id)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	txid := func() (id int) {
		_ = j.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
		return id
	}
	txs := txid()
	var first []string
	got, _, err := j.ApplyQueued(10, func(_ *EventTx, f EventFact) (Judged, error) {
		first = append(first, f.EventID)
		return Judged{Note: "seen"}, nil
	})
	if err != nil || got != 10 {
		t.Fatalf("ApplyQueued = %d, %v; want 10", got, err)
	}
	if w := txid() - txs; w != 3 {
		t.Errorf("%d write transactions, want 3: two chunks, then the last with the events applied", w)
	}
	if j.in.queued() != 0 {
		t.Errorf("%d records left in the log", j.in.queued())
	}
	events, q := journalEvents(t, j)
	if len(events) != n || q != n-10 {
		t.Errorf("%d events, %d queued; want %d, %d", len(events), q, n, n-10)
	}
	// The first applied are the first acknowledged: each writer's first.
	if len(first) != 10 || first[0] > "e00007" {
		t.Errorf("applied first %v", first)
	}
}

// TestIntakeStaleRecordsNeverRead: a torn group can leave valid records of
// the current generation past where reading stops (a later page reached
// the disk, the first did not). Opening starts a new generation even
// though it read nothing, so the records written over the top never lead
// a later recovery into them: here, a replay key for an event never
// logged, which would fail every open.
func TestIntakeStaleRecordsNeverRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	gen := j.in.gen
	mustPersist(t, j, intakeReceipt("p1", "e1", "n1"), false, 1)
	one := j.in.off - intakeHeader
	crash(t, j)
	// The torn group: its first record (e2's event) lost, its second (a
	// replay key for e2) on the disk, right after where e1's record ends
	// and the next delivery's will too.
	raw, err := os.ReadFile(path + intakeSuffix)
	if err != nil {
		t.Fatal(err)
	}
	clear(raw[intakeHeader : intakeHeader+one])
	stale := appendIntakeRec(nil, gen, intakeReplay, refKey("teemopay", "e2"), []byte("n2"))
	copy(raw[intakeHeader+one:], stale)
	if err := os.WriteFile(path+intakeSuffix, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	j = openJournal(t, path) // reads nothing: the top was lost
	if j.in.gen == gen {
		t.Errorf("opening kept generation %d; want a new one", gen)
	}
	mustPersist(t, j, intakeReceipt("p3", "e3", "n3"), false, 1) // as long as e1's
	crash(t, j)
	j, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("open after the second crash: %v", err)
	}
	defer j.Close()
	if events, _ := journalEvents(t, j); len(events) != 1 || events["e3"] == nil {
		t.Errorf("recovered %v, want e3 only", events)
	}
}

// TestIntakeReadErrorIsNoEnd: a read error while recovering fails the
// open instead of ending the log there (which would reset it and lose
// what lies beyond); a read-only open of a log with no valid header is
// refused as a writable one is.
func TestIntakeReadErrorIsNoEnd(t *testing.T) {
	good := appendIntakeRec(nil, 7, intakeEvent, []byte("teemopay\x00e1"), []byte("rec"))
	if _, _, err := scanIntake(io.MultiReader(bytes.NewReader(good), iotest.ErrReader(errors.New("EIO"))), 7); err == nil {
		t.Error("a read error was taken for the end of the log")
	}
	if recs, _, err := scanIntake(bytes.NewReader(good[:len(good)-9]), 7); err != nil || len(recs) != 0 {
		t.Errorf("a log cut short: %d records, %v; want none and no error", len(recs), err)
	}
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	mustPersist(t, j, intakeReceipt("p1", "e1", "n1"), false, 1)
	crash(t, j)
	raw, err := os.ReadFile(path + intakeSuffix)
	if err != nil {
		t.Fatal(err)
	}
	clear(raw[:intakeHeader])
	if err := os.WriteFile(path+intakeSuffix, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ro := range []bool{true, false} {
		if _, err := Open(path, Options{ReadOnly: ro}); !errors.Is(err, ErrIntake) {
			t.Errorf("read-only %v: open with a damaged log header: %v, want ErrIntake", ro, err)
		}
	}
}

// TestIntakeRefusesOneDelivery: a delivery the log cannot take (a record
// larger than a record may be) or judge (a stored event it cannot read)
// is refused alone; its group and the deliveries after it go on.
func TestIntakeRefusesOneDelivery(t *testing.T) {
	j := newJournal(t)
	if err := j.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bktEvents).Put(refKey("teemopay", "bad"), []byte{9})
	}); err != nil {
		t.Fatal(err)
	}
	big := intakeReceipt("p1", "big", "n1")
	big.Events[0].Body = bytes.Repeat([]byte("x"), intakeMaxRec)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, r := range []Receipt{big, intakeReceipt("p2", "bad", "n2"), intakeReceipt("p3", "e3", "n3")} {
		wg.Go(func() { _, _, errs[i] = j.Persist(r) })
	}
	wg.Wait()
	if !errors.Is(errs[0], ErrIntake) || errs[1] == nil || errs[2] != nil {
		t.Fatalf("Persist = %v; want the large one and the unreadable one refused, the third taken", errs)
	}
	mustPersist(t, j, intakeReceipt("p4", "e4", "n4"), false, 1)
	if err := j.flushIntake(); err != nil {
		t.Fatal(err)
	}
	if err := j.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktEvents).Delete(refKey("teemopay", "bad")) }); err != nil {
		t.Fatal(err)
	}
	if events, q := journalEvents(t, j); q != 2 || events["e3"] == nil || events["e4"] == nil || events["big"] != nil {
		t.Errorf("journal: %v, %d queued; want e3 and e4 queued", events, q)
	}
	if _, ok := j.in.index[string(refKey("teemopay", "big"))]; ok {
		t.Error("a refused delivery left its event in the log's index")
	}
}

// TestIntakeStress: eight writers deliver, redeliver and replay while the
// Applier moves and applies, readers flush, the log fills and resets every
// 16 KB, and the journal is closed under them: every acknowledged event
// is in the journal when it is opened again, every replay was refused.
func TestIntakeStress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, path)
	j.in.max, j.in.idle = 16<<10, 4<<10
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := range 8 {
		wg.Go(func() {
			for i := 0; !stop.Load() || i < 50; i++ {
				id := fmt.Sprintf("%d-%d", w, i%200)
				key := fmt.Sprintf("k%d-%d", w, i)
				r, _, err := j.Persist(intakeReceipt("p"+id, "e"+id, key))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				if r {
					t.Errorf("fresh key %s refused as replay", key)
				}
				mu.Lock()
				acked["e"+id] = true
				mu.Unlock()
				if r, _, err := j.Persist(intakeReceipt("p"+id, "e"+id, key)); err == nil && !r {
					t.Errorf("replay of %s not refused", key)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			j.ApplyQueued(7, func(_ *EventTx, f EventFact) (Judged, error) { return Judged{Applied: true}, nil })
			j.Event("teemopay", "e0-1")
		}
	}()
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); {
		if _, err := j.Queued(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	<-done
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	j = openJournal(t, path)
	defer j.Close()
	events, _ := journalEvents(t, j)
	for id := range acked {
		if _, ok := events[id]; !ok {
			t.Errorf("acknowledged %s lost", id)
		}
	}
	if j.in.gen < 10 {
		t.Errorf("the log reached generation %d; the test wants it reset often", j.in.gen)
	}
	t.Logf("%d events acknowledged, generation %d", len(acked), j.in.gen)
}

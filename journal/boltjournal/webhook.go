package batch

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// bktQueue holds the events persisted and not applied yet, in the order
// they were received (sequence, 8 bytes BE -> the event's key in
// bktEvents, whose record carries the fact to apply).
var bktQueue = []byte("event_queue")

// Receipt is one verified provider notification, as the webhook receiver
// hands it to Persist: its raw events in order, what each of them said,
// and the replay key (TeemoPay's nonce) that goes with the first.
type Receipt struct {
	ReplayKey string
	Events    []Event
	// Facts holds one fact per event (Provider, EventID, Status,
	// DuplicateNotice); Persist fills in Received, and ApplyQueued
	// Applied and Note.
	Facts []EventFact
}

// key returns the replay key that goes with event i: the receipt's, with
// the first event.
func (r Receipt) key(i int) string {
	if i == 0 {
		return r.ReplayKey
	}
	return ""
}

// Persist keeps a verified notification before it is acknowledged, in the
// intake log's next group (journal_intake.go): it refuses a replayed
// receipt (replay=true, nothing kept), logs each raw event that is new,
// for ApplyQueued to store, queue and apply in order. An event logged or
// stored before (a duplicate delivery) is not logged again; a new replay
// key is logged with it. fresh counts the new events. Persist returns once
// all of it is durable, so the acknowledgement can follow. A receipt of no
// events (a notification about nothing payrun sends) writes nothing.
func (j *Journal) Persist(r Receipt) (replay bool, fresh int, err error) {
	if len(r.Facts) != len(r.Events) {
		return false, 0, fmt.Errorf("receipt of %d events with %d facts", len(r.Events), len(r.Facts))
	}
	if len(r.Events) == 0 {
		return false, 0, nil
	}
	if j.in == nil {
		return false, 0, errors.New("journal is open read-only")
	}
	// Encoding is done here, in parallel by each delivery, rather than in
	// the log's writer, which runs its groups one after the other; the
	// records of every event go into one buffer, pooled: the writer copies
	// them before Persist returns.
	records := make([][]byte, len(r.Events))
	bp := receiptBufs.Get().(*[]byte)
	defer receiptBufs.Put(bp)
	buf := (*bp)[:0]
	for i := range r.Events {
		ev := keyedEvent(r.Events[i], r.key(i))
		start := len(buf)
		buf = appendEventRecord(buf, &ev, &r.Facts[i])
		records[i] = buf[start:len(buf):len(buf)]
	}
	if cap(buf) > cap(*bp) && cap(buf) <= maxPooledReceipt {
		*bp = buf[:0]
	}
	return j.in.persist(&r, records)
}

// receiptBufs are Persist's encoding buffers; one grown beyond
// maxPooledReceipt (a large body) is not kept.
const maxPooledReceipt = 64 << 10

var receiptBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Judged is what the receiver's rules made of one queued event inside
// ApplyQueued's transaction.
type Judged struct {
	// Later leaves the event queued, and stops ApplyQueued there, for the
	// caller to apply after the commit: a provider call (the confirm rule)
	// must never run inside a transaction. A judge that answers Later must
	// not have written anything.
	Later   bool
	Applied bool
	Note    string
}

// ApplyQueued applies up to max queued events, oldest first, in one
// transaction: judge applies each to its item through tx (the state
// machine's rules), and the event is marked (applied, or kept with a
// note), its fact recorded and the event leaves the queue, all in the same
// commit, so that a crash applies an event either wholly or not at all,
// and never twice.
//
// It stops at an event judge leaves for later and returns its fact: the
// caller applies it outside the transaction and records it with
// MarkEventFact, after which the next call takes it off the queue. n
// counts the events that left the queue; n == 0 and later == nil means
// the queue is empty. An error from judge fails the whole transaction and
// nothing of it is kept. A call that takes nothing off the queue writes
// nothing: its transaction is rolled back rather than committed and
// synced (the Applier asks every few seconds).
func (j *Journal) ApplyQueued(max int, judge func(tx *EventTx, f EventFact) (Judged, error)) (n int, later *EventFact, err error) {
	if j.in != nil {
		// A storm's records are moved a chunk a transaction; the last
		// chunk goes with the events this transaction applies.
		j.in.moveMu.Lock()
		defer j.in.moveMu.Unlock()
		if err := j.moveChunks(j.in.lastSeq(), moveChunk); err != nil {
			return 0, nil, err
		}
	}
	var moved uint64
	err = j.update(func(tx *bolt.Tx) error {
		n, later, moved = 0, nil, 0
		if j.in != nil {
			var err error
			if moved, err = j.moveIntake(tx); err != nil {
				return err
			}
		}
		queue, events, facts := tx.Bucket(bktQueue), tx.Bucket(bktEvents), tx.Bucket(bktEventFacts)
		etx := &EventTx{tx: tx, now: j.now().UTC()}
		var done [][]byte
		c := queue.Cursor()
		for qk, k := c.First(); qk != nil && n < max; qk, k = c.Next() {
			if facts.Get(k) != nil {
				// Applied by MarkEventFact after an earlier call left it.
				done, n = append(done, qk), n+1
				continue
			}
			rec := events.Get(k)
			if rec == nil {
				return fmt.Errorf("queued event %q: %w", k, ErrNotFound)
			}
			_, f, err := readEventRecord(k, rec, false)
			if err != nil {
				return err
			}
			jd, err := judge(etx, f)
			if err != nil {
				return err
			}
			if jd.Later {
				later = &f
				break
			}
			f.Applied, f.Note = jd.Applied, jd.Note
			if err := facts.Put(k, appendFact(nil, &f)); err != nil {
				return err
			}
			done, n = append(done, qk), n+1
		}
		if len(done) == 0 && moved == 0 {
			return errNothingApplied
		}
		for _, qk := range done {
			if err := queue.Delete(qk); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errNothingApplied) {
		return 0, later, nil
	}
	if err != nil {
		return 0, nil, err
	}
	if moved > 0 {
		j.in.moved(moved)
	}
	return n, later, nil
}

// errNothingApplied rolls back an ApplyQueued transaction that took
// nothing off the queue.
var errNothingApplied = errors.New("nothing applied")

// Queued returns how many acknowledged events wait to be applied: those
// queued in the journal and those still in the intake log.
func (j *Journal) Queued() (int, error) {
	n := 0
	if j.in != nil {
		// Not in the middle of a move, which would count its events in
		// both.
		j.in.moveMu.Lock()
		defer j.in.moveMu.Unlock()
		n = j.in.events()
	}
	err := j.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bktQueue); b != nil {
			n += b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

// EventTx is ApplyQueued's transaction, seen through what the receiver's
// rules read and write: the same operations as the Journal's, inside one
// transaction. It is valid only during the judge call it is passed to.
type EventTx struct {
	tx  *bolt.Tx
	now time.Time
	// last is the item read last and the bytes it was decoded from: the
	// rules read an item to find it, then again to change it, and
	// decoding is most of what an event costs.
	last struct {
		raw []byte
		it  Item
	}
}

// Item returns one item by payout_id (ErrNotFound when there is none).
func (e *EventTx) Item(payoutID string) (Item, error) {
	raw := e.tx.Bucket(bktItems).Get([]byte(payoutID))
	if raw == nil {
		return Item{}, fmt.Errorf("payout %s: %w", payoutID, ErrNotFound)
	}
	if e.last.it.PayoutID == payoutID && bytes.Equal(e.last.raw, raw) {
		return e.last.it, nil
	}
	var it Item
	if err := decodeItem([]byte(payoutID), raw, &it); err != nil {
		return Item{}, fmt.Errorf("payout %s: %w", payoutID, err)
	}
	e.last.raw, e.last.it = raw, it
	return it, nil
}

// PayoutByRef returns the payout_id a provider's own id or session id
// belongs to.
func (e *EventTx) PayoutByRef(provider, id string) (string, bool) {
	v := e.tx.Bucket(bktRefs).Get(refKey(provider, id))
	return string(v), v != nil
}

// ApplyStatus is Journal.ApplyStatus inside the transaction.
func (e *EventTx) ApplyStatus(payoutID, actor string, st providers.Status) (bool, error) {
	it, err := e.Item(payoutID)
	if err != nil {
		return false, err
	}
	c, ok := statusChange(it, actor, st)
	if !ok {
		return false, nil
	}
	return true, applyTo(e.tx, &it, c, e.now)
}

// Update is Journal.Update inside the transaction.
func (e *EventTx) Update(payoutID string, fn func(*Item)) error {
	it, err := e.Item(payoutID)
	if err != nil {
		return err
	}
	fn(&it)
	return putItem(e.tx.Bucket(bktItems), []byte(payoutID), &it)
}

package boltjournal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// Persist keeps a verified notification before it is acknowledged, in the
// next group commit: the acknowledgement waits for one sync shared with
// every other writer of the group.
func (j *Journal) Persist(ctx context.Context, r journal.Receipt) (replay bool, fresh int, err error) {
	if len(r.Facts) != len(r.Events) {
		return false, 0, fmt.Errorf("receipt of %d events with %d facts", len(r.Events), len(r.Facts))
	}
	if len(r.Events) == 0 {
		return false, 0, nil
	}
	r = r.Scrubbed()
	// Encoding is done here, in parallel by each delivery, rather than in
	// the group commit, which runs its writes one after the other; the
	// records of every event go into one buffer, pooled: bbolt holds what
	// it is given until the transaction commits, and nothing after.
	records := make([][]byte, len(r.Events))
	bp := receiptBufs.Get().(*[]byte)
	defer receiptBufs.Put(bp)
	buf := (*bp)[:0]
	for i := range r.Events {
		ev := r.Events[i].WithReplayKey(r.Key(i))
		start := len(buf)
		buf = appendEventRecord(buf, &ev, &r.Facts[i])
		records[i] = buf[start:len(buf):len(buf)]
	}
	if cap(buf) > cap(*bp) && cap(buf) <= maxPooledReceipt {
		*bp = buf[:0]
	}
	err = j.write(ctx, func(tx *bolt.Tx) error {
		replay, fresh = false, 0
		stored, queue := eventsOf(tx), tx.Bucket(bktQueue)
		for i, ev := range r.Events {
			k := eventKey(ev.Provider, ev.ID)
			raw, rseq, _, ok, err := stored.get(k)
			if err != nil {
				return err
			}
			if ok {
				isReplay, err := redelivered(stored.putRecord(rseq), k, raw, r.Key(i))
				if err != nil {
					return err
				}
				if isReplay {
					// The replay key goes with the first event, so nothing
					// of the receipt is stored yet.
					replay = true
					return nil
				}
				continue
			}
			seq, err := queue.NextSequence()
			if err != nil {
				return err
			}
			if _, err := stored.add(k, records[i]); err != nil {
				return err
			}
			if err := queue.Put(u64(seq), k); err != nil {
				return err
			}
			fresh++
		}
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return replay, fresh, nil
}

// receiptBufs are Persist's encoding buffers; one grown beyond
// maxPooledReceipt (a large body) is not kept.
const maxPooledReceipt = 64 << 10

var receiptBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// redelivered judges a delivery of an event stored before: a replay when
// its replay key is one the event holds; otherwise its new key is kept
// with the event (put rewrites its record), so that a replay of it is
// known.
func redelivered(put func([]byte) error, k, rec []byte, replayKey string) (replay bool, err error) {
	if replayKey == "" {
		return false, nil
	}
	ev, _, err := readEventRecord(k, rec, false)
	if err != nil {
		return false, err
	}
	if slices.Contains(ev.ReplayKeys, replayKey) {
		return true, nil
	}
	return false, keepReplayKeys(put, k, rec, replayKey)
}

// ApplyQueued applies up to max queued events, oldest first, in one
// transaction of its own.
func (j *Journal) ApplyQueued(ctx context.Context, max int, judge journal.Judge) (n int, later *journal.EventFact, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	err = j.update(func(tx *bolt.Tx) error {
		n, later = 0, nil
		queue, events := tx.Bucket(bktQueue), eventsOf(tx)
		etx := &eventTx{tx: tx, now: j.now().UTC()}
		var done [][]byte
		c := queue.Cursor()
		for qk, k := c.First(); qk != nil && n < max; qk, k = c.Next() {
			rec, seq, fact, ok, err := events.get(k)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("queued event %q: %w", k, journal.ErrNotFound)
			}
			if fact != nil {
				// Applied by MarkEventFact after an earlier call left it.
				done, n = append(done, qk), n+1
				continue
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
			fact, err = encodeFact(k, rec, &f)
			if err != nil {
				return err
			}
			if err := events.setFact(k, seq, fact); err != nil {
				return err
			}
			done, n = append(done, qk), n+1
		}
		if len(done) == 0 {
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
	return n, later, nil
}

// errNothingApplied rolls back an ApplyQueued transaction that took
// nothing off the queue.
var errNothingApplied = errors.New("nothing applied")

// Queued returns how many persisted events wait to be applied.
func (j *Journal) Queued(context.Context) (int, error) {
	n := 0
	err := j.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bktQueue).Stats().KeyN
		return nil
	})
	return n, err
}

// MarkEventFact records what became of an event ApplyQueued left for
// later, and the fact it carried, in one write; the next ApplyQueued takes
// it off the queue.
func (j *Journal) MarkEventFact(ctx context.Context, applied bool, note string, f journal.EventFact) error {
	return j.write(ctx, func(tx *bolt.Tx) error {
		k := eventKey(f.Provider, f.EventID)
		events := eventsOf(tx)
		rec, seq, _, ok, err := events.get(k)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("event %s %s: %w", f.Provider, f.EventID, journal.ErrNotFound)
		}
		if f.Received.IsZero() {
			ev, _, err := readEventRecord(k, rec, false)
			if err != nil {
				return err
			}
			f.Received = ev.Received
		}
		f.Applied, f.Note = applied, note
		fact, err := encodeFact(k, rec, &f)
		if err != nil {
			return err
		}
		return events.setFact(k, seq, fact)
	})
}

// EventFacts calls fn for every recorded fact.
func (j *Journal) EventFacts(_ context.Context, fn func(journal.EventFact) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		return eventsOf(tx).forEach(func(k, rec, fact []byte) error {
			if fact == nil {
				return nil
			}
			f, err := decodeFact(k, rec, fact)
			if err != nil {
				return err
			}
			if !fn(f) {
				return errStop
			}
			return nil
		})
	}))
}

// ListEvents calls fn for every stored event.
func (j *Journal) ListEvents(_ context.Context, fn func(journal.Event) bool) error {
	return stopped(j.view(func(tx *bolt.Tx) error {
		return eventsOf(tx).forEach(func(k, rec, fact []byte) error {
			ev, err := eventAt(k, rec, fact)
			if err != nil {
				return err
			}
			if !fn(ev) {
				return errStop
			}
			return nil
		})
	}))
}

// Event returns one stored event.
func (j *Journal) Event(_ context.Context, provider, id string) (ev journal.Event, ok bool, err error) {
	err = j.view(func(tx *bolt.Tx) error {
		k := eventKey(provider, id)
		rec, _, fact, found, err := eventsOf(tx).get(k)
		if ok = found; !ok || err != nil {
			return err
		}
		ev, err = eventAt(k, rec, fact)
		return err
	})
	return ev, ok, err
}

// eventAt decodes the event stored under k as rec, with what became of it
// from its fact, if it has one.
func eventAt(k, rec, fact []byte) (journal.Event, error) {
	ev, _, err := readEventRecord(k, rec, true)
	if err != nil || fact == nil {
		return ev, err
	}
	if fact[0] == factShort {
		if len(fact) < 2 {
			return ev, fmt.Errorf("event fact %s: %w", k, errRecord)
		}
		ev.Applied, ev.Note = fact[1] == 1, string(fact[2:])
		return ev, nil
	}
	var f struct {
		Applied bool   `json:"applied"`
		Note    string `json:"note"`
	}
	if err := json.Unmarshal(fact, &f); err != nil {
		return ev, fmt.Errorf("event fact %s: %w", k, err)
	}
	ev.Applied, ev.Note = f.Applied, f.Note
	return ev, nil
}

// eventTx is ApplyQueued's transaction as journal.EventTx.
type eventTx struct {
	tx  *bolt.Tx
	now time.Time
	// last is the item read last and the bytes it was decoded from: the
	// rules read an item to find it, then again to change it, and
	// decoding is most of what an event costs.
	last struct {
		raw []byte
		it  journal.Item
	}
}

func (e *eventTx) Item(payoutID string) (journal.Item, error) {
	raw := e.tx.Bucket(bktItems).Get([]byte(payoutID))
	if raw == nil {
		return journal.Item{}, fmt.Errorf("payout %s: %w", payoutID, journal.ErrNotFound)
	}
	if e.last.it.PayoutID == payoutID && bytes.Equal(e.last.raw, raw) {
		return e.last.it, nil
	}
	var it journal.Item
	if err := decodeItem([]byte(payoutID), raw, &it); err != nil {
		return journal.Item{}, fmt.Errorf("payout %s: %w", payoutID, err)
	}
	e.last.raw, e.last.it = raw, it
	return it, nil
}

func (e *eventTx) PayoutByRef(provider, id string) (string, bool, error) {
	return boltTx{e.tx}.PayoutByRef(provider, id)
}

func (e *eventTx) ApplyStatus(payoutID, actor string, st providers.Status) (bool, error) {
	it, err := e.Item(payoutID)
	if err != nil {
		return false, err
	}
	c, ok := journal.StatusChange(it, actor, st)
	if !ok {
		return false, nil
	}
	return true, journal.ApplyTo(boltTx{e.tx}, &it, c, e.now)
}

func (e *eventTx) Update(payoutID string, fn func(*journal.Item)) error {
	it, err := e.Item(payoutID)
	if err != nil {
		return err
	}
	fn(&it)
	return putItem(e.tx.Bucket(bktItems), []byte(payoutID), &it)
}

// EnqueueMail stores a message until MarkMailSent.
func (j *Journal) EnqueueMail(ctx context.Context, id string, eml []byte) error {
	return j.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMail)
		if b.Get([]byte(id)) != nil {
			return nil
		}
		return putJSON(b, []byte(id), &journal.QueuedMail{ID: id, EML: eml, Queued: j.now().UTC()})
	})
}

// PendingMail returns the messages not sent yet, oldest first.
func (j *Journal) PendingMail(context.Context) ([]journal.QueuedMail, error) {
	var out []journal.QueuedMail
	err := j.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMail).ForEach(func(_, v []byte) error {
			var m journal.QueuedMail
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			if m.Sent.IsZero() {
				out = append(out, m)
			}
			return nil
		})
	})
	slices.SortStableFunc(out, func(a, b journal.QueuedMail) int { return a.Queued.Compare(b.Queued) })
	return out, err
}

// MarkMailSent records a delivery (idempotent); a non-nil sendErr records
// a failed try instead.
func (j *Journal) MarkMailSent(ctx context.Context, id string, sendErr error) error {
	return j.write(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bktMail)
		var m journal.QueuedMail
		ok, err := getJSON(b, []byte(id), &m)
		if err != nil || !ok {
			return err
		}
		if !m.Sent.IsZero() {
			return nil
		}
		m.Tries++
		if sendErr != nil {
			m.LastErr = sendErr.Error()
		} else {
			m.Sent = j.now().UTC()
		}
		return putJSON(b, []byte(id), &m)
	})
}

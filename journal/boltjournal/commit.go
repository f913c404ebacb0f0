package boltjournal

import (
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/testsignal"
	"github.com/payrun/payrun/journal"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds one group commit (a failing write re-runs its group).
const maxGroup = 1000

// A group first takes every write already waiting; while it holds fewer
// than lingerFull it lingers, taking writes until none arrives for
// lingerGap, or for at most lingerMax. Every transaction's sync and page
// writes cost CPU (two fdatasyncs, about 150 µs of CPU each in a CPU
// profile of BenchmarkWebhook on the benchmark machine), so a trickle of
// writers (the dispatcher's workers) is cheaper in fewer, larger groups; a
// lone write waits one gap. Measured on
// the dispatcher (BenchmarkDispatch, 16 requests in flight): a fixed 500 µs
// window made groups of ~4 writes and 580-600 µs of CPU a payout; lingering
// up to 3 ms while writes keep coming, 530-570 µs.
//
// A group that already holds lingerFull writes commits at once: the sync
// is spread thin enough, and lingering on would only gather every writer
// in flight into one group, so that no write is prepared while the group
// commits. A storm of 20,000 webhooks, 128 in flight (BenchmarkWebhook):
// lingering to the end made groups of ~117 and 14,000 a second; stopping
// at 32, groups of ~57 and 17,600 a second (group sizes from temporary
// instrumentation). 64 against 32, alternating
// runs of payrun bench --stages webhook: 25,800, 26,800 and 22,300 a second
// against 24,100, 21,100 and 20,000.
const (
	lingerGap  = 1000 * time.Microsecond
	lingerMax  = 3 * time.Millisecond
	lingerFull = 64
)

// committer is the journal's group commit. One goroutine takes every write
// waiting, runs them in one bbolt transaction and syncs once; the writes
// that arrive while that commit is on disk form the next group. So a group
// is as large as the disk is slow; a lone write waits one lingerGap for
// company.
//
// bbolt's own DB.Batch closes a group on a timer and queues closed groups
// on the writer lock, so under a steady stream of writers (the dispatcher,
// the receiver) every timer tick became its own small transaction waiting
// for the previous fsync: that capped the dispatcher at a fraction of the
// provider's speed.
type committer struct {
	db      *bolt.DB
	reqs    chan commitReq
	closing chan struct{}
	stopped chan struct{}
	// writing is signalled as a write is about to wait for its group, for
	// tests.
	writing testsignal.Signal[struct{}]
}

type commitReq struct {
	fn  func(*bolt.Tx) error
	err chan error
}

func newCommitter(db *bolt.DB) *committer {
	c := &committer{db: db, reqs: make(chan commitReq), closing: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// write runs fn in the next group commit and returns once the group is
// durable (or fn's own error). fn may run more than once, when another
// write of its group fails: it must set its outputs afresh on every run,
// as with bbolt's DB.Batch.
func (c *committer) write(fn func(*bolt.Tx) error) error {
	req := commitReq{fn: fn, err: make(chan error, 1)}
	c.writing.Signal(struct{}{})
	select {
	case c.reqs <- req:
	case <-c.closing:
		return journal.ErrClosed
	}
	return <-req.err
}

// close stops taking writes after the group in progress.
func (c *committer) close() {
	close(c.closing)
	<-c.stopped
}

func (c *committer) loop() {
	defer close(c.stopped)
	group := make([]commitReq, 0, maxGroup)
	for {
		select {
		case <-c.closing:
			return
		case r := <-c.reqs:
			group = gather(c.reqs, append(group[:0], r))
		}
		c.run(group)
	}
}

// gather adds to group every request already waiting on reqs and then,
// while group holds fewer than lingerFull, those that keep coming (one
// lingerGap apart, for at most lingerMax).
func gather[T any](reqs <-chan T, group []T) []T {
	group = waiting(reqs, group)
	if len(group) >= lingerFull {
		return group
	}
	deadline := time.Now().Add(lingerMax)
	t := time.NewTimer(lingerGap)
	defer t.Stop()
	for len(group) < lingerFull {
		select {
		case r := <-reqs:
			group = waiting(reqs, append(group, r))
			wait := min(lingerGap, time.Until(deadline))
			if wait <= 0 {
				return group
			}
			t.Reset(wait)
		case <-t.C:
			return group
		}
	}
	return group
}

// waiting adds to group every request already waiting on reqs.
func waiting[T any](reqs <-chan T, group []T) []T {
	for len(group) < maxGroup {
		select {
		case r := <-reqs:
			group = append(group, r)
		default:
			return group
		}
	}
	return group
}

// run commits group. A write that fails is answered with its error (it saw
// the effects of the writes before it, as it would have in any serial
// order) and the rest of the group runs again without it.
func (c *committer) run(group []commitReq) {
	for len(group) > 0 {
		failed, ferr := -1, error(nil)
		err := c.db.Update(func(tx *bolt.Tx) error {
			tuneFill(tx)
			for i, r := range group {
				if err := call(r.fn, tx); err != nil {
					failed, ferr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, r := range group {
				r.err <- err
			}
			return
		}
		group[failed].err <- ferr
		group = append(group[:failed], group[failed+1:]...)
	}
}

// call runs fn, turning a panic into that write's error so that one bad
// write cannot take the committer (and every other writer) down.
func call(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("journal write panicked: %v", p)
		}
	}()
	return fn(tx)
}

package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/payrun/payrun/journal"
)

// Several payrun processes on one journal (journal.Cluster): the
// dispatcher claims work instead of walking a list, holds what it claimed
// under its node's lease, stops sending when the lease lapses, and takes
// over what a gone node held through the in-doubt path. On a journal held
// by one process it walks the list of the run's queued items, as it always
// did; everything after an item is in sending is one code path.

// claimMin is how many items one claim takes at least; a provider's pool
// claims a twentieth of its rate at once (a claim's round trip is the
// node's pace), at most its concurrency, so that a crash leaves few items
// waiting for a token in sending (in doubt, asked about, after it). A
// pool without a rate waits for no token: it claims its concurrency.
const claimMin = 4

// claimSize is how many items one claim of a provider's pool takes.
func claimSize(pl *pool) int {
	if pl.cfg.RatePerSecond <= 0 {
		return max(claimMin, pl.cfg.Concurrency)
	}
	return max(claimMin, min(pl.cfg.Concurrency, int(pl.cfg.RatePerSecond/20)))
}

// errLeaseLost stops a node's sending when its lease lapsed.
var errLeaseLost = errors.New("this node lost its lease on the journal: it sends nothing until the database answers again; what it held is taken over by the other nodes")

// clusterView is the dispatcher's side of a shared journal.
type clusterView struct {
	c journal.Cluster

	mu sync.Mutex
	// stuck are items whose answer could not be recorded: they stay in
	// sending, held by this node, until the next Recover asks about them.
	stuck map[string]string // payout_id -> holder
	// lost is set while the lease is lost (to say so once).
	lost bool
}

// useCluster, on a shared journal, gives every rate-limited pool the
// cluster's budget of its provider and every pool a share of the
// provider's concurrency. A journal held by one process keeps the pools'
// own budgets (pool.go): that process is the whole cluster.
func (d *Dispatcher) useCluster() {
	c, ok := d.j.(journal.Cluster)
	if !ok {
		return
	}
	d.cl = &clusterView{c: c, stuck: map[string]string{}}
	store := clusterBudgets{c: c}
	for name, pl := range d.pools {
		pl.share = &share{limit: pl.cfg.Concurrency, changed: make(chan struct{})}
		if pl.cfg.RatePerSecond > 0 {
			pl.budget = newBudget(name, pl.cfg.RatePerSecond, pl.cfg.Burst, store)
			pl.budget.node = d.cl.c.Lease
			pl.budget.onSenders = func(n, rank int) { pl.share.resize(shareOf(pl.cfg.Concurrency, n, rank)) }
		}
	}
}

// Clustered reports whether the dispatcher shares its journal with other
// payrun processes.
func (d *Dispatcher) Clustered() bool { return d.cl != nil }

// holder is the node this dispatcher's changes are made for ("" on a
// journal held by one process).
func (d *Dispatcher) holder() string {
	if d.cl == nil {
		return ""
	}
	return d.cl.c.Lease().Node
}

// mayStart reports whether a request of an item held by holder may start
// now, saying so once when the lease is lost.
func (d *Dispatcher) mayStart(holder string) bool {
	if d.cl == nil {
		return true
	}
	l := d.cl.c.Lease()
	ok := l.Holds(holder, time.Now())
	d.cl.mu.Lock()
	defer d.cl.mu.Unlock()
	if !ok && !d.cl.lost {
		d.cl.lost = true
		why := "its lease lapsed"
		if l.Err != nil {
			why = l.Err.Error()
		}
		d.log.Error("this node lost its lease on the journal and stops sending; the other nodes take over what it held once the lease and the longest request have passed",
			"node", holder, "why", why)
	} else if ok && d.cl.lost {
		d.cl.lost = false
		d.log.Info("this node holds a lease on the journal again and sends", "node", l.Node)
	}
	return ok
}

// leased refuses a run of a node without a lease on its journal (it
// says so once).
func (d *Dispatcher) leased() error {
	if d.cl != nil && !d.mayStart(d.holder()) {
		return errLeaseLost
	}
	return nil
}

// recoverCluster takes over what gone nodes held (sending becomes in
// doubt: the provider is asked before anything is sent again; confirming
// is confirmed again, which is idempotent), and asks about this node's
// own items whose answers could not be recorded.
func (d *Dispatcher) recoverCluster(ctx context.Context) (int, error) {
	n, err := d.cl.c.TakeOver(ctx, func(it journal.Item) journal.Change {
		to := journal.InDoubt
		if it.State == journal.Confirming {
			to = journal.AwaitingConfirmation
		}
		return journal.Change{To: to, Actor: "recovery",
			Reason: "held by a node that is gone: the request may have reached the provider"}
	})
	if err != nil {
		return n, err
	}
	d.cl.mu.Lock()
	stuck := d.cl.stuck
	d.cl.stuck = map[string]string{}
	d.cl.mu.Unlock()
	for id, holder := range stuck {
		err := d.j.Apply(ctx, journal.Change{PayoutID: id, From: journal.Sending, To: journal.InDoubt, Actor: "recovery", Holder: holder,
			Reason: "its answer could not be recorded: the request may have reached the provider"})
		if err == nil {
			n++
		} else if !errors.Is(err, journal.ErrConflict) {
			d.noteStuck(id, holder)
			return n, err
		}
	}
	return n, nil
}

// noteStuck remembers an item whose answer could not be recorded.
func (d *Dispatcher) noteStuck(id, holder string) {
	if d.cl == nil {
		return
	}
	d.cl.mu.Lock()
	d.cl.stuck[id] = holder
	d.cl.mu.Unlock()
}

// task is one item for a pool's worker: an id to claim (queued to
// sending, conditionally), or an item claimed already.
type task struct {
	id      string
	claimed *journal.Item
	holder  string
	// tokens were taken for its first request by the feeder.
	tokens int
}

// source hands a pool's feeder its next task; ok is false when none is
// left.
type source interface {
	next(ctx context.Context) (t task, ok bool, err error)
	// release gives back what was claimed and not handed out.
	release(ctx context.Context)
	// skipped collects the items the run gave up on (nil: none kept).
	skipped() *givenUp
}

// listSource walks the ids a run queued (a journal held by one process,
// and the resends the resolver queued).
type listSource struct {
	ids []string
	i   int
}

func (s *listSource) next(context.Context) (task, bool, error) {
	if s.i >= len(s.ids) {
		return task{}, false, nil
	}
	s.i++
	return task{id: s.ids[s.i-1]}, true, nil
}

func (s *listSource) release(context.Context) {}

func (s *listSource) skipped() *givenUp { return nil }

// claimSource claims a provider's queued items of the run's batches from
// the shared queue, a few at a time, until none is left. A goroutine of
// its own claims the next few while the workers send, so that a claim's
// round trip is never between two requests.
type claimSource struct {
	d        *Dispatcher
	provider string
	batches  []string
	size     int
	gaveUp   givenUp

	started bool
	items   chan task
	cancel  context.CancelFunc
	done    chan struct{}
	err     error // the claimer's, read once items is closed
}

func (s *claimSource) next(ctx context.Context) (task, bool, error) {
	if !s.started {
		s.started = true
		cctx, cancel := context.WithCancel(ctx)
		s.items, s.cancel, s.done = make(chan task, s.size), cancel, make(chan struct{})
		go s.claim(cctx)
	}
	select {
	case t, ok := <-s.items:
		if !ok {
			return task{}, false, s.err
		}
		return t, true, nil
	case <-ctx.Done():
		return task{}, false, ctx.Err()
	}
}

// claim claims until the queue is empty, ctx ends or a claim fails.
func (s *claimSource) claim(ctx context.Context) {
	defer close(s.done)
	defer close(s.items)
	for {
		holder := s.d.holder()
		if !s.d.mayStart(holder) {
			s.err = errLeaseLost
			return
		}
		// A stop is seen before a claim, never inside its commit: a
		// commit cut short may have landed without saying so, and would
		// leave items in sending held by this live node.
		if ctx.Err() != nil {
			return
		}
		items, err := s.d.cl.c.Claim(context.WithoutCancel(ctx), journal.ClaimRequest{Provider: s.provider, Batches: s.batches, Max: s.size, Skip: s.gaveUp.list(),
			Change: journal.Change{Actor: "dispatcher", Holder: holder, Update: func(x *journal.Item) { x.Sends++ }}})
		switch {
		case errors.Is(err, journal.ErrLeaseLost):
			s.err = errLeaseLost
			return
		case ctx.Err() != nil:
			// Stopping; a claim that committed regardless is given back.
			for _, it := range items {
				_ = s.d.unsend(ctx, it.PayoutID, holder)
			}
			return
		case err != nil:
			s.err = fmt.Errorf("claim %s payouts: %w", s.provider, err)
			return
		case len(items) == 0:
			return
		}
		for i, it := range items {
			select {
			case s.items <- task{id: it.PayoutID, claimed: &it, holder: holder}:
			case <-ctx.Done():
				for _, left := range items[i:] {
					_ = s.d.unsend(ctx, left.PayoutID, holder)
				}
				return
			}
		}
	}
}

func (s *claimSource) skipped() *givenUp { return &s.gaveUp }

// release stops the claimer and gives back what it claimed and the
// feeder did not take.
func (s *claimSource) release(ctx context.Context) {
	if !s.started {
		return
	}
	s.cancel()
	<-s.done
	for t := range s.items {
		_ = s.d.unsend(ctx, t.id, t.holder)
	}
}

// sourceFor is where a run's pool takes its items from: the shared
// queue of the run's batches on a shared journal, the run's list
// otherwise.
func (d *Dispatcher) sourceFor(provider string, ids, batches []string) source {
	if d.cl == nil {
		return &listSource{ids: ids}
	}
	return &claimSource{d: d, provider: provider, batches: batches, size: claimSize(d.pools[provider])}
}

// queuedBefore reports, on a shared journal, a batch another run queued
// whole already (it is being sent): its items are claimed from the queue,
// not read again. A batch is marked dispatching before its rows are
// queued (a hold made meanwhile wins), so a run that stopped half-way
// leaves it dispatching without the mark queuedAll sets, and the next run
// queues the rest. A batch with rows a cap held has no mark either, so
// that every run weighs them again.
func (d *Dispatcher) queuedBefore(ctx context.Context, b journal.Batch) (bool, error) {
	if d.cl == nil {
		return false, nil
	}
	switch b.State {
	case journal.BatchWaiting, journal.BatchDispatching:
		_, ok, err := d.j.Mark(ctx, queuedMark+b.ID)
		return ok, err
	}
	return false, nil
}

// queuedMark is the mark of a batch whose rows were all queued.
const queuedMark = "queued:"

// queuedAll marks, on a shared journal, a batch whose rows are all queued:
// none is held by a cap.
func (d *Dispatcher) queuedAll(ctx context.Context, batchID string, held map[string]int) error {
	if d.cl == nil || len(held) > 0 {
		return nil
	}
	return d.j.SetMark(ctx, queuedMark+batchID, d.j.Now().UTC().Format(time.RFC3339))
}

// toSend is what a run sends to: the providers of the items it queued,
// or, on a shared journal, every provider (the queue is shared: what
// another run queued is claimed too).
func (d *Dispatcher) toSend(queues map[string][]string) map[string][]string {
	if d.cl == nil {
		return queues
	}
	out := map[string][]string{}
	for prov := range d.provs {
		out[prov] = queues[prov]
	}
	return out
}

// exclusive runs fn while no other node of the cluster runs fn under the
// same name.
func (d *Dispatcher) exclusive(ctx context.Context, name string, fn func(context.Context) error) error {
	if d.cl == nil {
		return fn(ctx)
	}
	return d.cl.c.Exclusive(ctx, name, fn)
}

// applyEach applies changes together, or, when one of them finds its item
// moved by another node (ErrConflict), one by one, leaving that one.
func (d *Dispatcher) applyEach(ctx context.Context, changes []journal.Change) error {
	err := d.j.Apply(ctx, changes...)
	if !errors.Is(err, journal.ErrConflict) {
		return err
	}
	for _, c := range changes {
		if err := d.j.Apply(ctx, c); err != nil && !errors.Is(err, journal.ErrConflict) {
			return err
		}
	}
	return nil
}

// givenUp are the items a run stopped retrying: a claim skips them.
type givenUp struct {
	mu  sync.Mutex
	ids []string
}

func (g *givenUp) add(id string) {
	g.mu.Lock()
	g.ids = append(g.ids, id)
	g.mu.Unlock()
}

func (g *givenUp) list() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ids)
}

// share is a node's part of a provider's concurrency: a semaphore whose
// size follows the nodes sending to the provider.
type share struct {
	mu      sync.Mutex
	limit   int
	used    int
	changed chan struct{} // closed when a slot frees or the limit grows
}

func (s *share) acquire(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.used < s.limit {
			s.used++
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (s *share) release() {
	s.mu.Lock()
	s.used--
	s.wake()
	s.mu.Unlock()
}

func (s *share) resize(n int) {
	s.mu.Lock()
	if n != s.limit {
		s.limit = n
		s.wake()
	}
	s.mu.Unlock()
}

func (s *share) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// shareOf is the part of concurrency the node ranked rank of n sending
// nodes gets: an even split, the remainder to the first ranks, at least
// one.
func shareOf(concurrency, n, rank int) int {
	if n <= 1 {
		return concurrency
	}
	part := concurrency / n
	if rank < concurrency%n {
		part++
	}
	return max(part, 1)
}

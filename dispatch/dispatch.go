package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/journal"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"golang.org/x/sync/errgroup"
)

// DispatchOptions configure a Dispatcher.
type DispatchOptions struct {
	Pools map[string]PoolConfig
	// MaxAttempts caps sends of one item for retryable errors (default 8).
	MaxAttempts int
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// BreakerFailures in a row open a provider's breaker for BreakerCooldown.
	BreakerFailures int
	BreakerCooldown time.Duration
	// ResendAfter is the wait before an in-doubt payout is resent to a
	// provider that refuses duplicates (Monnet asks for 30 s).
	ResendAfter time.Duration
	// RequestTimeout bounds one provider call (default 30 s). In-flight calls
	// finish after ctx is cancelled, within this bound.
	RequestTimeout time.Duration
	Caps           []Cap
	Location       *time.Location
	Log            *slog.Logger
	// Observe, when set, is told about every provider call (for metrics).
	Observe func(provider, op string, d time.Duration, err error)
}

// Cap limits what one provider (or all, when Provider is "") may send per
// day or per batch. Reaching it holds the rest.
type Cap struct {
	Provider  string
	Scope     string // day or batch
	MaxCount  int
	MaxAmount map[string]int64 // currency -> minor units
}

// Dispatcher sends a batch's items to their providers through one pool per
// provider, with the exactly-once rule: an item is committed as sending
// before its request leaves, and anything in doubt is resolved before it is
// sent again.
type Dispatcher struct {
	j     journal.Journal
	provs map[string]providers.Provider
	pools map[string]*pool
	o     DispatchOptions
	log   *slog.Logger
	cl    *clusterView // nil: the journal is held by this process alone (claim.go)

	sent, inDoubt atomic.Int64
	// settling counts the confirms SettleLater started.
	settling sync.WaitGroup
}

// NewDispatcher builds a dispatcher over the journal and the providers that
// are configured.
func NewDispatcher(j journal.Journal, provs map[string]providers.Provider, o DispatchOptions) *Dispatcher {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{j: j, provs: provs, pools: map[string]*pool{}, o: o, log: log}
	for name := range provs {
		d.pools[name] = newPool(name, o.Pools[name], o.BreakerFailures, o.BreakerCooldown, j.Now)
	}
	d.useCluster()
	return d
}

// Provider returns a configured provider by name.
func (d *Dispatcher) Provider(name string) (providers.Provider, bool) {
	p, ok := d.provs[name]
	return p, ok
}

// PoolStats returns each pool's counters.
func (d *Dispatcher) PoolStats() map[string]PoolStats {
	out := map[string]PoolStats{}
	for n, p := range d.pools {
		out[n] = p.snapshot()
	}
	return out
}

// Summary is what one Run did.
type Summary struct {
	Queued    int                   `json:"queued"`
	Sent      int                   `json:"sent"`
	Held      int                   `json:"held"`
	HeldWhy   []string              `json:"held_why,omitempty"`
	InDoubt   int                   `json:"in_doubt"`
	Left      int                   `json:"left"` // still queued (stopped, or attempts exhausted)
	ByState   map[journal.State]int `json:"by_state"`
	Providers map[string]int        `json:"providers"`
}

// Progress reports dispatch progress: of Total payouts to send, Done are
// through (sent and their answer recorded, or left for a later run); Sent
// counts submissions, a payout sent again counted each time.
type Progress struct {
	Total, Done int
	Sent        int64
}

// Recover turns every item left in sending by a crash into in_doubt: its
// request may or may not have reached the provider.
//
// On a shared journal it takes over only what nodes that are gone held
// (claim.go): the items of a live node are its own.
func (d *Dispatcher) Recover(ctx context.Context) (int, error) {
	if d.cl != nil {
		return d.recoverCluster(ctx)
	}
	type left struct {
		id string
		s  journal.State
	}
	var found []left // in the journal's order, so that recovery is the same every run
	err := d.j.OpenStates(ctx, func(id string, s journal.State) bool {
		if s == journal.Sending || s == journal.Confirming {
			found = append(found, left{id, s})
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	for _, f := range found {
		id, s := f.id, f.s
		to := journal.InDoubt
		if s == journal.Confirming {
			to = journal.AwaitingConfirmation // confirm is idempotent: settle again
		}
		// Conditional on the state found: an item a webhook settled
		// meanwhile is left alone.
		err := d.j.Apply(ctx, journal.Change{PayoutID: id, To: to, Actor: "recovery", From: s,
			Reason: "found in " + string(s) + " after a restart: the request may have reached the provider"})
		if err != nil && !errors.Is(err, journal.ErrConflict) {
			return 0, err
		}
	}
	return len(found), nil
}

// Run dispatches every accepted or queued item of the batches (all
// unfinished batches when none are named) and resolves what is in doubt. It
// returns when nothing is left to send, or when ctx is cancelled: then it
// stops taking items, lets requests in flight finish and returns ctx's
// error after their results are committed.
func (d *Dispatcher) Run(ctx context.Context, batchIDs []string, progress func(Progress)) (Summary, error) {
	sum := Summary{ByState: map[journal.State]int{}, Providers: map[string]int{}}
	if err := d.leased(); err != nil {
		return sum, err
	}
	if _, err := d.Recover(ctx); err != nil {
		return sum, err
	}
	if len(batchIDs) == 0 {
		bs, err := d.j.ListBatches(ctx)
		if err != nil {
			return sum, err
		}
		for _, b := range bs {
			if b.State != journal.BatchDone && b.State != journal.BatchHeld && b.State != journal.BatchIngesting {
				batchIDs = append(batchIDs, b.ID)
			}
		}
	}
	queues := map[string][]string{}
	// One node at a time queues (caps count what is queued).
	err := d.exclusive(ctx, "queue", func(ctx context.Context) error {
		for _, id := range batchIDs {
			b, err := d.j.Batch(ctx, id)
			if err != nil {
				return err
			}
			if b.State == journal.BatchHeld {
				return fmt.Errorf("batch %s is held for approval (payrun approve %s)", id, id)
			}
			if done, err := d.queuedBefore(ctx, b); err != nil || done {
				if err != nil {
					return err
				}
				continue
			}
			// Marked as being sent before its rows are queued: a hold made
			// since the batch was read wins, and none of its rows moves.
			err = d.j.SetBatch(ctx, id, func(b *journal.Batch) error {
				if b.State == journal.BatchHeld {
					return errHeldMeanwhile
				}
				b.State = journal.BatchDispatching
				return nil
			})
			if errors.Is(err, errHeldMeanwhile) {
				sum.HeldWhy = append(sum.HeldWhy, "batch "+id+" was held by an operator")
				continue
			}
			if err != nil {
				return err
			}
			q, held, err := d.queue(ctx, b)
			if err != nil {
				return err
			}
			for why, n := range held {
				sum.Held += n
				sum.HeldWhy = append(sum.HeldWhy, why)
			}
			for prov, ids := range q {
				queues[prov] = append(queues[prov], ids...)
			}
			if err := d.queuedAll(ctx, id, held); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	total := 0
	for _, ids := range queues {
		total += len(ids)
	}
	sum.Queued = total
	var doneCount atomic.Int64
	stopProgress := make(chan struct{})
	var pwg sync.WaitGroup
	if progress != nil {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopProgress:
					progress(Progress{Total: total, Done: int(doneCount.Load()), Sent: d.sent.Load()})
					return
				case <-t.C:
					progress(Progress{Total: total, Done: int(doneCount.Load()), Sent: d.sent.Load()})
				}
			}
		}()
	}
	var g errgroup.Group
	for prov, ids := range d.toSend(queues) {
		p, ok := d.provs[prov]
		if !ok {
			d.log.Warn("provider not configured; its items stay queued", "provider", prov, "items", len(ids))
			continue
		}
		pl := d.pools[prov]
		g.Go(func() error { return d.runPool(ctx, p, pl, d.sourceFor(prov, ids, batchIDs), &doneCount) })
	}
	err = g.Wait()
	// In-doubt items found during the run are resolved now (and again by
	// every later run or poll until none is left).
	if ctx.Err() == nil && err == nil {
		err = d.ResolveInDoubt(ctx)
	}
	close(stopProgress)
	pwg.Wait()
	// What the run did is counted and journaled even when it was stopped.
	bctx := context.WithoutCancel(ctx)
	for _, id := range batchIDs {
		counts := map[journal.State]int{}
		if e := d.j.BatchItems(bctx, id, func(it journal.Item) bool {
			counts[it.State]++
			sum.Providers[it.Provider]++
			return true
		}); e != nil && err == nil {
			err = e
		}
		for s, n := range counts {
			sum.ByState[s] += n
		}
		if e := journal.SetProgress(bctx, d.j, id, counts); e != nil && err == nil {
			err = e
		}
	}
	sum.Sent = int(d.sent.Load())
	sum.InDoubt = sum.ByState[journal.InDoubt]
	sum.Left = sum.ByState[journal.Queued] + sum.ByState[journal.Accepted]
	sort.Strings(sum.HeldWhy)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return sum, err
}

// queue moves a batch's accepted items to queued in row order, holding the
// ones beyond a cap, and returns the queued ids per provider (queued items
// of an earlier, interrupted run included). Items a cap held before are
// weighed again in their row's place: once the cap allows them (raised,
// removed, or a new day for a daily cap) they are queued; until then they
// stay held, counted in the reasons returned.
func (d *Dispatcher) queue(ctx context.Context, b journal.Batch) (map[string][]string, map[string]int, error) {
	out := map[string][]string{}
	held := map[string]int{}
	used, err := d.capUsage(ctx, b.ID)
	if err != nil {
		return nil, nil, err
	}
	// Decide inside the read transaction, write after it: a write while a
	// read transaction is open can wait for ever when bbolt grows its file.
	// What is decided is kept as payout_ids (shared with the queues), not
	// as changes: a batch of a million rows.
	type decided struct {
		id       string
		from, to journal.State
		why      string
	}
	var moves []decided
	err = d.j.BatchItems(ctx, b.ID, func(it journal.Item) bool {
		switch it.State {
		case journal.Queued:
			out[it.Provider] = append(out[it.Provider], it.PayoutID)
			return true
		case journal.Accepted, journal.Held:
		default:
			return true
		}
		if why := d.overCap(used, it); why != "" {
			held[why]++
			if it.State == journal.Accepted {
				moves = append(moves, decided{it.PayoutID, journal.Accepted, journal.Held, why})
			}
		} else {
			used.add(it)
			moves = append(moves, decided{id: it.PayoutID, from: it.State, to: journal.Queued})
			out[it.Provider] = append(out[it.Provider], it.PayoutID)
		}
		return true
	})
	changes := make([]journal.Change, 0, 500)
	for start := 0; err == nil && start < len(moves); start += 500 {
		changes = changes[:0]
		for _, m := range moves[start:min(start+500, len(moves))] {
			changes = append(changes, journal.Change{PayoutID: m.id, To: m.to, Actor: "dispatcher", Reason: m.why, From: m.from})
		}
		err = d.applyEach(ctx, changes)
	}
	for why, n := range held {
		d.log.Warn("items held by a cap", "batch", b.ID, "cap", why, "items", n)
	}
	return out, held, err
}

// runPool feeds one provider's items to its workers: long-lived
// goroutines, each taking the next item once the pool's token bucket
// allows one more request.
func (d *Dispatcher) runPool(ctx context.Context, p providers.Provider, pl *pool, src source, done *atomic.Int64) error {
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan task)
	ans := &answers{j: d.j, log: d.log, ctx: context.WithoutCancel(ctx), stuck: d.noteStuck, gaveUp: src.skipped()}
	for range pl.workers() {
		g.Go(func() error {
			for t := range work {
				err := d.send(ctx, p, pl, t, ans)
				done.Add(1)
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	var ferr error
	// Workers take the next item as soon as they are free; each request
	// books its tokens before its intent and leaves when the window has
	// room, in its slot, so that the provider sees the pace the budget
	// grants (on the cluster's budget, the feeder takes them, below).
feed:
	for {
		if gctx.Err() != nil {
			break // stopping: the rest stays queued for the next run
		}
		// On the cluster's budget the feeder takes a claimed item's
		// tokens before it takes the item: an item is claimed into
		// sending only when its turn at the provider has come, so a
		// crash leaves in doubt the few whose requests were leaving, not
		// every item the workers hold.
		n := 0
		if pl.budget != nil {
			n = sendTokens(p)
			if err := pl.due(gctx, Urgent, n); err != nil {
				break
			}
		}
		t, ok, err := src.next(gctx)
		if err != nil {
			ferr = err
			break
		}
		if !ok {
			break
		}
		t.tokens = n
		select {
		case work <- t:
		case <-gctx.Done():
			if t.claimed != nil {
				_ = d.unsend(ctx, t.id, t.holder)
			}
			break feed
		}
	}
	src.release(ctx)
	close(work)
	err := g.Wait()
	if errors.Is(ferr, context.Canceled) && ctx.Err() != nil {
		ferr = nil
	}
	return errors.Join(ferr, err, ans.wait())
}

// send takes one queued item through sending to the provider's answer,
// retrying what the taxonomy calls retryable.
func (d *Dispatcher) send(ctx context.Context, p providers.Provider, pl *pool, t task, ans *answers) error {
	id := t.id
	for attempt := 1; ; attempt++ {
		// The intent is durable before the request leaves. The item
		// comes back from the same transaction (not queued any more: a
		// webhook or another run took it, and nothing is sent). A claimed
		// item is in sending already.
		// Its tokens are booked first: an item goes into sending only
		// when its turn at the provider has come. A stop is seen between
		// steps, never inside a commit: a commit cut short by the stop
		// may have landed without saying so, and would leave the item in
		// sending with nothing sent.
		claimed := attempt == 1 && t.claimed != nil
		n := sendTokens(p)
		if attempt == 1 && t.tokens > 0 {
			n = 0 // taken by the feeder (the cluster's budget)
		}
		if err := pl.book(ctx, n); err != nil {
			if claimed {
				return d.unsend(ctx, id, t.holder) // claimed, never sent: queued again
			}
			return nil // stopping: the item stays queued for the next run
		}
		var it journal.Item
		holder := t.holder
		if claimed {
			it = *t.claimed
		} else {
			holder = d.holder()
			if err := d.j.Apply(context.WithoutCancel(ctx), journal.Change{PayoutID: id, To: journal.Sending, Actor: "dispatcher", From: journal.Queued, Holder: holder,
				Update: func(x *journal.Item) { x.Sends++; it = *x }}); err != nil {
				pl.unbook(n)
				if errors.Is(err, journal.ErrConflict) {
					return nil
				}
				return err
			}
		}
		payout := it.Payout
		payout.Attempt = it.Attempt
		var st providers.Status
		var serr error
		var took time.Duration // the request's own time, not the wait for its slot
		lost := false
		err := pl.booked(ctx, n, func(pace func(context.Context) error) {
			// A node whose lease lapsed starts nothing: another node may
			// be taking its items over.
			if lost = !d.mayStart(holder); lost {
				return
			}
			// In-flight requests finish even when the run is stopping.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.RequestTimeout)
			rctx = providers.WithPacer(rctx, pace)
			start := time.Now()
			st, serr = p.Submit(rctx, payout)
			took = time.Since(start)
			cancel()
		})
		if lost {
			_ = d.unsend(ctx, id, holder)
			return errLeaseLost
		}
		if err != nil {
			// Stopped while waiting for a slot or a token: nothing left,
			// so the intent is withdrawn and the item waits for the next
			// run.
			return d.unsend(ctx, id, holder)
		}
		d.sent.Add(1)
		if d.o.Observe != nil {
			d.o.Observe(p.Name(), "submit", took, serr)
		}
		retry, err := d.record(ctx, p, pl, it, st, serr, ans, holder)
		if err != nil || !retry {
			return err
		}
		if attempt >= d.o.MaxAttempts {
			d.log.Warn("giving up for this run after retries; the item stays queued", "payout", id, "attempts", attempt)
			if ans.gaveUp != nil {
				ans.gaveUp.add(id)
			}
			return nil
		}
		wait := max(backoff(attempt, d.o.BackoffBase, d.o.BackoffMax), providers.RetryAfter(serr))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// sendTokens is how many requests one Submit makes at the provider, each
// a token of its budget: a two-phase provider's session is created, then
// started (its confirm takes its own token later).
func sendTokens(p providers.Provider) int {
	if one, ok := p.(interface{ InitPayout() bool }); ok && one.InitPayout() {
		return 1 // one session/init/payout call (Smart Glocal's default)
	}
	if providers.TwoPhase(p) {
		return 2
	}
	return 1
}

// unsend takes back an intent whose request never left (the run stopped
// while the item waited for a request slot).
func (d *Dispatcher) unsend(ctx context.Context, id, holder string) error {
	ctx = context.WithoutCancel(ctx)
	err := d.j.Apply(ctx, journal.Change{PayoutID: id, From: journal.Sending, To: journal.Queued, Actor: "dispatcher", Holder: holder,
		Reason: "the run stopped before the request left", Update: func(x *journal.Item) { x.Sends-- }})
	if errors.Is(err, journal.ErrConflict) {
		return nil
	}
	if err != nil {
		d.noteStuck(id, holder)
	}
	return err
}

// record commits the provider's answer to one send and says whether to
// retry (only when nothing was created at the provider). Every change is
// conditional on the item still being in sending: a webhook that arrived
// while the request was out may already have settled it, and then it is
// the truth.
func (d *Dispatcher) record(ctx context.Context, p providers.Provider, pl *pool, it journal.Item, st providers.Status, serr error, ans *answers, holder string) (bool, error) {
	// A request that left is recorded even when the run is stopping.
	ctx = context.WithoutCancel(ctx)
	retry, err := d.recordAnswer(ctx, p, pl, it, st, serr, ans, holder)
	if err != nil && !errors.Is(err, journal.ErrConflict) {
		d.noteStuck(it.PayoutID, holder)
	}
	if settledMeanwhile(d.log, it.PayoutID, err) {
		return false, nil
	}
	return retry, err
}

// settledMeanwhile reports whether err, from recording the answer to a
// send, is the ErrConflict of an item no longer sending: a webhook settled
// it while its request was out, and that is the truth, not an error. It
// logs so at debug level.
func settledMeanwhile(log *slog.Logger, payoutID string, err error) bool {
	if !errors.Is(err, journal.ErrConflict) {
		return false
	}
	log.Debug("settled by a webhook while its request was out", "payout", payoutID)
	return true
}

func (d *Dispatcher) recordAnswer(ctx context.Context, p providers.Provider, pl *pool, it journal.Item, st providers.Status, serr error, ans *answers, holder string) (bool, error) {
	id := it.PayoutID
	twoPhase := providers.TwoPhase(p)
	switch {
	case serr == nil:
		pl.success()
		to := journal.StateFor(st.Outcome)
		// The answer is the item's last status; the transition carries no
		// copy of it (journal.Change.Payload).
		c := journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: to, Actor: "dispatcher", Status: &st, Reason: reasonOf(st)}
		if to != journal.AwaitingConfirmation {
			ans.later(c)
			return false, nil
		}
		// The confirm rule reads the answer from the journal: commit it first.
		if err := d.j.Apply(ctx, c); err != nil {
			return false, err
		}
		return false, d.settle(context.WithoutCancel(ctx), p, pl, st, "dispatcher")
	case errors.Is(serr, providers.ErrRateLimited):
		pl.rateLimited(providers.RetryAfter(serr))
		return true, d.j.Apply(ctx, journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: journal.Queued, Actor: "dispatcher", Reason: serr.Error(), Update: freshSession(twoPhase)})
	case errors.Is(serr, providers.ErrUnavailable), errors.Is(serr, providers.ErrAuth):
		pl.failure()
		return errors.Is(serr, providers.ErrUnavailable), d.j.Apply(ctx, journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: journal.Queued, Actor: "dispatcher",
			Reason: serr.Error(), Update: freshSession(twoPhase)})
	case errors.Is(serr, providers.ErrDuplicate) && twoPhase:
		// A session under this key exists that payrun never journaled (its
		// answer was lost). It can never move money without our confirm,
		// which only the journaled session gets: start a fresh one.
		pl.success()
		return true, d.j.Apply(ctx, journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: journal.Queued, Actor: "dispatcher", Update: freshSession(true),
			Reason: "an earlier session exists but was never journaled; a fresh session replaces it (the old one is never confirmed)"})
	case errors.Is(serr, providers.ErrDuplicate):
		pl.success()
		// The provider already has this payout (an earlier request whose
		// answer was lost): it exists, so it is submitted; its outcome
		// arrives by webhook or status query.
		st.Outcome = providers.Processing
		ans.later(journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: journal.Submitted, Actor: "dispatcher", Status: &st,
			Reason: "already at the provider: " + serr.Error()})
		return false, nil
	case providers.IsInDoubt(serr):
		pl.failure()
		d.inDoubt.Add(1)
		// Keep whatever references the client learnt before the failure
		// (a Bank 131 session created before start/payout was lost).
		var stp *providers.Status
		if st.Refs.SessionID != "" || st.Refs.ProviderID != "" {
			st.Outcome = providers.Processing
			stp = &st
		}
		ans.later(journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: journal.InDoubt, Actor: "dispatcher", Status: stp, Reason: serr.Error()})
		return false, nil
	default:
		// Rejected, insufficient funds, unsupported: final for this payout.
		pl.success()
		st.Outcome = providers.Failed
		if st.Code == "" {
			st.Code = providers.Code(serr)
		}
		if st.Message == "" {
			st.Message = serr.Error()
		}
		ans.later(journal.Change{PayoutID: id, From: journal.Sending, Holder: holder, To: journal.Failed, Actor: "dispatcher", Status: &st, Reason: serr.Error()})
		return false, nil
	}
}

// answers are the final answers of one runPool being committed while
// their workers went on to the next item.
type answers struct {
	j   journal.Journal
	log *slog.Logger
	// ctx outlives the run's: answers to requests that left are recorded
	// even when the run is stopping.
	ctx context.Context
	// stuck is told about an item whose answer was not recorded, and
	// gaveUp collects the items the run stopped retrying (claim.go).
	stuck  func(id, holder string)
	gaveUp *givenUp

	wg       sync.WaitGroup
	mu       sync.Mutex
	pending  []journal.Change
	flushers int
	err      error
}

// An answer is committed with the others that arrived while the commit
// before was on its way: one transaction (one synced commit) for many
// answers, at most answerGroup of them, by at most answerFlushers
// committers at once. Nothing waits for a group to fill: a lone answer
// is committed at once.
const (
	answerGroup    = 256
	answerFlushers = 4
)

// later commits a final answer while its worker goes on to the next item.
// Nothing waits on it but the end of the pool's run: the exactly-once rule
// needs the intent durable before the request leaves, not the answer
// durable before the next request. If the process dies first, the item is
// still sending, so in doubt at the next start, and resolved by asking the
// provider. A webhook that settled the item first wins (the change is
// conditional on sending). The first other error is the run's.
func (a *answers) later(c journal.Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, c)
	if a.flushers < answerFlushers {
		a.flushers++
		a.wg.Go(a.flush)
	}
}

// flush commits the pending answers, a group at a time, until none is
// left.
func (a *answers) flush() {
	for {
		a.mu.Lock()
		n := min(len(a.pending), answerGroup)
		if n == 0 {
			a.flushers--
			a.mu.Unlock()
			return
		}
		group := slices.Clone(a.pending[:n])
		a.pending = a.pending[n:]
		a.mu.Unlock()
		if len(group) > 1 && a.j.Apply(a.ctx, group...) == nil {
			continue
		}
		// One of the group was refused (most often settled by a webhook
		// meanwhile): each answer alone, as if it had come alone.
		for _, c := range group {
			a.record(c, a.j.Apply(a.ctx, c))
		}
	}
}

// record handles the outcome of committing one answer.
func (a *answers) record(c journal.Change, err error) {
	if err == nil || settledMeanwhile(a.log, c.PayoutID, err) {
		return
	}
	a.log.Error("answer not recorded; the payout stays in sending and is resolved as in doubt", "payout", c.PayoutID, "err", err)
	if a.stuck != nil {
		a.stuck(c.PayoutID, c.Holder)
	}
	a.mu.Lock()
	if a.err == nil {
		a.err = fmt.Errorf("recording the answer for %s: %w", c.PayoutID, err)
	}
	a.mu.Unlock()
}

// wait waits for the answers being committed and returns the first error
// among them.
func (a *answers) wait() error {
	a.wg.Wait()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// freshSession, for a two-phase provider, makes the next submission use a
// new idempotency key (Attempt+1): a session left behind by a failed try
// can never be confirmed, so a fresh one is always safe, and reusing the key
// would only be refused as a duplicate.
func freshSession(twoPhase bool) func(*journal.Item) {
	if !twoPhase {
		return nil
	}
	return func(it *journal.Item) { it.Attempt++ }
}

func reasonOf(st providers.Status) string {
	if st.Code != "" {
		return st.Code + ": " + st.Message
	}
	return st.Message
}

// capState accumulates what was sent against each cap.
type capState struct {
	d     *Dispatcher
	count map[int]int
	amt   map[int]map[string]int64
}

func (c *capState) add(it journal.Item) {
	for i, cp := range c.d.o.Caps {
		if cp.Provider != "" && cp.Provider != it.Provider {
			continue
		}
		c.count[i]++
		if c.amt[i] == nil {
			c.amt[i] = map[string]int64{}
		}
		c.amt[i][it.Payout.Amount.Currency] += it.Payout.Amount.Minor
	}
}

// capUsage counts what is already committed against the caps: items sent
// today (day caps, in the configured zone) and this batch's items already
// queued or beyond (batch caps).
func (d *Dispatcher) capUsage(ctx context.Context, batchID string) (*capState, error) {
	cs := &capState{d: d, count: map[int]int{}, amt: map[int]map[string]int64{}}
	if len(d.o.Caps) == 0 {
		return cs, nil
	}
	now := d.j.Now().In(d.o.Location)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, d.o.Location)
	err := d.j.AllItems(ctx, func(it journal.Item) bool {
		if it.State.NeverSent() && it.State != journal.Queued {
			return true
		}
		for i, cp := range d.o.Caps {
			if cp.Provider != "" && cp.Provider != it.Provider {
				continue
			}
			counts := (cp.Scope == "batch" && it.BatchID == batchID) ||
				(cp.Scope != "batch" && (it.State == journal.Queued || !it.SentAt.Before(today)))
			if !counts {
				continue
			}
			cs.count[i]++
			if cs.amt[i] == nil {
				cs.amt[i] = map[string]int64{}
			}
			cs.amt[i][it.Payout.Amount.Currency] += it.Payout.Amount.Minor
		}
		return true
	})
	return cs, err
}

// overCap returns why an item would exceed a cap, or "".
func (d *Dispatcher) overCap(cs *capState, it journal.Item) string {
	for i, cp := range d.o.Caps {
		if cp.Provider != "" && cp.Provider != it.Provider {
			continue
		}
		who := cp.Provider
		if who == "" {
			who = "all providers"
		}
		if cp.MaxCount > 0 && cs.count[i]+1 > cp.MaxCount {
			return fmt.Sprintf("%s cap of %d payouts per %s reached", who, cp.MaxCount, cp.Scope)
		}
		cur := it.Payout.Amount.Currency
		if lim, ok := cp.MaxAmount[cur]; ok && cs.amt[i][cur]+it.Payout.Amount.Minor > lim {
			return fmt.Sprintf("%s cap of %s per %s reached", who, money.Money{Minor: lim, Currency: cur}, cp.Scope)
		}
	}
	return ""
}

// Wait blocks until the provider's pool has a request to spare, so that
// the poller shares the provider's rate limit without slowing a send or
// a confirm: a poll takes a token only when none of theirs waits for it.
// The query is sent with the context it returns, whose pacer places it in
// the provider's sliding window when it leaves.
func (d *Dispatcher) Wait(ctx context.Context, provider string) (context.Context, error) {
	return d.waitFor(ctx, provider, Spare)
}

// WaitUrgent blocks until the provider's pool grants an urgent token:
// for a request that is part of a payout sent outside the dispatcher's
// own paths (the poller's confirm sent again when the first one's answer
// was lost), which goes before polls. The request is sent with the
// context it returns, whose pacer places it in the provider's sliding
// window when it leaves.
func (d *Dispatcher) WaitUrgent(ctx context.Context, provider string) (context.Context, error) {
	return d.waitFor(ctx, provider, Urgent)
}

// waitFor is Wait at prio: a token of the provider's pool, and ctx with
// its pacer (ctx itself for a provider without a pool).
func (d *Dispatcher) waitFor(ctx context.Context, provider string, prio Priority) (context.Context, error) {
	if pl, ok := d.pools[provider]; ok {
		return pl.wait(ctx, prio, 1)
	}
	return ctx, nil
}

// urgent is the settle rule's before for provider: WaitUrgent before
// each request.
func (d *Dispatcher) urgent(provider string) func(context.Context) (context.Context, error) {
	return func(ctx context.Context) (context.Context, error) { return d.WaitUrgent(ctx, provider) }
}

// settle runs the confirm rule (Settle) in one of the pool's request
// slots, each request to the provider behind an urgent token: a confirm is
// part of its payout, as its send is.
func (d *Dispatcher) settle(ctx context.Context, p providers.Provider, pl *pool, st providers.Status, actor string) error {
	var err error
	rerr := pl.request(ctx, Urgent, 0, func() {
		err = settle(ctx, d.j, p, st, actor, d.urgent(p.Name()))
	})
	return errors.Join(rerr, err)
}

// Settle is the package's Settle through the provider's pool: a request
// slot, and an urgent token before each request, so that a confirm shares
// the provider's limit with sends and goes before polls. The poller's
// confirm rule comes this way.
func (d *Dispatcher) Settle(ctx context.Context, p providers.Provider, st providers.Status, actor string) error {
	pl, ok := d.pools[p.Name()]
	if !ok {
		return Settle(ctx, d.j, p, st, actor)
	}
	return d.settle(ctx, p, pl, st, actor)
}

// SettleLater starts Settle on its own goroutine and returns at once: the
// webhook receiver's Applier applies events one after another, and a
// confirm waiting for its token and its answer there would hold up every
// event behind it (a two-phase provider's payouts would go no faster than
// one confirm at a time). If the confirm fails, or the process stops
// first, the payout is still waiting for its confirmation and the poller
// settles it. Errors are logged.
func (d *Dispatcher) SettleLater(ctx context.Context, p providers.Provider, st providers.Status, actor string) error {
	ctx = context.WithoutCancel(ctx)
	d.settling.Go(func() {
		if err := d.Settle(ctx, p, st, actor); err != nil {
			d.log.Warn("confirm rule not finished; the poller settles the payout", "payout", st.Refs.PayoutID, "err", err)
		}
	})
	return nil
}

// WaitSettled waits for the confirms SettleLater started.
func (d *Dispatcher) WaitSettled() { d.settling.Wait() }

// Observe sets the hook told about every provider call (metrics). Call it
// before Run.
func (d *Dispatcher) Observe(f func(provider, op string, d time.Duration, err error)) {
	d.o.Observe = f
}

// errHeldMeanwhile: an operator held a batch while Run was queueing it.
var errHeldMeanwhile = errors.New("batch held meanwhile")

package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/internal/service"
	"github.com/payrun/payrun/internal/testsignal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// NoteNoProvider is kept on an event whose provider is no longer
// configured when it comes to be applied.
const NoteNoProvider = "provider not configured: not applied"

// applyGroup bounds the events one ApplyQueued transaction applies. The
// journal's writer lock is held for the whole transaction, so the group
// commit of the deliveries still arriving waits for it: a few
// milliseconds at most.
const applyGroup = 256

// Once kicked, Run applies when deliveries pause for applyQuiet, or
// applyMaxLag after the kick if they keep coming.
const (
	applyQuiet  = 20 * time.Millisecond
	applyMaxLag = time.Second
)

// retryEvery is how often an Applier looks at its queue without being
// kicked: the retry of an event that failed to apply (a journal error, a
// provider that did not answer the confirm rule).
const retryEvery = 5 * time.Second

// Applier applies the events the receiver persisted, in the order they
// came, by the ordering rules: many events to one journal transaction
// (batch.Journal.ApplyQueued), and one by one, outside any transaction, an
// event that calls the provider (the two-phase confirm rule).
//
// Acknowledging a notification needs only its raw event persisted; the
// applier makes it count. A crash between the two leaves the event queued
// in the journal, and the next Applier on that journal applies it: Run
// starts by draining the queue. Use one Applier per journal.
type Applier struct {
	j     journal.Journal
	provs map[string]providers.Provider
	log   *slog.Logger
	// kick wakes Run; kicks counts every Kick, so that Run, once woken,
	// can tell whether deliveries keep coming without being woken by each.
	kick  chan struct{}
	kicks atomic.Uint64
	// mu makes one drain at a time: an event left for later is settled
	// once.
	mu sync.Mutex
	// reports are the log lines of the transaction in progress, written
	// once it commits.
	reports []report
	loop    service.Loop
	// settler runs the confirm rule (nil: dispatch.Settle); the receiver
	// sets it from ReceiverOptions.Settle. When it is set, it returns at
	// once (the dispatcher's SettleLater), so the confirm rules an
	// ApplyQueued transaction calls for are started once it commits
	// (pending), instead of ending the transaction at each of them.
	settler Settler
	pending []pendingSettle
	// drained is signalled after each drain, for tests.
	drained testsignal.Signal[struct{}]
}

// report is an event an operator hears about: one kept for a payout payrun
// never sent, or a status conflict.
type report struct {
	provider, payout, providerID, note string
	conflict                           bool
}

// reportOf returns what the operator hears of an event's result; ok is
// false for an event applied, or kept for any other reason.
func reportOf(provider string, ev providers.Event, res applyResult) (r report, ok bool) {
	if !res.conflict && res.note != NoteUnexpected {
		return report{}, false
	}
	payout := res.payout
	if payout == "" {
		payout = ev.Status.Refs.PayoutID
	}
	return report{provider: provider, payout: payout, providerID: ev.Status.Refs.ProviderID, note: res.note,
		conflict: res.conflict}, true
}

// NewApplier returns an Applier over the journal and the configured
// providers. log may be nil.
func NewApplier(j journal.Journal, provs map[string]providers.Provider, log *slog.Logger) *Applier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{j: j, provs: provs, log: log, kick: make(chan struct{}, 1)}
}

// Kick tells Run that events were queued; it never blocks, and wakes Run
// only when Run is waiting for a kick.
func (a *Applier) Kick() {
	a.kicks.Add(1)
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Start starts applying: the queue at once (what a crash left), then
// whenever kicked, and every few seconds to retry what failed, until ctx
// is cancelled or Stop.
func (a *Applier) Start(ctx context.Context) error { return a.loop.Run(ctx, a.run) }

// Stop stops applying after the transaction in progress.
func (a *Applier) Stop() { a.loop.Halt() }

func (a *Applier) run(ctx context.Context) {
	t := time.NewTicker(retryEvery)
	defer t.Stop()
	for {
		if err := a.Drain(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("webhook events persisted, not applied yet; retrying", "err", err)
		}
		a.drained.Signal(struct{}{})
		select {
		case <-ctx.Done():
			return
		case <-a.kick:
			a.quiet(ctx)
		case <-t.C:
		}
	}
}

// errPending is an event that cannot be judged yet (a two-phase session
// whose payout's answer is not journaled yet): Drain waits pendingRetry
// and judges it again, the events behind it waiting their turn.
var errPending = errors.New("an event waits for its payout's answer to be journaled")

// pendingRetry is how soon an event that could not be judged yet is
// judged again: about the time a request's answer takes to be journaled.
const pendingRetry = 100 * time.Millisecond

// quiet returns once no kick came for applyQuiet, or applyMaxLag after it
// was called: the acknowledgements of a storm go first, and what they
// queued is applied in large transactions. It looks at the kicks once a
// pause rather than being woken by each (one wake-up per delivery was a
// few percent of a delivery's CPU in a storm).
func (a *Applier) quiet(ctx context.Context) {
	deadline := time.Now().Add(applyMaxLag)
	seen := a.kicks.Load()
	t := time.NewTimer(applyQuiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, left := a.kicks.Load(), time.Until(deadline)
		if now == seen || left <= 0 {
			break
		}
		seen = now
		t.Reset(min(applyQuiet, left))
	}
	// The kicks that came meanwhile are for the drain that follows: every
	// event they announced was persisted before it.
	select {
	case <-a.kick:
	default:
	}
}

// Drain applies every event queued when it is called (and any queued
// meanwhile) and returns once the queue is empty, at the first error (the
// event that failed stays queued, first), or when ctx ends, after the
// transaction in progress (what is left stays queued).
func (a *Applier) Drain(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		a.reports, a.pending = a.reports[:0], a.pending[:0]
		n, later, err := a.j.ApplyQueued(ctx, applyGroup, a.judge)
		if err != nil {
			return err
		}
		// The events are applied: their confirm rules start now. If this
		// process stops first, the payouts still wait for their confirms
		// in the journal, and the poller settles them.
		for _, s := range a.pending {
			a.startSettle(ctx, s)
		}
		for _, r := range a.reports {
			a.report(r)
		}
		if later != nil {
			err := a.settle(ctx, *later)
			if errors.Is(err, errPending) {
				t := time.NewTimer(pendingRetry)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
				continue
			}
			if err != nil {
				return err
			}
			continue
		}
		if n == 0 {
			return nil
		}
	}
}

// judge applies one queued event inside ApplyQueued's transaction, or
// leaves it for settle.
func (a *Applier) judge(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
	p, ok := a.provs[f.Provider]
	if !ok {
		return journal.Judged{Note: NoteNoProvider}, nil
	}
	ev := eventOf(f)
	res, err := decide(tx, p, ev)
	if err != nil {
		return journal.Judged{}, err
	}
	if res.settle != nil && a.settler != nil {
		a.pending = append(a.pending, pendingSettle{p: p, st: res.settle.st, orphan: res.settle.orphan})
		if res.settle.orphan != "" {
			return journal.Judged{Note: res.note}, nil
		}
		return journal.Judged{Applied: true}, nil
	}
	if res.settle != nil {
		return journal.Judged{Later: true}, nil
	}
	if r, ok := reportOf(f.Provider, ev, res); ok {
		a.reports = append(a.reports, r)
	}
	return journal.Judged{Applied: res.applied, Note: res.note}, nil
}

// pendingSettle is a confirm rule an applied event calls for.
type pendingSettle struct {
	p      providers.Provider
	st     providers.Status
	orphan string
}

// startSettle hands a confirm rule to the settler.
func (a *Applier) startSettle(ctx context.Context, s pendingSettle) {
	if err := a.settler(context.WithoutCancel(ctx), s.p, s.st, "webhook"); err != nil {
		a.log.Warn("confirm rule not started; the poller settles the payout", "payout", s.st.Refs.PayoutID, "orphan", s.orphan, "err", err)
	}
}

// settle applies an event that calls the provider, outside any
// transaction, and records it. The provider call must finish even if ctx
// ends: the confirm rule is not left half done.
func (a *Applier) settle(ctx context.Context, f journal.EventFact) error {
	p, ok := a.provs[f.Provider]
	if !ok {
		return a.j.MarkEventFact(context.WithoutCancel(ctx), false, NoteNoProvider, f)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ev := eventOf(f)
	res, err := decide(journal.Direct(ctx, a.j), p, ev)
	if err != nil {
		return err
	}
	if res.settle != nil {
		res = settleNow(context.WithoutCancel(ctx), a.j, p, res, "webhook", a.log, a.settler)
	}
	if res.pending {
		return errPending // left queued, first, and judged again shortly
	}
	if r, ok := reportOf(f.Provider, ev, res); ok {
		a.report(r)
	}
	return a.j.MarkEventFact(context.WithoutCancel(ctx), res.applied, res.note, f)
}

func eventOf(f journal.EventFact) providers.Event {
	return providers.Event{ID: f.EventID, Status: f.Status, DuplicateNotice: f.DuplicateNotice}
}

// decide applies one event to its item through s by the ordering rules,
// or leaves the confirm rule to run (res.settle) having written nothing.
func decide(s journal.EventTx, p providers.Provider, ev providers.Event) (applyResult, error) {
	st := ev.Status
	if ev.DuplicateNotice {
		return applyResult{note: NoteDuplicateNotice}, nil
	}
	if st.Refs.PayoutID == "" && st.Refs.ProviderID == "" && st.Refs.SessionID == "" {
		return applyResult{note: NoteNoPayout}, nil
	}
	it, ok, err := findItem(s, p.Name(), st.Refs)
	if err != nil {
		return applyResult{}, err
	}
	if !ok {
		return applyResult{note: NoteUnexpected}, nil
	}
	if other := otherPayout(it, st.Refs); other != "" {
		res := applyResult{note: NoteOtherPayout + " " + other + ": " + string(st.Outcome)}
		if _, isTwoPhase := p.(providers.Confirmer); isTwoPhase && st.Outcome == providers.AwaitingConfirmation {
			// An orphan session: the confirm rule cancels it.
			res.settle = &settlement{st: st, orphan: other}
		}
		return res, nil
	}
	return judgeStatus(s, p, it, st, "webhook")
}

// report tells the operator's log about an event kept for an unexpected
// payout or recorded as a status conflict.
func (a *Applier) report(r report) {
	if r.conflict {
		a.log.Warn("status conflict", "provider", r.provider, "payout", r.payout, "note", r.note)
		return
	}
	a.log.Warn("webhook for a payout payrun never sent", "provider", r.provider, "payout", r.payout,
		"provider_id", r.providerID)
}

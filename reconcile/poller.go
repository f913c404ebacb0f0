package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"golang.org/x/sync/errgroup"
)

// PollOptions configure a Poller.
type PollOptions struct {
	// After is how long after its last update an item is first asked about
	// (default 2 min); Interval the first wait between queries, doubling
	// per query up to Max (defaults 1 min and 1 h). A negative After asks
	// at once.
	After, Interval, Max time.Duration
	// Concurrency caps queries in flight (default 8).
	Concurrency int
	// RequestTimeout bounds one query (default 30 s).
	RequestTimeout time.Duration
	// Wait, when set, is called before every query to a provider: the
	// dispatcher's rate limiter, so that polling and sending share one
	// budget per provider. The query is sent with the context it returns
	// (which may carry the budget's pacer, providers.Pace).
	Wait func(ctx context.Context, provider string) (context.Context, error)
	// Urgent, when set, is called before a confirm the poller sends again
	// (its first answer was lost): the dispatcher's urgent token, as the
	// payout's own requests take, so that no request to a provider leaves
	// outside its budget. The confirm is sent with the context it returns.
	Urgent func(ctx context.Context, provider string) (context.Context, error)
	// ResolveInDoubt, when set, settles in-doubt items (the dispatcher's
	// Dispatcher.ResolveInDoubt, which may resend safely). Without it the
	// poller only asks about them and applies what the provider knows.
	ResolveInDoubt func(ctx context.Context) error
	// Settle, when set, runs the confirm rule for an answer that says a
	// payout waits for confirmation (the dispatcher's Settle, within the
	// provider's budget); nil is dispatch.Settle.
	Settle Settler
	// LinkDeadline bounds how long a payout waits for its beneficiary (a
	// card push or a payment link) after it was sent: past it, the
	// provider is asked once more where it can be, and the payout expires
	// unless the provider says otherwise. 0: the provider's documented
	// link lifetime plus LinkGrace for its last notification, or a day
	// when the provider states none.
	LinkDeadline time.Duration
	// RecheckEvery is how often Recheck asks again about a payout paid at
	// a provider that refunds without a notification (default
	// RecheckEvery), and RecheckWindow for how long after its success
	// (default RecheckWindow).
	RecheckEvery, RecheckWindow time.Duration

	Now func() time.Time
	Log *slog.Logger
}

// PollStats is what one pass did.
type PollStats struct {
	Open        int `json:"open"`        // items not final that the poller follows
	Due         int `json:"due"`         // of those, due for a query in this pass
	Queried     int `json:"queried"`     // queries answered
	Changed     int `json:"changed"`     // items whose state changed
	Final       int `json:"final"`       // items that reached a final state in this pass
	Unsupported int `json:"unsupported"` // no way to ask (Monnet without its Id): wait for the webhook
	NotFound    int `json:"not_found"`   // the provider does not know the payout
	Conflicts   int `json:"conflicts"`   // a query disagreed with a final state
	Errors      int `json:"errors"`      // queries that failed (asked again later)
	InDoubt     int `json:"in_doubt"`    // in-doubt items handed to the resolver
	// Rechecked counts paid payouts asked about again (Recheck) and
	// Reversed those the answer showed refunded.
	Rechecked int `json:"rechecked,omitempty"`
	Reversed  int `json:"reversed,omitempty"`
}

// Poller asks providers about items that are not final, until they are:
// the path that closes every payout when webhooks never come.
type Poller struct {
	j     journal.Journal
	provs map[string]providers.Provider
	o     PollOptions
	log   *slog.Logger
}

// NewPoller returns a Poller over the journal and the configured providers.
func NewPoller(j journal.Journal, provs map[string]providers.Provider, o PollOptions) *Poller {
	if o.After < 0 {
		o.After = 0
	} else if o.After == 0 {
		o.After = 2 * time.Minute
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Max <= 0 {
		o.Max = time.Hour
	}
	if o.Max < o.Interval {
		o.Max = o.Interval
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.RecheckEvery <= 0 {
		o.RecheckEvery = RecheckEvery
	}
	if o.RecheckWindow <= 0 {
		o.RecheckWindow = RecheckWindow
	}
	if o.Now == nil {
		o.Now = j.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{j: j, provs: provs, o: o, log: log}
}

// polled reports whether the poller follows items in this state.
func polled(s journal.State) bool {
	switch s {
	case journal.Submitted, journal.InDoubt, journal.AwaitingConfirmation, journal.Confirming, journal.AwaitingBeneficiary:
		return true
	}
	return false
}

// LinkGrace is what the default link deadline adds to a link's lifetime:
// time for the provider's last notification about it to arrive.
const LinkGrace = 30 * time.Minute

// due returns when an item should be asked about next: at its next poll,
// but never sooner than After since it last changed (a webhook's news
// included: a payout whose notification came is not asked about what it
// just said), or at its link deadline when that comes first.
func (pl *Poller) due(it journal.Item) time.Time {
	next := it.Updated.Add(pl.o.After)
	if it.NextPoll.After(next) {
		next = it.NextPoll
	}
	if dl := pl.linkDeadline(it); !dl.IsZero() && dl.Before(next) {
		return dl
	}
	return next
}

// linkDeadline is when a payout waiting for its beneficiary expires (zero
// for a payout that waits for no one).
//
// Card push payouts and payment links have a deadline while they wait for
// their beneficiary or for the provider's first word (submitted). A
// payout of another method has one only while it waits for its
// beneficiary, and only at a provider that states a link lifetime for the
// method: a card collection (Bank 131, Smart Glocal), whose widget token
// lives that long. Once the beneficiary gave the card it is a payout like
// any other, which no deadline may expire.
func (pl *Poller) linkDeadline(it journal.Item) time.Time {
	m := it.Payout.Method
	var lifetime time.Duration
	if p, ok := pl.provs[it.Provider]; ok {
		lifetime = providers.LinkLifetime(p, m)
	}
	switch {
	case m == providers.CardPush || m == providers.PaymentLink:
		if it.State != journal.AwaitingBeneficiary && it.State != journal.Submitted {
			return time.Time{}
		}
	case it.State != journal.AwaitingBeneficiary || lifetime <= 0:
		return time.Time{}
	}
	d := pl.o.LinkDeadline
	if d <= 0 {
		d = 24 * time.Hour
		if lifetime > 0 {
			d = lifetime + LinkGrace
		}
	}
	since := it.SentAt
	if since.IsZero() {
		since = it.Created
	}
	return since.Add(d)
}

// expireLate expires a payout still waiting for its beneficiary past its
// link deadline; the provider was asked first (or cannot be asked).
func (pl *Poller) expireLate(ctx context.Context, payoutID string) (bool, error) {
	it, err := pl.j.Item(ctx, payoutID)
	if err != nil {
		return false, err
	}
	dl := pl.linkDeadline(it)
	if dl.IsZero() || pl.o.Now().Before(dl) {
		return false, nil
	}
	err = pl.j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, From: it.State, To: journal.Expired, Actor: "poller",
		Reason: fmt.Sprintf("no beneficiary action by %s (the link's deadline); the provider was asked first where it can be",
			dl.UTC().Format(time.RFC3339))})
	if errors.Is(err, journal.ErrConflict) {
		return false, nil // the provider's answer moved it meanwhile
	}
	return err == nil, err
}

// backoff is the wait after the n-th query (n >= 1).
func (pl *Poller) backoff(n int) time.Duration {
	d := pl.o.Interval
	for i := 1; i < n && d < pl.o.Max; i++ {
		d *= 2
	}
	return min(d, pl.o.Max)
}

// RunOnce asks about every item that is due, once. A failed query is
// counted and asked again at its next time; the error is for the journal
// failing, or ctx.
func (pl *Poller) RunOnce(ctx context.Context) (PollStats, error) { return pl.pass(ctx, false) }

// Sweep asks at once about every item left waiting for a result or a
// confirmation, or in doubt, whenever it was due: what a process does when
// it starts, so that a restart costs seconds and not a poll interval.
// Payouts waiting for their beneficiary keep their times. Then it runs
// Recheck.
func (pl *Poller) Sweep(ctx context.Context) (PollStats, error) {
	st, err := pl.pass(ctx, true)
	if err != nil {
		return st, err
	}
	rc, err := pl.Recheck(ctx)
	st.Rechecked, st.Reversed = rc.Rechecked, rc.Reversed
	st.Errors += rc.Errors
	st.Conflicts += rc.Conflicts
	return st, err
}

// maxDue bounds the items one pass asks about (and holds): a pass after a
// night's dispatch may find hundreds of thousands due, and the next pass
// takes the rest.
const maxDue = 10_000

func (pl *Poller) pass(ctx context.Context, sweep bool) (PollStats, error) {
	var st PollStats
	now := pl.o.Now()
	var due []journal.Item
	inDoubt := 0
	err := pl.polledItems(ctx, func(it journal.Item) bool {
		st.Open++
		if _, ok := pl.provs[it.Provider]; !ok {
			return true
		}
		if now.Before(pl.due(it)) && !(sweep && it.State != journal.AwaitingBeneficiary) {
			return true
		}
		st.Due++
		if it.State == journal.InDoubt && pl.o.ResolveInDoubt != nil {
			inDoubt++
			return true
		}
		if len(due) < maxDue {
			due = append(due, it)
		}
		return true
	})
	if err != nil {
		return st, err
	}
	if inDoubt > 0 {
		st.InDoubt = inDoubt
		if err := pl.o.ResolveInDoubt(ctx); err != nil {
			pl.log.Warn("in-doubt resolution", "err", err)
			st.Errors++
		}
	}
	err = pl.each(ctx, due, pl.poll, &st)
	return st, err
}

// each runs ask for every item of due, Concurrency at a time, and adds
// what each found to st. It stops at the first journal failure, or when
// ctx is done.
func (pl *Poller) each(ctx context.Context, due []journal.Item, ask func(context.Context, journal.Item) (PollStats, error), st *PollStats) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pl.o.Concurrency)
	for _, it := range due {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			one, err := ask(gctx, it)
			mu.Lock()
			st.add(one)
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// polledItems calls fn for every open item in a state the poller follows.
// The open index says which those are without reading the items; while a
// batch is being sent most open items are queued, and only the few the
// poller follows are read. When most open items are followed, they are
// read in one scan.
func (pl *Poller) polledItems(ctx context.Context, fn func(journal.Item) bool) error {
	var ids []string
	open := 0
	if err := pl.j.OpenStates(ctx, func(id string, s journal.State) bool {
		open++
		if polled(s) {
			ids = append(ids, id)
		}
		return true
	}); err != nil {
		return err
	}
	if len(ids) > open/4 {
		ids = nil
		return pl.j.OpenItems(ctx, func(it journal.Item) bool {
			if !polled(it.State) {
				return true
			}
			return fn(it)
		})
	}
	for _, id := range ids {
		it, err := pl.j.Item(ctx, id)
		if errors.Is(err, journal.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if polled(it.State) && !fn(it) {
			return nil
		}
	}
	return nil
}

func (s *PollStats) add(o PollStats) {
	s.Queried += o.Queried
	s.Changed += o.Changed
	s.Final += o.Final
	s.Unsupported += o.Unsupported
	s.NotFound += o.NotFound
	s.Conflicts += o.Conflicts
	s.Errors += o.Errors
	s.Rechecked += o.Rechecked
	s.Reversed += o.Reversed
}

// lookup asks the provider about refs once its rate limit has a request
// to spare (Wait), within RequestTimeout. stopping: the wait ended because
// the poller is stopping, and nothing was asked.
func (pl *Poller) lookup(ctx context.Context, p providers.Provider, name string, refs providers.Refs) (st providers.Status, stopping bool, err error) {
	qctx := ctx
	if pl.o.Wait != nil {
		if qctx, err = pl.o.Wait(ctx, name); err != nil {
			return st, true, nil
		}
	}
	rctx, cancel := context.WithTimeout(qctx, pl.o.RequestTimeout)
	defer cancel()
	st, err = p.Lookup(rctx, refs)
	return st, false, err
}

// poll asks about one item and applies the answer. Only journal failures
// are returned.
func (pl *Poller) poll(ctx context.Context, it journal.Item) (PollStats, error) {
	var st PollStats
	p := pl.provs[it.Provider]
	refs := it.LookupRefs()
	var got providers.Status
	var err error
	if providers.CanLookup(p, refs) {
		var stopping bool
		if got, stopping, err = pl.lookup(ctx, p, it.Provider, refs); stopping {
			return st, nil
		}
	} else {
		// A payout the provider cannot be asked about takes no request
		// slot.
		err = providers.ErrUnsupported
	}
	schedule := func(note func(*journal.Item)) error {
		next := pl.o.Now().Add(pl.backoff(it.Polls + 1))
		return pl.j.Update(ctx, it.PayoutID, func(x *journal.Item) {
			x.Polls++
			x.NextPoll = next
			if note != nil {
				note(x)
			}
		})
	}
	switch {
	case err == nil:
	case errors.Is(err, providers.ErrUnsupported):
		// Monnet answers only by its own Id: without it, the webhook (or
		// the dispatcher's resend after a crash) must tell, or the link's
		// deadline ends the wait.
		st.Unsupported++
		if expired, err := pl.expireLate(ctx, it.PayoutID); err != nil || expired {
			if expired {
				st.Changed++
				st.Final++
			}
			return st, err
		}
		pl.log.Info("cannot ask the provider about this payout; waiting for its notification",
			"payout", it.PayoutID, "provider", it.Provider, "err", err)
		return st, schedule(nil)
	case errors.Is(err, providers.ErrNotFound):
		st.NotFound++
		pl.log.Warn("the provider does not know a payout payrun sent", "payout", it.PayoutID, "provider", it.Provider)
		return st, schedule(func(x *journal.Item) {
			if x.State == it.State {
				x.Last.RawStatus = NotFoundAtProvider
				x.Last.Code, x.Last.Message = "", "not found at the provider ("+it.Provider+")"
			}
		})
	default:
		if ctx.Err() != nil {
			return st, nil
		}
		st.Errors++
		pl.log.Warn("status query failed; asking again later", "payout", it.PayoutID, "provider", it.Provider, "err", err)
		return st, schedule(nil)
	}
	st.Queried++
	if got.Refs.PayoutID == "" {
		got.Refs.PayoutID = it.PayoutID
	}
	res, err := pl.settle(ctx, p, it, got)
	if err != nil {
		return st, err
	}
	if res.conflict {
		st.Conflicts++
	}
	if _, err := pl.expireLate(ctx, it.PayoutID); err != nil {
		return st, err
	}
	after, err := pl.j.Item(ctx, it.PayoutID)
	if err != nil {
		return st, err
	}
	if after.State != it.State {
		st.Changed++
	}
	if after.State.Final() {
		if !it.State.Final() {
			st.Final++
		}
		return st, nil
	}
	return st, schedule(nil)
}

// settle applies a query's answer. A confirm whose answer was lost
// (the item is confirming, the provider still waits) is sent again:
// confirm is idempotent and the confirm rule already passed.
func (pl *Poller) settle(ctx context.Context, p providers.Provider, it journal.Item, got providers.Status) (applyResult, error) {
	if it.State == journal.Confirming && got.Outcome == providers.AwaitingConfirmation {
		c, ok := p.(providers.Confirmer)
		if !ok {
			return applyResult{}, nil
		}
		cctx := ctx
		if pl.o.Urgent != nil {
			var err error
			if cctx, err = pl.o.Urgent(ctx, it.Provider); err != nil {
				return applyResult{}, nil // stopping: confirming stays journaled
			}
		}
		rctx, cancel := context.WithTimeout(cctx, pl.o.RequestTimeout)
		conf, err := c.Confirm(rctx, got.Refs)
		cancel()
		if err != nil {
			pl.log.Warn("confirm not answered; asking again later", "payout", it.PayoutID, "err", err)
			return applyResult{}, nil
		}
		if conf.Outcome == providers.AwaitingConfirmation {
			conf.Outcome = providers.Processing
		}
		got = conf
	}
	return applyStatus(ctx, pl.j, p, it, got, "poller", pl.o.Settle)
}

// Re-checks of payouts paid at a provider whose refunds come without a
// notification (providers.Capabilities.SilentReversals: Smart Glocal).
const (
	// RecheckEvery is how often such a payout is asked about again: the
	// first time a day after its success, then once a day.
	RecheckEvery = 24 * time.Hour
	// RecheckWindow is for how long after its success: a refund later
	// than that is found only by the provider's statements.
	RecheckWindow = 30 * 24 * time.Hour
	// RecheckScanGap bounds how often Recheck reads every item of the
	// journal to find the payouts due (the daemon's poll runs every few
	// minutes; no index holds final items by provider).
	RecheckScanGap = time.Hour
	// recheckMark holds when the last complete scan started.
	recheckMark = "recheck:scan"
)

// Recheck asks again about payouts paid (succeeded, or paid with another
// amount) at a provider that may refund them later without a notification,
// and moves those it finds refunded to reversed. It is the slow path of
// the scheduled passes (the daemon's poll and start-up sweep, `payrun
// reconcile`), never of a pass that follows a batch being sent: each such
// payout is asked once per RecheckEvery, from a RecheckEvery after its
// success until RecheckWindow after it. Its success's time is the item's
// Updated (the last news recorded about it: a re-check that finds it
// still paid records only the time of its next check, in NextPoll, which
// leaves Updated as it was). Each query takes the provider's spare
// capacity (PollOptions.Wait), as every poll does. The journal is read
// whole at most once per RecheckScanGap (a journal mark); a pass that
// finds more than it may ask about leaves the rest to the next pass.
func (pl *Poller) Recheck(ctx context.Context) (PollStats, error) {
	var st PollStats
	silent := false
	for _, p := range pl.provs {
		silent = silent || p.Capabilities().SilentReversals
	}
	if !silent {
		return st, nil
	}
	now := pl.o.Now()
	if v, ok, err := pl.j.Mark(ctx, recheckMark); err != nil {
		return st, err
	} else if ok {
		if last, err := time.Parse(time.RFC3339Nano, v); err == nil && !now.Before(last) && now.Before(last.Add(RecheckScanGap)) {
			return st, nil
		}
	}
	var due []journal.Item
	whole := true
	err := pl.j.AllItems(ctx, func(it journal.Item) bool {
		if !pl.recheckDue(it, now) {
			return true
		}
		if len(due) == maxDue {
			whole = false
			return false
		}
		due = append(due, it)
		return true
	})
	if err != nil {
		return st, err
	}
	st.Due = len(due)
	err = pl.each(ctx, due, pl.recheck, &st)
	if err == nil && whole {
		err = pl.j.SetMark(ctx, recheckMark, now.UTC().Format(time.RFC3339Nano))
	}
	return st, err
}

// recheckDue reports whether Recheck asks about it at now.
func (pl *Poller) recheckDue(it journal.Item, now time.Time) bool {
	if it.State != journal.Succeeded && it.State != journal.Mismatch {
		return false
	}
	p, ok := pl.provs[it.Provider]
	if !ok || !p.Capabilities().SilentReversals || !providers.CanLookup(p, it.LookupRefs()) {
		return false
	}
	if !now.Before(it.Updated.Add(pl.o.RecheckWindow)) {
		return false
	}
	next := it.Updated.Add(pl.o.RecheckEvery)
	if it.NextPoll.After(next) {
		next = it.NextPoll
	}
	return !now.Before(next)
}

// recheck asks about one paid payout and applies a reversal; an answer
// that it is still paid changes nothing but the time of its next check.
// Only journal failures are returned.
func (pl *Poller) recheck(ctx context.Context, it journal.Item) (PollStats, error) {
	var st PollStats
	p := pl.provs[it.Provider]
	got, stopping, err := pl.lookup(ctx, p, it.Provider, it.LookupRefs())
	if stopping {
		return st, nil
	}
	checked := pl.o.Now()
	later := func() error {
		return pl.j.Update(ctx, it.PayoutID, func(x *journal.Item) {
			if x.State == it.State {
				x.Polls++
				x.NextPoll = checked.Add(pl.o.RecheckEvery)
			}
		})
	}
	if err != nil {
		if ctx.Err() != nil {
			return st, nil
		}
		st.Errors++
		if errors.Is(err, providers.ErrNotFound) {
			st.NotFound++
		}
		pl.log.Warn("re-check of a paid payout failed; asking again at its next check", "payout", it.PayoutID,
			"provider", it.Provider, "err", err)
		return st, later()
	}
	st.Queried++
	st.Rechecked++
	if got.Outcome == providers.Succeeded {
		// Still paid. Applying the same status again would move Updated,
		// the start of the window, for ever.
		return st, later()
	}
	if got.Refs.PayoutID == "" {
		got.Refs.PayoutID = it.PayoutID
	}
	if got.Outcome == providers.Reversed {
		why := fmt.Sprintf("reversed after success: the provider's status on %s shows it refunded; %s sends no notification of such refunds",
			checked.UTC().Format(time.DateOnly), it.Provider)
		if got.Message != "" {
			why += " (" + got.Message + ")"
		}
		got.Message = why
	}
	res, err := applyStatus(ctx, pl.j, p, it, got, "poller", pl.o.Settle)
	if err != nil {
		return st, err
	}
	if res.conflict {
		st.Conflicts++
	}
	after, err := pl.j.Item(ctx, it.PayoutID)
	if err != nil {
		return st, err
	}
	if after.State != it.State {
		st.Changed++
		if after.State == journal.Reversed {
			st.Reversed++
			pl.log.Warn("a paid payout was refunded by the provider without a notification", "payout", it.PayoutID,
				"provider", it.Provider, "reason", after.Reason)
		}
		return st, nil
	}
	return st, later()
}

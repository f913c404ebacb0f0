package dispatch

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"golang.org/x/sync/semaphore"
)

// PoolConfig is one provider's pool: how fast and how wide.
type PoolConfig struct {
	// RatePerSecond is the token-bucket rate (0: unlimited).
	RatePerSecond float64
	// Burst is the bucket size (default 1, or the rate rounded up / 10).
	Burst int
	// Concurrency caps requests in flight (default 8).
	Concurrency int
}

// Priority says who gets a provider's next request when several wait.
type Priority int

const (
	// Urgent is a payout's own requests: its send, its confirm, the
	// lookup that resolves it when in doubt. They queue for the bucket's
	// tokens in the order they ask.
	Urgent Priority = iota
	// Spare is a status poll: it takes a token only when no urgent request
	// is waiting for one, so polls use the capacity sends leave over and
	// never slow a send or a confirm.
	Spare
)

// windowSlack widens the sliding window a pool keeps its requests in: no
// window of one second plus this slack holds more grants than the rate, so
// that no second at the provider holds more requests than the rate even
// when a request reaches it a little after its token (a two-phase
// payout's start leaves when its session's answer comes; a goroutine wakes
// late on a busy machine). It costs 1/(1+slack) of the rate.
const windowSlack = 25 * time.Millisecond

// limiter is a provider's request budget: a token bucket (rate per second,
// burst) with two priorities, and a sliding window over the last rate
// requests that left, so that no second ever holds more requests than the
// rate allows (a bucket alone allows rate + burst in a second). Urgent
// callers reserve their tokens at once, in order, and wait until their
// time (the bucket may go into debt, as golang.org/x/time/rate's does),
// then for room in the window; a spare caller takes a token only when the
// bucket holds one that no reservation needs and the window has room.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens a second; 0 is unlimited
	burst  float64
	tokens float64
	last   time.Time
	// window holds the grant times of the last len(window) tokens, oldest
	// at next.
	window []time.Time
	next   int
	// busiest is the most requests that left within any one second, as
	// counted when each left: what the window let through.
	busiest int
	// left counts every request that left.
	left int
}

func newLimiter(rate float64, burst int) *limiter {
	l := &limiter{}
	l.setRate(rate, burst)
	l.tokens = l.burst
	return l
}

// setRate changes the rate (what the pool learns from 429s: pool.learn).
func (l *limiter) setRate(rate float64, burst int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.advance(time.Now()) // the tokens earned at the old rate
	}
	l.rate, l.burst = rate, float64(max(burst, 1))
	per := int(rate)
	if rate <= 0 || per < 1 {
		l.window, l.next = nil, 0
		return
	}
	if per != len(l.window) {
		// Keep the most recent grants that fit.
		old := l.ordered()
		w := make([]time.Time, per)
		copy(w[max(per-len(old), 0):], old[max(len(old)-per, 0):])
		l.window, l.next = w, 0
	}
}

// ordered returns the window's grants oldest first.
func (l *limiter) ordered() []time.Time {
	return append(append([]time.Time(nil), l.window[l.next:]...), l.window[:l.next]...)
}

// advance refills the bucket up to now.
func (l *limiter) advance(now time.Time) {
	if !l.last.IsZero() && now.After(l.last) && l.rate > 0 {
		l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	if now.After(l.last) {
		l.last = now
	}
}

// windowAt is the earliest time n more grants fit the window, from at.
func (l *limiter) windowAt(at time.Time, n int) time.Time {
	for i := range min(n, len(l.window)) {
		if o := l.window[(l.next+i)%len(l.window)]; !o.IsZero() {
			at = later(at, o.Add(time.Second+windowSlack))
		}
	}
	return at
}

// grant records n grants at at in the window.
func (l *limiter) grant(at time.Time, n int) {
	for range min(n, len(l.window)) {
		l.window[l.next] = at
		l.next = (l.next + 1) % len(l.window)
	}
	in := 0
	for _, t := range l.window {
		if !t.IsZero() && at.Sub(t) < time.Second && !t.After(at) {
			in++
		}
	}
	l.busiest = max(l.busiest, in)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// reserve takes n tokens for an urgent caller and returns when it may
// send: now, or when the bucket and the window allow.
func (l *limiter) reserve(now time.Time, n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return now
	}
	l.advance(now)
	at := now
	if l.tokens < float64(n) {
		at = now.Add(time.Duration((float64(n) - l.tokens) / l.rate * float64(time.Second)))
	}
	l.tokens -= float64(n)
	return at
}

// depart records n requests leaving at now if the window has room for
// them, and returns now; otherwise it records nothing and returns when it
// will have room. The window holds the times requests really left, not
// the times their tokens were due: on a busy machine a caller wakes late,
// and callers that wake together must not leave together.
func (l *limiter) depart(now time.Time, n int) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at := l.windowAt(now, n); at.After(now) {
		return at
	}
	l.grant(now, n)
	l.left += n
	return now
}

// cancel gives back n tokens an urgent caller reserved and will not use.
// The window keeps its grants: a little capacity lost when a run stops.
func (l *limiter) cancel(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokens = min(l.burst, l.tokens+float64(n))
}

// trySpare takes n tokens for a spare caller if the bucket holds them
// beyond every reservation and the window has room now; otherwise it
// returns how long to wait before asking again. The requests take their
// place in the window when they leave (depart).
func (l *limiter) trySpare(now time.Time, n int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate <= 0 {
		return true, 0
	}
	l.advance(now)
	wait := time.Duration(0)
	if l.tokens < float64(n) {
		wait = time.Duration((float64(n) - l.tokens) / l.rate * float64(time.Second))
	}
	if at := l.windowAt(now, n); at.After(now) {
		wait = max(wait, at.Sub(now))
	}
	if wait > 0 {
		return false, wait
	}
	l.tokens -= float64(n)
	return true, 0
}

// pool paces one provider's requests: a prioritised request budget
// (limiter) that slows down on 429 and recovers slowly, a pause honouring
// Retry-After, and a circuit breaker that stops sending after consecutive
// failures. On a shared journal the rate is the cluster's (budget): the
// tokens come from its bucket, which paces every node together and learns
// the provider's limit from its refusals, and the local limiter only
// orders this node's callers.
type pool struct {
	name    string
	cfg     PoolConfig
	limiter *limiter
	// slots caps the requests in flight at Concurrency. Journal commits
	// happen outside it, so a commit's fsync never holds a request slot.
	slots *semaphore.Weighted
	now   func() time.Time

	mu          sync.Mutex
	pausedUntil time.Time
	failures    int
	openUntil   time.Time
	probing     bool
	effective   float64
	// learned is what the pool learns of the provider's real limit from
	// its refusals, by the cluster bucket's rule (take), when the pool
	// has no cluster budget: the successes counted per second, the rate
	// set just below what the provider accepted, probes up again after a
	// quiet while. accepts are the successes not counted yet.
	learned  journal.Budget
	accepts  int
	reported time.Time
	breakerN int
	cooldown time.Duration
	stats    PoolStats

	// budget, when set, is the cluster's bucket the pool's tokens come
	// from instead of limiter, and share caps its requests in flight at
	// its node's part of the cluster's concurrency (budget.go, claim.go).
	budget *budget
	share  *share
	// urgent counts the urgent callers waiting for the cluster's tokens:
	// a spare caller waits while there are any. departed counts what
	// left, for BusiestSecond.
	urgent   atomic.Int64
	departed departures
}

// PoolStats are the counters a pool keeps for progress and metrics.
type PoolStats struct {
	RateLimited  int           `json:"rate_limited"`
	Retries      int           `json:"retries"`
	BreakerTrips int           `json:"breaker_trips"`
	Waited       time.Duration `json:"waited"`
	Rate         float64       `json:"rate"`
	// BusiestSecond is the most requests that left within one second
	// (sliding), as they left.
	BusiestSecond int `json:"busiest_second"`
	// Requests counts the requests that left through the budget: what a
	// provider should count, no more.
	Requests int `json:"requests"`
}

func newPool(name string, cfg PoolConfig, breakerN int, cooldown time.Duration, now func() time.Time) *pool {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.RatePerSecond > 0 && cfg.Burst <= 0 {
		cfg.Burst = max(1, int(cfg.RatePerSecond/10))
	}
	if breakerN <= 0 {
		breakerN = 10
	}
	if cooldown <= 0 {
		cooldown = 30 * time.Second
	}
	return &pool{name: name, cfg: cfg, limiter: newLimiter(cfg.RatePerSecond, cfg.Burst), slots: semaphore.NewWeighted(int64(cfg.Concurrency)),
		now: now, effective: cfg.RatePerSecond, breakerN: breakerN, cooldown: cooldown}
}

// wait blocks until the pool may send n requests: the breaker is closed
// (or this caller is the half-open probe), any Retry-After pause is over,
// and the budget grants n tokens at prio. It returns ctx carrying the
// pacer the client calls right before each request leaves
// (providers.Pace): each request takes its place in the sliding window
// then, after it was built and signed, so that the window holds the times
// requests really left and no second at the provider holds more than the
// rate.
func (p *pool) wait(ctx context.Context, prio Priority, n int) (context.Context, error) {
	if err := p.due(ctx, prio, n); err != nil {
		return ctx, err
	}
	if p.budget != nil {
		return ctx, nil
	}
	return providers.WithPacer(ctx, (&pacer{p: p}).pace), nil
}

// due is wait without the pacer: it returns once n tokens at prio are
// the caller's.
func (p *pool) due(ctx context.Context, prio Priority, n int) error {
	start := time.Now()
	defer func() {
		p.mu.Lock()
		p.stats.Waited += time.Since(start)
		p.mu.Unlock()
	}()
	for {
		if err := p.open(ctx); err != nil {
			return err
		}
		if err := p.take(ctx, prio, n); err != nil {
			return err
		}
		// A 429 that came while this caller waited for its turn pauses
		// it too: its token was granted at the rate before the refusal.
		p.mu.Lock()
		paused := p.now().Before(p.pausedUntil)
		p.mu.Unlock()
		if !paused {
			if p.budget != nil {
				p.departed.add(time.Now(), n)
			}
			return nil
		}
		if p.budget == nil {
			p.limiter.cancel(n)
		}
	}
}

// open waits until the breaker lets this caller through and no
// Retry-After pause is on.
func (p *pool) open(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := p.now()
		var until time.Time
		switch {
		case now.Before(p.pausedUntil):
			until = p.pausedUntil
		case now.Before(p.openUntil):
			until = p.openUntil
		case !p.openUntil.IsZero() && p.probing:
			until = now.Add(50 * time.Millisecond) // a probe is out; wait for its answer
		case !p.openUntil.IsZero():
			p.probing = true // half-open: this caller probes
		}
		p.mu.Unlock()
		if until.IsZero() {
			break
		}
		if err := sleepCtx(ctx, until.Sub(now)); err != nil {
			return err
		}
	}
	return nil
}

// take waits for n tokens of the budget at prio. The requests take their
// place in the sliding window when they leave (the pacer wait gives).
func (p *pool) take(ctx context.Context, prio Priority, n int) error {
	if p.budget != nil {
		return p.takeShared(ctx, prio, n)
	}
	if prio == Spare {
		for {
			ok, wait := p.limiter.trySpare(time.Now(), n)
			if ok {
				return nil
			}
			// Ask again soon: a reservation may come meanwhile, and then
			// the spare caller waits behind it.
			if err := sleepCtx(ctx, min(max(wait, time.Millisecond), 100*time.Millisecond)); err != nil {
				return err
			}
		}
	}
	at := p.limiter.reserve(time.Now(), n)
	if err := sleepCtx(ctx, time.Until(at)); err != nil {
		p.limiter.cancel(n)
		return err
	}
	return nil
}

// takeShared waits for n tokens of the cluster's budget at prio. The
// cluster's bucket grants in the order asked; the priority holds on this
// node: a spare caller asks only while no urgent caller of the pool waits
// for a token, so that polls take what sends leave over.
func (p *pool) takeShared(ctx context.Context, prio Priority, n int) error {
	if prio == Spare {
		for p.urgent.Load() > 0 {
			if err := sleepCtx(ctx, spareRecheck); err != nil {
				return err
			}
		}
	} else {
		p.urgent.Add(1)
		defer p.urgent.Add(-1)
	}
	for range n {
		if err := p.budget.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// spareRecheck is how often a spare caller looks again whether urgent
// callers still wait for the cluster's tokens.
const spareRecheck = 5 * time.Millisecond

// departures counts the requests that left in the last second, for the
// busiest second on a shared journal (the local limiter counts its own).
type departures struct {
	mu      sync.Mutex
	at      []time.Time // within the last second, oldest first
	busiest int
	total   int
}

func (d *departures) add(now time.Time, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	drop := 0
	for drop < len(d.at) && now.Sub(d.at[drop]) >= time.Second {
		drop++
	}
	d.at = d.at[drop:]
	for range n {
		d.at = append(d.at, now)
	}
	d.busiest = max(d.busiest, len(d.at))
	d.total += n
}

// counts returns the busiest second and the requests counted.
func (d *departures) counts() (busiest, total int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busiest, d.total
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// workers is how many items a pool works on at once: three times the
// requests it may have in flight, so that while Concurrency requests are
// out the other workers commit intents and answers (a group commit takes
// about as long as a request to a fast provider). A worker commits its
// intent only once its tokens are due (book), so the items that wait in
// sending for a slot are those whose turn has come: after a crash those
// are in doubt and resolved by a lookup, like the ones whose request was
// out.
func (p *pool) workers() int { return 3 * p.cfg.Concurrency }

// request runs fn (n requests to the provider) in a request slot, once
// the budget grants n tokens at prio (n may be 0 when fn takes its own).
// The waits honour ctx; fn itself is not cancelled by it.
func (p *pool) request(ctx context.Context, prio Priority, n int, fn func()) error {
	if err := p.slots.Acquire(ctx, 1); err != nil {
		return err
	}
	defer p.slots.Release(1)
	if p.share != nil {
		if err := p.share.acquire(ctx); err != nil {
			return err
		}
		defer p.share.release()
	}
	if n > 0 {
		if err := p.due(ctx, prio, n); err != nil {
			return err
		}
	}
	fn()
	return nil
}

// book reserves n urgent tokens and waits until they are due (and the
// breaker and any pause let requests through), before the caller commits
// its intent: an item is in sending only once its turn has come, so a
// crash leaves in doubt the few items whose requests were leaving, not
// every item a worker holds while the budget makes it wait. The caller
// then sends with booked, or gives the tokens back with unbook.
func (p *pool) book(ctx context.Context, n int) error {
	if err := p.open(ctx); err != nil {
		return err
	}
	if p.budget != nil {
		// The cluster's tokens are taken in booked, right before the
		// request leaves: the bucket paces departures, and a commit's
		// latency between a token and its request would bunch them.
		return nil
	}
	at := p.limiter.reserve(time.Now(), n)
	if err := sleepCtx(ctx, time.Until(at)); err != nil {
		p.limiter.cancel(n)
		return err
	}
	return nil
}

// unbook gives back n tokens booked and not used (on the cluster's
// budget none were taken yet).
func (p *pool) unbook(n int) {
	if p.budget == nil {
		p.limiter.cancel(n)
	}
}

// booked runs fn (n requests whose tokens were booked) in a request slot.
// The window holds the times requests really left, so each request of fn
// (a submission of two requests, the second sent when the first is
// answered) takes its place in the window when it leaves, through the
// pacer fn is given (providers.Pace). A pause that began after the
// booking (a 429) makes the caller wait its turn again. On an error the
// tokens are given back and fn has not run.
func (p *pool) booked(ctx context.Context, n int, fn func(pace func(context.Context) error)) error {
	if err := p.slots.Acquire(ctx, 1); err != nil {
		p.unbook(n)
		return err
	}
	defer p.slots.Release(1)
	if p.share != nil {
		if err := p.share.acquire(ctx); err != nil {
			return err
		}
		defer p.share.release()
	}
	if p.budget != nil {
		return p.bookedShared(ctx, n, fn)
	}
	p.mu.Lock()
	paused := p.now().Before(p.pausedUntil)
	p.mu.Unlock()
	if paused {
		p.limiter.cancel(n)
		if err := p.due(ctx, Urgent, n); err != nil {
			return err
		}
	}
	fn((&pacer{p: p}).pace)
	return nil
}

// leave waits until the window has room for n requests and records them
// leaving now.
func (p *pool) leave(ctx context.Context, n int) error {
	for {
		now := time.Now()
		at := p.limiter.depart(now, n)
		if !at.After(now) {
			return nil
		}
		if err := sleepCtx(ctx, at.Sub(now)); err != nil {
			return err
		}
	}
}

// pacer places one call's requests in the window as they leave, each
// when the client is about to hand it to the transport (built and
// signed: an RSA signature on a busy machine takes milliseconds, and a
// request placed before it would reach the provider that much later than
// the window thinks). Their tokens were taken for the call.
type pacer struct {
	p *pool
}

func (pc *pacer) pace(ctx context.Context) error {
	return pc.p.leave(ctx, 1)
}

// bookedShared is booked on the cluster's budget: the tokens are taken
// now, in the slot, and the request leaves at once. The cluster's bucket
// paces the nodes together; it keeps no window to place later requests
// in.
func (p *pool) bookedShared(ctx context.Context, n int, fn func(pace func(context.Context) error)) error {
	if n > 0 {
		if err := p.due(ctx, Urgent, n); err != nil {
			return err
		}
	} // else the feeder took the tokens (runPool)
	fn(func(context.Context) error { return nil })
	return nil
}

// success records a request the provider answered normally.
func (p *pool) success() {
	if p.budget != nil {
		p.budget.success()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures = 0
	p.openUntil, p.probing = time.Time{}, false
	if p.cfg.RatePerSecond > 0 && p.budget == nil {
		p.accepts++
		if now := p.now(); now.Sub(p.reported) >= reportEvery {
			p.learn(now, 0)
		}
	}
}

// learn counts the successes since the last count, and refused refusals,
// by the bucket's rule, and sets the limiter to the rate it leaves in
// force. The caller holds p.mu.
func (p *pool) learn(now time.Time, refused int) {
	take(&p.learned, now, p.cfg.RatePerSecond, float64(p.cfg.Burst), 0, p.accepts, refused)
	p.accepts, p.reported = 0, now
	if p.learned.Rate != p.effective {
		p.effective = p.learned.Rate
		p.limiter.setRate(p.effective, int(p.learned.Burst))
	}
}

// rateLimited records a 429: pause the whole pool for Retry-After (or a
// second) and learn the provider's limit from it, by the same rule the
// cluster's budget uses on a shared journal (there, the budget learns it
// for every node).
func (p *pool) rateLimited(retryAfter time.Duration) {
	if p.budget != nil {
		p.budget.refused(retryAfter)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.RateLimited++
	if retryAfter <= 0 {
		retryAfter = time.Second
	}
	now := p.now()
	if until := now.Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	if p.cfg.RatePerSecond > 0 && p.budget == nil {
		// The refusals of requests that left together are one signal:
		// the rule cuts once a volley.
		p.learn(now, 1)
	}
	p.probing = false
}

// failure records an outage-like failure (5xx, in doubt, refused auth) and
// opens the breaker after breakerN in a row.
func (p *pool) failure() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	if p.probing || p.failures >= p.breakerN {
		if p.openUntil.IsZero() || p.probing {
			p.stats.BreakerTrips++
		}
		p.openUntil = p.now().Add(p.cooldown)
		p.probing = false
	}
}

func (p *pool) snapshot() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Rate = p.effective
	if p.budget != nil {
		s.Rate = p.budget.current()
		s.BusiestSecond, s.Requests = p.departed.counts()
		return s
	}
	p.limiter.mu.Lock()
	s.BusiestSecond, s.Requests = p.limiter.busiest, p.limiter.left
	p.limiter.mu.Unlock()
	return s
}

// backoff returns the wait before retry n (1-based): exponential with full
// jitter, capped.
func backoff(n int, base, maxWait time.Duration) time.Duration {
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 30 * time.Second
	}
	d := base << min(n-1, 20)
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

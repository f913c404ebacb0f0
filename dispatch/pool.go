package dispatch

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
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

// pool paces one provider's requests: a token bucket that slows down on
// 429 and recovers slowly, a pause honouring Retry-After, and a circuit
// breaker that stops sending after consecutive failures.
type pool struct {
	name    string
	cfg     PoolConfig
	limiter *rate.Limiter
	// slots caps the requests in flight at Concurrency. Journal commits
	// happen outside it, so a commit's fsync never holds a request slot.
	slots *semaphore.Weighted
	now   func() time.Time

	mu          sync.Mutex
	pausedUntil time.Time
	failures    int
	openUntil   time.Time
	probing     bool
	successes   int
	effective   float64
	breakerN    int
	cooldown    time.Duration
	stats       PoolStats

	// budget, when set, paces the pool instead of limiter, and share caps
	// its requests in flight at its node's part of the cluster's
	// concurrency (budget.go, claim.go).
	budget *budget
	share  *share
}

// PoolStats are the counters a pool keeps for progress and metrics.
type PoolStats struct {
	RateLimited  int           `json:"rate_limited"`
	Retries      int           `json:"retries"`
	BreakerTrips int           `json:"breaker_trips"`
	Waited       time.Duration `json:"waited"`
	Rate         float64       `json:"rate"`
}

func newPool(name string, cfg PoolConfig, breakerN int, cooldown time.Duration, now func() time.Time) *pool {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	if cfg.RatePerSecond > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = max(1, int(cfg.RatePerSecond/10))
		}
		cfg.Burst = burst
		lim = rate.NewLimiter(rate.Limit(cfg.RatePerSecond), burst)
	}
	if breakerN <= 0 {
		breakerN = 10
	}
	if cooldown <= 0 {
		cooldown = 30 * time.Second
	}
	return &pool{name: name, cfg: cfg, limiter: lim, slots: semaphore.NewWeighted(int64(cfg.Concurrency)), now: now, effective: cfg.RatePerSecond, breakerN: breakerN, cooldown: cooldown}
}

// wait blocks until the pool may send one request: the breaker is closed
// (or this caller is the half-open probe), any Retry-After pause is over,
// and the bucket has a token.
func (p *pool) wait(ctx context.Context) error {
	start := time.Now()
	defer func() {
		p.mu.Lock()
		p.stats.Waited += time.Since(start)
		p.mu.Unlock()
	}()
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
		t := time.NewTimer(until.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if p.budget != nil {
		return p.budget.wait(ctx)
	}
	return p.limiter.Wait(ctx)
}

// workers is how many items a pool works on at once: three times the
// requests it may have in flight, so that while Concurrency requests are
// out the other workers commit intents and answers (a group commit takes
// about as long as a request to a fast provider). At most 2 x Concurrency
// items wait in sending for a slot: after a crash those are in doubt and
// resolved by a lookup, like the ones whose request was out.
func (p *pool) workers() int { return 3 * p.cfg.Concurrency }

// request runs fn (one request to the provider) in a request slot. The
// wait for a slot honours ctx; fn itself is not cancelled by it.
func (p *pool) request(ctx context.Context, fn func()) error {
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
	fn()
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
	if p.cfg.RatePerSecond > 0 && p.effective < p.cfg.RatePerSecond {
		p.successes++
		// Recover slowly: 5% more after every burst's worth of successes.
		if p.successes >= max(p.cfg.Burst, 10) {
			p.successes = 0
			p.effective = min(p.cfg.RatePerSecond, p.effective*1.05)
			p.limiter.SetLimit(rate.Limit(p.effective))
		}
	}
}

// rateLimited records a 429: pause the whole pool for Retry-After (or a
// second) and halve the effective rate.
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
	if until := p.now().Add(retryAfter); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	if p.cfg.RatePerSecond > 0 && p.budget == nil {
		p.effective = max(p.effective/2, p.cfg.RatePerSecond/20, 0.5)
		p.limiter.SetLimit(rate.Limit(p.effective))
		p.successes = 0
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
	}
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

package dispatch

import (
	"context"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// The bucket: a new budget starts full; reservations beyond it wait their
// turn at the rate; time refills it up to its size.
func TestBudgetTakeIsATokenBucket(t *testing.T) {
	var s journal.Budget
	if w := take(&s, t0, 200, 20, 20, 0, 0); w != 0 {
		t.Fatalf("the first 20 of a full bucket waited %s", w)
	}
	if w := take(&s, t0, 200, 20, 10, 0, 0); w != 50*time.Millisecond {
		t.Fatalf("10 more wait %s, want 50ms at 200/s", w)
	}
	// A second later the debt is paid and the bucket full again, not more.
	if w := take(&s, t0.Add(time.Second), 200, 20, 20, 0, 0); w != 0 || s.Tokens != 0 {
		t.Fatalf("after a second: wait %s, tokens %.1f", w, s.Tokens)
	}
	if s.Granted != 50 || s.Rate != 200 || s.Ceiling != 200 {
		t.Fatalf("budget %+v", s)
	}
	// A changed configuration starts from it.
	take(&s, t0.Add(2*time.Second), 50, 5, 0, 0, 0)
	if s.Rate != 50 || s.Burst != 5 || s.Tokens > 5 {
		t.Fatalf("after a new configuration: %+v", s)
	}
}

// A refusal sets the rate just below what the provider accepted in the
// last second (not half the rate); refusals of the same second cut once;
// a refusal at or below the learned limit halves the burst and steps the
// rate down a tenth; after a quiet
// while the rate rises again, up to the configured one.
func TestBudgetRefusalsTeachTheLimit(t *testing.T) {
	var s journal.Budget
	take(&s, t0, 200, 20, 0, 0, 0)
	take(&s, t0.Add(900*time.Millisecond), 200, 20, 0, 101, 0) // the first second: 101 accepted
	now := t0.Add(1500 * time.Millisecond)
	take(&s, now, 200, 20, 0, 20, 1)
	if s.Limit != 101 || math.Abs(s.Rate-101*belowLimit) > 1e-9 || s.Burst != 4 {
		t.Fatalf("after a refusal: limit %.1f, rate %.2f, burst %.0f", s.Limit, s.Rate, s.Burst)
	}
	rate := s.Rate
	take(&s, now.Add(300*time.Millisecond), 200, 20, 0, 0, 5)
	if s.Rate != rate || s.Refused != 6 {
		t.Fatalf("a second volley within a second cut again: rate %.2f, refused %d", s.Rate, s.Refused)
	}
	// At the limit learned: the burst halves, the rate steps down a tenth.
	take(&s, now.Add(2*time.Second), 200, 20, 0, 0, 1)
	if s.Burst != 2 || math.Abs(s.Rate-rate*stepDown) > 1e-9 || s.Limit > 101 {
		t.Fatalf("a refusal below the limit: burst %.0f, rate %.2f, limit %.1f", s.Burst, s.Rate, s.Limit)
	}
	// Quiet: no rise before probeAfter, then a step every probeEvery.
	quiet := now.Add(2 * time.Second)
	before, learned := s.Rate, s.Limit
	take(&s, quiet.Add(probeAfter-time.Second), 200, 20, 0, 0, 0)
	if s.Rate != before {
		t.Fatalf("the rate rose before the quiet while: %.2f", s.Rate)
	}
	at := quiet.Add(probeAfter)
	for range 200 {
		take(&s, at, 200, 20, 0, 0, 0)
		at = at.Add(probeEvery)
	}
	if s.Rate != 200 || s.Burst != 20 {
		t.Fatalf("after a long quiet: rate %.1f, burst %.0f", s.Rate, s.Burst)
	}
	// A refusal above the learned limit learns anew, never below it.
	take(&s, at.Add(time.Second), 200, 20, 0, 30, 0)
	take(&s, at.Add(1100*time.Millisecond), 200, 20, 0, 0, 1)
	if s.Limit < learned || s.Limit > 200 {
		t.Fatalf("a short count took the limit from %.1f to %.1f", learned, s.Limit)
	}
}

// Nothing accepted lately (no count to learn from): at most half the
// rate is cut.
func TestBudgetRefusalWithoutACount(t *testing.T) {
	var s journal.Budget
	take(&s, t0, 200, 20, 0, 0, 1)
	if s.Limit != 100 || s.Rate != 100*belowLimit {
		t.Fatalf("limit %.1f, rate %.2f", s.Limit, s.Rate)
	}
}

// A provider that refuses above 100 requests a clock second while the
// configuration says 200/s: requests sent as the bucket allows, refusals
// paused until the provider's next second, as its Retry-After says. The
// bucket settles near what the provider accepts, and 5,000 payouts take
// at most 1.15x the ideal 50 s (simulated time).
func TestBudgetLearningSettlesNearTheLimit(t *testing.T) {
	const limit, n = 100, 5000
	var s journal.Budget
	now := t0.Add(300 * time.Millisecond)
	window, inWindow := now.Truncate(time.Second), 0
	accepted, report, refusedTotal := 0, 0, 0
	for accepted < n {
		wait := take(&s, now, 200, 20, 1, report, 0)
		report = 0
		now = now.Add(wait)
		if w := now.Truncate(time.Second); w != window {
			window, inWindow = w, 0
		}
		if inWindow < limit {
			inWindow++
			accepted++
			report++
			continue
		}
		refusedTotal++
		take(&s, now, 200, 20, 0, report, 1)
		report = 0
		now = window.Add(time.Second) // Retry-After: the provider's next second
	}
	elapsed := now.Sub(t0.Add(300 * time.Millisecond))
	t.Logf("%d payouts in %s (simulated), %d refusals, rate %.1f/s, limit learned %.1f/s", n, elapsed, refusedTotal, s.Rate, s.Limit)
	if elapsed > 57500*time.Millisecond {
		t.Errorf("%s, more than 1.15x the ideal 50 s", elapsed)
	}
	if s.Rate < 90 || s.Rate > limit {
		t.Errorf("the rate settled at %.1f/s, the provider accepts %d/s", s.Rate, limit)
	}
}

// Nodes reserving from one store together never exceed the rate and the
// burst; each is spaced at its share of the rate.
func TestBudgetsShareOneBucket(t *testing.T) {
	store := &memoryBudgets{}
	var mu sync.Mutex
	var times []time.Time
	var wg sync.WaitGroup
	const nodes, each = 3, 40
	start := time.Now()
	for i := range nodes {
		b := newBudget("p", 100, 5, store)
		id := string(rune('a' + i))
		b.node = func() journal.Lease { return journal.Lease{Node: id} }
		wg.Go(func() {
			for range each {
				if err := b.wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	// 120 requests at 100/s with a burst of 5: at least 1.15 s.
	if min := time.Duration(float64(nodes*each-5) / 100 * float64(time.Second)); elapsed < min-20*time.Millisecond {
		t.Fatalf("%d requests in %s, faster than 100/s and a burst of 5 (%s)", nodes*each, elapsed, min)
	}
	// In any one-second window: at most the rate and the burst.
	for i := range times {
		n := 0
		for _, u := range times {
			if !u.Before(times[i]) && u.Sub(times[i]) < time.Second {
				n++
			}
		}
		if n > 105+1 {
			t.Fatalf("%d requests within a second from %s", n, times[i].Sub(start))
		}
	}
}

func TestClusterShareOf(t *testing.T) {
	for _, c := range []struct{ conc, n, rank, want int }{
		{16, 1, 0, 16}, {16, 3, 0, 6}, {16, 3, 1, 5}, {16, 3, 2, 5}, {2, 3, 2, 1}, {8, 0, 0, 8},
	} {
		if got := shareOf(c.conc, c.n, c.rank); got != c.want {
			t.Errorf("shareOf(%d, %d, %d) = %d, want %d", c.conc, c.n, c.rank, got, c.want)
		}
	}
}

// memoryBudgets is a budget store in memory, as the journal's cluster
// would keep it.
type memoryBudgets struct {
	mu sync.Mutex
	m  map[string]journal.Budget
}

func (s *memoryBudgets) update(_ context.Context, provider string, fn func(b *journal.Budget, now time.Time)) (journal.Budget, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]journal.Budget{}
	}
	b := s.m[provider]
	b.Senders = maps.Clone(b.Senders) // the caller keeps what it is given
	fn(&b, time.Now())
	b.Provider = provider
	s.m[provider] = b
	return b, nil
}

// On the cluster's budget a poll (spare) asks for a token only while no
// send or confirm of its node waits for one, though the bucket has
// tokens; once none waits, it gets one.
func TestClusterBudgetPollWaitsForSends(t *testing.T) {
	p := newPool("p", PoolConfig{RatePerSecond: 100, Burst: 10, Concurrency: 4}, 10, time.Second, time.Now)
	p.budget = newBudget("p", 100, 10, &memoryBudgets{})
	p.urgent.Add(1) // a send waiting for its token
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := p.due(ctx, Spare, 1); err == nil {
		t.Fatal("a poll took a token of the cluster's budget while a send waited for one")
	}
	p.urgent.Add(-1)
	if err := p.due(context.Background(), Spare, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.due(context.Background(), Urgent, 2); err != nil {
		t.Fatal(err)
	}
	if p.urgent.Load() != 0 {
		t.Fatalf("%d urgent callers still counted", p.urgent.Load())
	}
	if got := p.snapshot(); got.BusiestSecond != 3 || got.Requests != 3 {
		t.Fatalf("busiest second %d, %d requests counted: want the 3 requests that left", got.BusiestSecond, got.Requests)
	}
}

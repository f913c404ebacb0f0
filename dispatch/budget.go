package dispatch

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/payrun/payrun/journal"
)

// A provider's rate budget: one token bucket for every node that sends
// to the provider, and the rate it learns from the provider's refusals.
//
// The bucket's state is a journal.Budget: in the journal's cluster
// (Cluster.UpdateBudget, one row changed atomically at the store's clock)
// when the journal is shared, in memory otherwise. The rules are the same
// either way, and written once (take). A node reserves a few tokens at a
// time; a reservation may run ahead of the bucket (negative tokens), and
// then says how long to wait, so that reservations from every node are
// spaced at the rate together, the bucket's size being the only burst.
//
// Learning: a refusal (HTTP 429) says the provider's limit was reached.
// The bucket counts what the provider accepted in the last second (every
// node reports its successes with its next reservation), and a refusal
// sets the rate just below that count: the provider's real limit, not half
// the rate, and the burst to what that rate may carry. The rate rises
// again slowly after a quiet while, up to the configured one.
//
// The pool still pauses for a refusal's Retry-After on its own node.

// Learning constants.
const (
	// belowLimit is the share of a learned limit the rate is set to: a
	// provider counting by clock seconds refuses a second that starts
	// with a burst.
	belowLimit = 0.96
	// probeAfter is the quiet time after a refusal before the rate rises,
	// and probeEvery the step's period; probeStep the step.
	probeAfter = 30 * time.Second
	probeEvery = 2 * time.Second
	probeStep  = 1.02
	// staleTokens: tokens reserved but not used within this long after
	// they became due are dropped, so that a node never sends a reserved
	// burst late, on top of the others' due requests.
	staleTokens = 50 * time.Millisecond
	// chunkTime is how much of the rate one reservation takes (bounded by
	// the bucket's size): 200/s reserves 4 tokens at a time.
	chunkTime = 20 * time.Millisecond
	// sendersFor is how long a node that reserved counts as sending.
	sendersFor = 2 * time.Second
)

// budgetStore changes a budget atomically: the journal's cluster, or
// memory.
type budgetStore interface {
	update(ctx context.Context, provider string, fn func(b *journal.Budget, now time.Time)) (journal.Budget, error)
}

// memoryBudgets is the store of a journal held by one process.
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
	fn(&b, time.Now())
	b.Provider = provider
	s.m[provider] = b
	return b, nil
}

// clusterBudgets is the store of a shared journal.
type clusterBudgets struct{ c journal.Cluster }

func (s clusterBudgets) update(ctx context.Context, provider string, fn func(b *journal.Budget, now time.Time)) (journal.Budget, error) {
	return s.c.UpdateBudget(ctx, provider, fn)
}

// budget is one node's side of a provider's budget.
type budget struct {
	provider string
	rate     float64 // configured
	burst    float64
	store    budgetStore

	// lock is held while tokens are reserved (a channel, so that a
	// waiter's context is honoured).
	lock chan struct{}
	// node, when set, names this node in the budget's senders, and
	// onSenders is told how many nodes send and this one's rank.
	node      func() journal.Lease
	onSenders func(n, rank int)

	mu       sync.Mutex
	inHand   int       // tokens reserved and not used yet
	due      time.Time // when they may be used (local clock)
	accepts  int       // successes not reported yet
	refusals int       // refusals not reported yet
	last     journal.Budget
}

func newBudget(provider string, rate float64, burst int, store budgetStore) *budget {
	return &budget{provider: provider, rate: rate, burst: float64(max(burst, 1)), store: store, lock: make(chan struct{}, 1)}
}

// wait blocks until one request may be sent.
func (b *budget) wait(ctx context.Context) error {
	select {
	case b.lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	if b.inHand > 0 && time.Since(b.due) > staleTokens {
		b.inHand = 0
	}
	if b.inHand == 0 {
		b.mu.Unlock()
		if err := b.reserve(ctx); err != nil {
			<-b.lock
			return err
		}
		b.mu.Lock()
	}
	b.inHand--
	due := b.due
	b.mu.Unlock()
	<-b.lock
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// reserve takes a chunk of tokens from the bucket, reporting the
// successes and refusals seen since the last reservation.
func (b *budget) reserve(ctx context.Context) error {
	b.mu.Lock()
	acc, ref := b.accepts, b.refusals
	b.accepts, b.refusals = 0, 0
	want := b.chunk()
	b.mu.Unlock()
	var wait time.Duration
	sent := time.Now()
	node := b.nodeID()
	got, err := b.store.update(ctx, b.provider, func(s *journal.Budget, now time.Time) {
		wait = take(s, now, b.rate, b.burst, want, acc, ref)
		sending(s, now, node)
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		// Reported again with the next reservation.
		b.accepts += acc
		b.refusals += ref
		return err
	}
	b.last = got
	b.inHand, b.due = want, sent.Add(wait)
	if b.onSenders != nil && node != "" {
		ids := make([]string, 0, len(got.Senders))
		for id := range got.Senders {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		b.onSenders(len(ids), max(slices.Index(ids, node), 0))
	}
	return nil
}

func (b *budget) nodeID() string {
	if b.node == nil {
		return ""
	}
	return b.node().Node
}

// sending records node among the budget's senders, and forgets the nodes
// that stopped.
func sending(s *journal.Budget, now time.Time, node string) {
	if node == "" {
		return
	}
	if s.Senders == nil {
		s.Senders = map[string]time.Time{}
	}
	s.Senders[node] = now
	for id, at := range s.Senders {
		if now.Sub(at) > sendersFor {
			delete(s.Senders, id)
		}
	}
}

// chunk is how many tokens one reservation takes.
func (b *budget) chunk() int {
	r := b.last.Rate
	if r <= 0 {
		r = b.rate
	}
	burst := b.last.Burst
	if burst <= 0 {
		burst = b.burst
	}
	return max(1, min(int(burst), int(r*chunkTime.Seconds())))
}

// success records a request the provider accepted.
func (b *budget) success() {
	b.mu.Lock()
	b.accepts++
	b.mu.Unlock()
}

// refused records a refusal and reports it at once: the other nodes
// learn the new rate with their next reservation.
func (b *budget) refused(retryAfter time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), max(retryAfter, 2*time.Second))
	defer cancel()
	select {
	case b.lock <- struct{}{}:
	case <-ctx.Done():
		b.mu.Lock()
		b.refusals++
		b.mu.Unlock()
		return
	}
	defer func() { <-b.lock }()
	b.mu.Lock()
	b.refusals++
	acc, ref := b.accepts, b.refusals
	b.accepts, b.refusals = 0, 0
	b.inHand = 0 // reserved at the rate that was refused
	b.mu.Unlock()
	got, err := b.store.update(ctx, b.provider, func(s *journal.Budget, now time.Time) {
		take(s, now, b.rate, b.burst, 0, acc, ref)
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.accepts += acc
		b.refusals += ref
		return
	}
	b.last = got
}

// current is the rate in force, as last seen.
func (b *budget) current() float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.Rate > 0 {
		return b.last.Rate
	}
	return b.rate
}

// take is the bucket's rule: it brings s to now (the configured rate and
// burst, the successes counted per second), learns from refusals, raises
// a learned rate after a quiet while, and reserves want tokens, returning
// how long until they are due.
func take(s *journal.Budget, now time.Time, rate, burst float64, want, accepted, refused int) time.Duration {
	if s.Ceiling != rate || s.Rate <= 0 || s.Rate > rate {
		// New, or the configuration changed: start from it.
		s.Ceiling, s.Rate, s.Burst, s.Limit, s.Probe = rate, rate, burst, 0, time.Time{}
	}
	if s.At.IsZero() || now.Before(s.At) {
		s.At, s.Tokens = now, s.Burst
	}
	if s.Second.IsZero() || now.Before(s.Second) {
		s.Second = now
	}
	if gap := now.Sub(s.Second); gap >= time.Second {
		s.Previous = 0
		if gap < 2*time.Second {
			s.Previous = s.Accepted
		}
		s.Accepted = 0
		s.Second = s.Second.Add(gap.Truncate(time.Second))
	}
	s.Accepted += accepted
	// Tokens to now, at the rate in force until now.
	s.Tokens = math.Min(s.Burst, s.Tokens+now.Sub(s.At).Seconds()*s.Rate)
	s.At = now
	if refused > 0 {
		s.Refused += int64(refused)
		// One cut per volley: the refusals of one crowded second say the
		// same thing.
		if s.Cut.IsZero() || now.Sub(s.Cut) >= time.Second {
			frac := now.Sub(s.Second).Seconds()
			seen := float64(s.Accepted) + float64(s.Previous)*(1-frac)
			limit := math.Min(s.Rate, seen)
			if seen < 1 {
				limit = s.Rate / 2 // nothing accepted lately: no measure
			}
			s.Limit = limit
			s.Rate = math.Max(limit*belowLimit, math.Max(s.Ceiling/20, 0.5))
			s.Burst = math.Max(1, math.Min(burst, math.Floor(s.Rate*chunkTime.Seconds())))
			s.Tokens = math.Min(s.Tokens, 0)
			s.Cut, s.Probe = now, now.Add(probeAfter)
		}
	} else if s.Rate < s.Ceiling && !s.Probe.IsZero() && !now.Before(s.Probe) {
		s.Rate = math.Min(s.Ceiling, s.Rate*probeStep)
		s.Probe = now.Add(probeEvery)
		if s.Rate >= s.Ceiling {
			s.Burst, s.Probe = burst, time.Time{}
		}
	}
	if want <= 0 {
		return 0
	}
	s.Tokens -= float64(want)
	s.Granted += int64(want)
	if s.Tokens >= 0 {
		return 0
	}
	return time.Duration(-s.Tokens / s.Rate * float64(time.Second))
}

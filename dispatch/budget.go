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
	// stepDown is the rate's step after a refusal at or below a learned
	// limit.
	stepDown = 0.9
	// A token is used at the earliest when the bucket says, and no sooner
	// than the node's share of the rate after the one before (the rate
	// over the nodes sending lately): the nodes' requests together never
	// run faster than the rate and the bucket's burst, even when one
	// catches up after a stall (a busy machine, a slow database). A token
	// not used within staleTokens of when the bucket said is dropped.
	staleTokens = time.Second
	// chunkTime is how much of the rate one reservation takes (bounded by
	// the bucket's size): 200/s reserves 10 tokens at a time. A node
	// reserves the next while it spends the last, so that a slow round
	// trip to the store (a busy database) costs nothing up to this long.
	chunkTime = 50 * time.Millisecond
	// sendersFor is how long a node that reserved counts as sending.
	sendersFor = 2 * time.Second
	// reportEvery bounds how late a node reports its successes.
	reportEvery = 100 * time.Millisecond
)

// budgetStore changes a budget atomically: the journal's cluster (tests
// use one in memory).
type budgetStore interface {
	update(ctx context.Context, provider string, fn func(b *journal.Budget, now time.Time)) (journal.Budget, error)
}

// clusterBudgets is the store of a shared journal.
type clusterBudgets struct{ c journal.Cluster }

func (s clusterBudgets) update(ctx context.Context, provider string, fn func(b *journal.Budget, now time.Time)) (journal.Budget, error) {
	return s.c.UpdateBudget(ctx, provider, fn)
}

// budget is one node's side of a provider's budget. It reserves the next
// few tokens while it spends the last ones, so that the store's round
// trip is never between two requests; at most two reservations are in
// hand.
type budget struct {
	provider string
	rate     float64 // configured
	burst    float64
	store    budgetStore

	// node, when set, names this node in the budget's senders, and
	// onSenders is told how many nodes send and this one's rank.
	node      func() journal.Lease
	onSenders func(n, rank int)

	mu     sync.Mutex
	grants []grant // reserved, oldest first
	// reserving is closed when the reservation in progress ends (nil:
	// none); err is its error, for the waiters that waited for it.
	reserving chan struct{}
	err       error
	accepts   int // successes not reported yet
	refusals  int // refusals not reported yet
	last      journal.Budget
	// prev is when the last token was to be used (local clock);
	// reported when successes were last reported.
	prev     time.Time
	reported time.Time
}

// grant is one reservation: n tokens, the last due at last (local clock),
// each a token's time after the one before.
type grant struct {
	n    int
	last time.Time
	rate float64
}

func newBudget(provider string, rate float64, burst int, store budgetStore) *budget {
	return &budget{provider: provider, rate: rate, burst: float64(max(burst, 1)), store: store}
}

// wait blocks until one request may be sent.
func (b *budget) wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		now := time.Now()
		for len(b.grants) > 0 && now.Sub(b.grants[0].last) > staleTokens {
			b.grants = b.grants[1:]
		}
		if len(b.grants) > 0 {
			g := &b.grants[0]
			g.n--
			due := g.last.Add(-time.Duration(float64(g.n) / g.rate * float64(time.Second)))
			if g.n == 0 {
				b.grants = b.grants[1:]
			}
			if paced := b.prev.Add(b.pace(g.rate)); paced.After(due) {
				due = paced
			}
			// A node that fell behind its pace catches up with its share
			// of the bucket's burst at most.
			b.prev = due
			if floor := now.Add(-b.lag()); floor.After(due) {
				b.prev = floor
			}
			if len(b.grants) <= 1 && (len(b.grants) == 0 || b.grants[0].n < b.chunk()) {
				b.reserveAhead(b.chunk())
			}
			b.mu.Unlock()
			return sleepUntil(ctx, due)
		}
		b.reserveAhead(b.chunk())
		done := b.reserving
		b.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.mu.Lock()
		err := b.err
		b.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

func sleepUntil(ctx context.Context, due time.Time) error {
	d := time.Until(due)
	if d <= 0 {
		return nil
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

// lag is how far behind its pace a node may fall and still catch up: the
// bucket's size at its rate (each node's share of the burst at its share
// of the rate). b.mu is held.
func (b *budget) lag() time.Duration {
	r, burst := b.last.Rate, b.last.Burst
	if r <= 0 || burst <= 0 {
		r, burst = b.rate, b.burst
	}
	return time.Duration(burst / r * float64(time.Second))
}

// pace is the time between two requests of this node: the rate shared by
// the nodes sending lately. b.mu is held.
func (b *budget) pace(rate float64) time.Duration {
	n := max(len(b.last.Senders), 1)
	return time.Duration(float64(n) / rate * float64(time.Second))
}

// reserveTimeout bounds one reservation: a store that does not answer
// fails it (and the requests waiting for it).
const reserveTimeout = 5 * time.Second

// reserveAhead starts a reservation of want tokens (0: a report of the
// successes only) unless one is in progress. b.mu is held.
func (b *budget) reserveAhead(want int) {
	if b.reserving != nil {
		return
	}
	done := make(chan struct{})
	b.reserving, b.reported = done, time.Now()
	acc, ref := b.accepts, b.refusals
	b.accepts, b.refusals = 0, 0
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), reserveTimeout)
		defer cancel()
		var wait time.Duration
		sent := time.Now()
		node := b.nodeID()
		got, err := b.store.update(ctx, b.provider, func(s *journal.Budget, now time.Time) {
			wait = take(s, now, b.rate, b.burst, want, acc, ref)
			sending(s, now, node)
		})
		b.mu.Lock()
		defer b.mu.Unlock()
		b.reserving, b.err = nil, err
		if err != nil {
			// Reported again with the next reservation.
			b.accepts += acc
			b.refusals += ref
			return
		}
		b.last = got
		if want > 0 {
			b.grants = append(b.grants, grant{n: want, last: sent.Add(wait), rate: got.Rate})
		}
		if b.onSenders != nil && node != "" {
			ids := make([]string, 0, len(got.Senders))
			for id := range got.Senders {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			b.onSenders(len(ids), max(slices.Index(ids, node), 0))
		}
	}()
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

// chunk is how many tokens one reservation takes. b.mu is held.
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

// success records a request the provider accepted. Successes are
// reported with the next reservation, or within reportEvery: a refusal
// is judged by what the provider accepted in the last second.
func (b *budget) success() {
	b.mu.Lock()
	b.accepts++
	if time.Since(b.reported) >= reportEvery {
		b.reserveAhead(0)
	}
	b.mu.Unlock()
}

// refused records a refusal and reports it at once: what this node
// reserved at the refused rate is dropped, and the other nodes learn the
// new rate with their next reservation.
func (b *budget) refused(time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), reserveTimeout)
	defer cancel()
	b.mu.Lock()
	b.refusals++
	acc, ref := b.accepts, b.refusals
	b.accepts, b.refusals = 0, 0
	b.grants = nil
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

// learn sets the rate after a refusal. The provider's limit is what it
// accepted in a second (the last full one, or this one so far: the nodes
// report their successes within reportEvery, so the count may be a little
// short, and it is never taken below half the rate). A refusal above the
// limit learned before (after the rate rose again) learns it anew, never
// lower than it was; one at or below it says the provider's second began
// with too many requests (or its limit fell): it halves the burst and
// lowers the rate a little. The bucket forgets what
// was reserved at the refused rate: the nodes dropped it.
func learn(s *journal.Budget, now time.Time, burst float64) {
	seen := float64(max(s.Previous, s.Accepted))
	switch {
	case s.Limit == 0 || s.Rate > s.Limit:
		limit := math.Min(s.Rate, math.Max(seen, s.Rate/2))
		s.Limit = math.Max(limit, s.Limit)
		s.Rate = math.Max(s.Limit*belowLimit, math.Max(s.Ceiling/20, 0.5))
		s.Burst = math.Max(1, math.Min(burst, math.Floor(s.Rate*chunkTime.Seconds())))
	default:
		// The count of a second with a pause in it (the Retry-After of
		// the refusals before) says little, and a count over a second
		// that straddles two of the provider's clock seconds says too
		// much: the rate steps down a tenth a volley until the refusals
		// stop (a few volleys, each costing a Retry-After), and rises
		// again by probes.
		s.Burst = math.Max(1, math.Floor(s.Burst/2))
		s.Rate = math.Max(s.Rate*stepDown, math.Max(s.Ceiling/20, 0.5))
		s.Limit = math.Min(s.Limit, s.Rate/belowLimit)
	}
	s.Tokens = math.Min(math.Max(s.Tokens, 0), s.Burst)
	s.Cut, s.Probe = now, now.Add(probeAfter)
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
			learn(s, now, burst)
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

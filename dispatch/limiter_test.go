package dispatch

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
)

// TestBudgetNeverAboveRateInASlidingSecond reserves many urgent tokens at
// once (a backlog of sends) and checks every sliding window of one second
// over the grant times: never more than the rate, though the bucket's
// burst alone would allow rate + burst; and the whole takes the time the
// rate allows, within the window's slack.
func TestBudgetNeverAboveRateInASlidingSecond(t *testing.T) {
	const rate, burst, n = 100, 20, 1000
	l := newLimiter(rate, burst)
	t0 := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	var at []time.Time
	for i := range n {
		// Callers come a little apart and take one or two tokens, as sends
		// of one-phase and two-phase providers do.
		k := 1 + i%2
		g := l.reserve(t0.Add(time.Duration(i)*time.Millisecond), k)
		// Some callers wake late, as on a busy machine.
		if i%7 == 0 {
			g = g.Add(300 * time.Millisecond)
		}
		for {
			d := l.depart(g, k)
			if !d.After(g) {
				break
			}
			g = d
		}
		for range k {
			at = append(at, g)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	lo := 0
	for hi := range at {
		for at[hi].Sub(at[lo]) >= time.Second {
			lo++
		}
		if got := hi - lo + 1; got > rate {
			t.Fatalf("%d grants within one second ending %s (rate %d)", got, at[hi].Sub(t0), rate)
		}
	}
	total := at[len(at)-1].Sub(t0)
	ideal := time.Duration(float64(len(at)) / rate * float64(time.Second))
	if total < ideal*9/10 || total > ideal*11/10 {
		t.Fatalf("%d grants took %s, want about %s", len(at), total, ideal)
	}
}

// TestBudgetSpareWaitsForUrgent: a poll (spare) gets no token while a send
// (urgent) has one reserved ahead, and gets one once the bucket has
// tokens nobody waits for.
func TestBudgetSpareWaitsForUrgent(t *testing.T) {
	l := newLimiter(10, 1)
	t0 := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	if ok, _ := l.trySpare(t0, 1); !ok {
		t.Fatal("an idle budget refused a poll")
	}
	// A send reserves the next token (100 ms away at 10/s).
	g := l.reserve(t0, 1)
	l.depart(g, 1)
	if !g.After(t0) {
		t.Fatalf("send granted at %s, want after %s", g, t0)
	}
	if ok, wait := l.trySpare(t0.Add(50*time.Millisecond), 1); ok || wait <= 0 {
		t.Fatalf("poll granted while a send waits (ok %v, wait %s)", ok, wait)
	}
	if ok, _ := l.trySpare(g, 1); ok {
		t.Fatal("poll took the token the send reserved")
	}
	if ok, _ := l.trySpare(g.Add(150*time.Millisecond), 1); !ok {
		t.Fatal("poll refused a token nobody waits for")
	}
}

// TestRateLimitedOnceForABurst: 429 answers to requests that left together
// are one signal, and the rate is set just below what the provider
// accepted in the last second (never below half the rate), not halved at
// each refusal; a later refusal at that rate steps it down a tenth.
func TestRateLimitedOnceForABurst(t *testing.T) {
	now := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	p := newPool("p", PoolConfig{RatePerSecond: 200, Burst: 20, Concurrency: 16}, 10, time.Second, func() time.Time { return now })
	for range 150 {
		p.success()
		now = now.Add(6 * time.Millisecond) // 150 accepted in 0.9 s
	}
	for range 8 {
		p.rateLimited(time.Second)
	}
	if got, want := p.snapshot().Rate, 150*belowLimit; math.Abs(got-want) > 1e-9 {
		t.Fatalf("rate after one burst of refusals %v, want %v (just below the 150 accepted)", got, want)
	}
	now = now.Add(2 * time.Second)
	p.rateLimited(time.Second)
	if got, want := p.snapshot().Rate, 150*belowLimit*stepDown; math.Abs(got-want) > 1e-9 {
		t.Fatalf("rate after a second refusal past the pause %v, want %v", got, want)
	}
	// Nothing accepted before the first refusal: half the rate at most.
	now = now.Add(time.Hour)
	q := newPool("q", PoolConfig{RatePerSecond: 200, Burst: 20, Concurrency: 16}, 10, time.Second, func() time.Time { return now })
	q.rateLimited(time.Second)
	if got, want := q.snapshot().Rate, 100*belowLimit; math.Abs(got-want) > 1e-9 {
		t.Fatalf("rate after a refusal with nothing accepted %v, want %v", got, want)
	}
}

// TestLaterRequestsTakeTheirPlaceWhenTheyLeave: a submission of two
// requests books both tokens, but its second request leaves when the
// first is answered; the window must count it then, not when the first
// left, or the seconds after hold more requests than the rate.
func TestLaterRequestsTakeTheirPlaceWhenTheyLeave(t *testing.T) {
	p := newPool("two-phase", PoolConfig{RatePerSecond: 50, Burst: 5, Concurrency: 1}, 0, 0, time.Now)
	ctx := t.Context()
	if err := p.book(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var answered time.Time
	err := p.booked(ctx, 2, func(pace func(context.Context) error) {
		if err := pace(ctx); err != nil { // the session
			t.Error(err)
		}
		answered = time.Now()             // its answer came
		if err := pace(ctx); err != nil { // the start
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var grants []time.Time
	for _, g := range p.limiter.ordered() {
		if !g.IsZero() {
			grants = append(grants, g)
		}
	}
	if len(grants) != 2 {
		t.Fatalf("%d requests in the window, want 2", len(grants))
	}
	if grants[0].After(answered) || grants[1].Before(answered) {
		t.Errorf("window holds %v; the first request left before %v, the second after", grants, answered)
	}
}

// TestRequestsTakeTheirPlaceWhenSigned: a confirm, a lookup or a poll
// gets its token from wait, but takes its place in the sliding window
// only when the client paces it, right before it leaves (after signing
// it): a request placed in the window at its token would reach the
// provider later than the window counts it.
func TestRequestsTakeTheirPlaceWhenSigned(t *testing.T) {
	for _, prio := range []Priority{Urgent, Spare} {
		p := newPool("p", PoolConfig{RatePerSecond: 50, Burst: 5, Concurrency: 4}, 0, 0, time.Now)
		ctx, err := p.wait(t.Context(), prio, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := placed(p); got != 0 {
			t.Fatalf("priority %d: %d requests in the window before the request left, want 0", prio, got)
		}
		if err := providers.Pace(ctx); err != nil {
			t.Fatal(err)
		}
		if got := placed(p); got != 1 {
			t.Fatalf("priority %d: %d requests in the window after it left, want 1", prio, got)
		}
	}
}

// placed counts the requests in p's window.
func placed(p *pool) int {
	p.limiter.mu.Lock()
	defer p.limiter.mu.Unlock()
	n := 0
	for _, g := range p.limiter.window {
		if !g.IsZero() {
			n++
		}
	}
	return n
}

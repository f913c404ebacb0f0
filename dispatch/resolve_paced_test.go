package dispatch_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// pacedSession is a two-phase provider whose session waits for its
// confirm. Like a real client it calls providers.Pace before each request
// leaves, and counts its requests.
type pacedSession struct {
	twoPhase
	requests atomic.Int64
}

func (p *pacedSession) Capabilities() providers.Capabilities {
	return providers.Capabilities{DuplicateRefused: true, LookupByReference: true}
}

func (p *pacedSession) Lookup(ctx context.Context, r providers.Refs) (providers.Status, error) {
	if err := providers.Pace(ctx); err != nil {
		return providers.Status{}, err
	}
	p.requests.Add(1)
	return providers.Status{Outcome: providers.AwaitingConfirmation, Amount: money.Money{Minor: 1000, Currency: "RUB"},
		Refs: providers.Refs{PayoutID: r.PayoutID, SessionID: "ps_1"}}, nil
}

func (p *pacedSession) Confirm(ctx context.Context, r providers.Refs) (providers.Status, error) {
	if err := providers.Pace(ctx); err != nil {
		return providers.Status{}, err
	}
	p.requests.Add(1)
	return p.twoPhase.Confirm(ctx, r)
}

// TestResolverConfirmsWithinTheBudget: the resolver finds an in-doubt
// two-phase payout's session waiting for its confirm and confirms it; the
// lookup and the confirm both take their place in the provider's sliding
// window (the pool counts both). The confirm used to
// leave outside the budget.
func TestResolverConfirmsWithinTheBudget(t *testing.T) {
	j := testjournal.Open(t, nil)
	it := journaltest.ValidItem("r-1", "bank131", 1000)
	it.State = journal.Sending
	journaltest.Import(t, j, "B-r", it)
	if err := j.Apply(ctx, journal.Change{PayoutID: "r-1", From: journal.Sending, To: journal.InDoubt,
		Status: &providers.Status{Refs: providers.Refs{PayoutID: "r-1", SessionID: "ps_1"}}}); err != nil {
		t.Fatal(err)
	}
	p := &pacedSession{}
	d := dispatch.NewDispatcher(j, map[string]providers.Provider{"bank131": p}, dispatch.DispatchOptions{
		Pools: map[string]dispatch.PoolConfig{"bank131": {RatePerSecond: 50, Burst: 5, Concurrency: 2}}})
	if err := d.ResolveInDoubt(ctx); err != nil {
		t.Fatal(err)
	}
	if len(p.confirmed) != 1 || p.confirmed[0] != "ps_1" {
		t.Fatalf("confirmed %v, want ps_1", p.confirmed)
	}
	st := d.PoolStats()["bank131"]
	if n := p.requests.Load(); n != 2 || int64(st.Requests) != n || int64(st.BusiestSecond) != n {
		t.Fatalf("%d requests reached the provider, %d left through the pool (%d in its busiest second): want 2, 2, 2",
			n, st.Requests, st.BusiestSecond)
	}
}

package dispatch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/batchtest"
	"github.com/payrun/payrun/providers"
)

// gate is a provider whose Submit waits until the test opens the gate,
// and that counts what it was sent.
type gate struct {
	open      chan struct{}
	arrived   chan string
	submitted atomic.Int32
	inFlight  atomic.Int32
	maxFlight atomic.Int32
}

func (g *gate) Name() string { return "teemopay" }
func (g *gate) Capabilities() providers.Capabilities {
	return providers.Capabilities{LookupByReference: true}
}
func (g *gate) Submit(_ context.Context, p providers.Payout) (providers.Status, error) {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.maxFlight.Load()
		if n <= m || g.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	g.arrived <- p.ID
	<-g.open
	g.submitted.Add(1)
	return providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: p.ID, ProviderID: "G" + p.ID}}, nil
}
func (g *gate) Lookup(context.Context, providers.Refs) (providers.Status, error) {
	return providers.Status{}, providers.ErrNotFound
}
func (g *gate) ParseWebhook(providers.WebhookRequest) (providers.WebhookResult, error) {
	return providers.WebhookResult{}, providers.ErrUnsupported
}

// The pool's concurrency caps requests in flight, not journal work; an
// item whose intent was committed but whose request never got a slot when
// the run stopped goes back to queued, sends nothing and counts no send.
func TestStopWhileWaitingForASlot(t *testing.T) {
	j := batchtest.Journal(t, nil)
	var its []batch.Item
	for _, id := range []string{"s1", "s2", "s3", "s4"} {
		its = append(its, batchtest.ValidItem(id, "teemopay", 1000))
	}
	id := batchtest.Import(t, j, "B1", its...)
	g := &gate{open: make(chan struct{}), arrived: make(chan string, 8)}
	d := batch.NewDispatcher(j, map[string]providers.Provider{"teemopay": g},
		batch.DispatchOptions{Pools: map[string]batch.PoolConfig{"teemopay": {Concurrency: 1}}})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sum batch.Summary
	wg.Go(func() { sum, _ = d.Run(ctx, []string{id}, nil) })
	first := <-g.arrived
	// Other workers commit their intents and wait for the one slot.
	deadline := time.Now().Add(5 * time.Second)
	for sending(t, j, id) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := sending(t, j, id); n < 2 {
		t.Fatalf("%d items in sending with one request out, want at least 2", n)
	}
	cancel()
	time.Sleep(20 * time.Millisecond) // the waiting worker sees the stop
	close(g.open)
	wg.Wait()
	if g.submitted.Load() != 1 || g.maxFlight.Load() != 1 {
		t.Fatalf("submitted %d, max in flight %d; want 1 and 1", g.submitted.Load(), g.maxFlight.Load())
	}
	for _, it := range its {
		got, err := j.Item(it.PayoutID)
		if err != nil {
			t.Fatal(err)
		}
		want, sends := batch.Queued, 0
		if it.PayoutID == first {
			want, sends = batch.Submitted, 1
		}
		if got.State != want || got.Sends != sends {
			t.Errorf("%s: %s with %d sends, want %s with %d", it.PayoutID, got.State, got.Sends, want, sends)
		}
	}
	if sum.ByState[batch.Sending] != 0 {
		t.Fatalf("summary %v: items left in sending", sum.ByState)
	}
}

func sending(t *testing.T, j *batch.Journal, batchID string) int {
	t.Helper()
	n := 0
	if err := j.Items(batchID, func(it batch.Item) bool {
		if it.State == batch.Sending {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

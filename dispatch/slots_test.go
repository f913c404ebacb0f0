package dispatch_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
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
	j := testjournal.Open(t, nil)
	var its []journal.Item
	for _, id := range []string{"s1", "s2", "s3", "s4"} {
		its = append(its, journaltest.ValidItem(id, "teemopay", 1000))
	}
	id := journaltest.Import(t, j, "B1", its...)
	g := &gate{open: make(chan struct{}), arrived: make(chan string, 8)}
	d := dispatch.NewDispatcher(j, map[string]providers.Provider{"teemopay": g},
		dispatch.DispatchOptions{Pools: map[string]dispatch.PoolConfig{"teemopay": {Concurrency: 1}}})
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var sum dispatch.Summary
	wg.Go(func() { sum, _ = d.Run(runCtx, []string{id}, nil) })
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
	// The workers waiting for the slot see the stop and take their
	// intents back before the slot frees.
	for deadline := time.Now().Add(5 * time.Second); sending(t, j, id) > 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d items still in sending after the stop", sending(t, j, id))
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(g.open)
	wg.Wait()
	if g.submitted.Load() != 1 || g.maxFlight.Load() != 1 {
		t.Fatalf("submitted %d, max in flight %d; want 1 and 1", g.submitted.Load(), g.maxFlight.Load())
	}
	for _, it := range its {
		got, err := j.Item(ctx, it.PayoutID)
		if err != nil {
			t.Fatal(err)
		}
		want, sends := journal.Queued, 0
		if it.PayoutID == first {
			want, sends = journal.Submitted, 1
		}
		if got.State != want || got.Sends != sends {
			t.Errorf("%s: %s with %d sends, want %s with %d", it.PayoutID, got.State, got.Sends, want, sends)
		}
	}
	if sum.ByState[journal.Sending] != 0 {
		t.Fatalf("summary %v: items left in sending", sum.ByState)
	}
}

func sending(t *testing.T, j journal.Journal, batchID string) int {
	t.Helper()
	n := 0
	if err := j.BatchItems(ctx, batchID, func(it journal.Item) bool {
		if it.State == journal.Sending {
			n++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

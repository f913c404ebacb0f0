package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// waitState polls the journal until the item reaches a state.
func waitState(t *testing.T, j journal.Journal, provs map[string]providers.Provider, id string, want journal.State) journal.Item {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pollOnce(t, j, provs)
		it, err := j.Item(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if it.State == want {
			return it
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s (%s), want %s", id, it.State, it.Reason, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A ready_to_confirm whose amount does not match the input row is
// cancelled, never confirmed, and no money moves.
func TestMismatchingSessionIsCancelled(t *testing.T) {
	l, provs := landscape(t, 20*time.Millisecond)
	j := testjournal.Open(t, nil)
	it := journaltest.ValidItem("PO-MISMATCH-1", "bank131", 10000)
	journaltest.Import(t, j, "B1", it)
	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{})
	if _, err := d.Run(context.Background(), []string{"B1"}, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := j.Item(ctx, it.PayoutID)
	p := provs["bank131"]
	// The provider now reports a different amount for the journaled session.
	st, err := p.Lookup(context.Background(), got.Refs)
	for deadline := time.Now().Add(10 * time.Second); err == nil && st.Outcome != providers.AwaitingConfirmation; {
		if time.Now().After(deadline) {
			t.Fatalf("the session is %s after 10 s", st.Outcome)
		}
		time.Sleep(20 * time.Millisecond)
		st, err = p.Lookup(context.Background(), got.Refs)
	}
	if err != nil {
		t.Fatal(err)
	}
	st.Amount.Minor++ // what a tampered or wrong session would show
	if err := dispatch.Settle(context.Background(), j, p, st, "test"); err != nil {
		t.Fatal(err)
	}
	final, _ := j.Item(ctx, it.PayoutID)
	if final.State != journal.Cancelled || !strings.Contains(final.Reason, "amount") {
		t.Fatalf("item is %s (%s), want cancelled for the amount", final.State, final.Reason)
	}
	if paid := l.Kit("bank131").Ledger.PaidByReference()[it.PayoutID]; paid != 0 {
		t.Fatalf("a mismatching session moved money %d time(s)", paid)
	}
	if final.Confirms != 0 {
		t.Fatalf("a mismatching session was confirmed %d time(s)", final.Confirms)
	}
}

// A session that is not the journaled session of its payout is cancelled
// and the payout is untouched.
func TestOrphanSessionIsCancelled(t *testing.T) {
	l, provs := landscape(t, 20*time.Millisecond)
	j := testjournal.Open(t, nil)
	it := journaltest.ValidItem("PO-ORPHAN-1", "smartglocal", 5000)
	journaltest.Import(t, j, "B1", it)
	p := provs["smartglocal"]
	// An orphan: a session created for the payout whose answer was "lost".
	orphan := it.Payout
	orphan.Attempt = 7
	st, err := p.Submit(context.Background(), orphan)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); st.Outcome != providers.AwaitingConfirmation; {
		if time.Now().After(deadline) {
			t.Fatalf("the orphan session is %s after 10 s", st.Outcome)
		}
		time.Sleep(20 * time.Millisecond)
		if st, err = p.Lookup(context.Background(), st.Refs); err != nil {
			t.Fatal(err)
		}
	}
	if err := dispatch.Settle(context.Background(), j, p, st, "test"); err != nil {
		t.Fatal(err)
	}
	after, err := p.Lookup(context.Background(), st.Refs)
	if err != nil || after.Outcome != providers.Cancelled {
		t.Fatalf("orphan session is %s, %v; want cancelled", after.Outcome, err)
	}
	if got, _ := j.Item(ctx, it.PayoutID); got.State != journal.Accepted {
		t.Fatalf("the payout moved to %s because of an orphan session", got.State)
	}
	if paid := l.Kit("smartglocal").Ledger.PaidByReference()[it.PayoutID]; paid != 0 {
		t.Fatalf("orphan paid %d", paid)
	}
}

// A provider that is down does not stop the others: its breaker opens, its
// items stay queued for a later run, and the other providers' items go out.
func TestProviderDownDoesNotStopOthers(t *testing.T) {
	l, provs := landscape(t, 20*time.Millisecond)
	l.Kit("monnet").SetFaults(sandboxkit.Faults{Error5xxRate: 1})
	j := testjournal.Open(t, nil)
	var its []journal.Item
	for i := 0; i < 6; i++ {
		its = append(its, journaltest.ValidItem(fmt.Sprintf("PO-M-%d", i), "monnet", 1000))
		its = append(its, journaltest.ValidItem(fmt.Sprintf("PO-T-%d", i), "teemopay", 1000))
	}
	journaltest.Import(t, j, "B1", its...)
	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{MaxAttempts: 2, BackoffBase: time.Millisecond,
		BreakerFailures: 2, BreakerCooldown: time.Hour})
	runCtx, cancel := context.WithCancel(context.Background())
	type result struct {
		sum dispatch.Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := d.Run(runCtx, []string{"B1"}, nil)
		done <- result{sum, err}
	}()
	// TeemoPay's items are paid while Monnet is down...
	for i := 0; i < 6; i++ {
		waitState(t, j, provs, fmt.Sprintf("PO-T-%d", i), journal.Succeeded)
	}
	// ...then the operator stops the run: Monnet's items wait for a later one.
	cancel()
	r := <-done
	if r.err != nil && !errors.Is(r.err, context.Canceled) {
		t.Fatal(r.err)
	}
	if d.PoolStats()["monnet"].BreakerTrips == 0 {
		t.Errorf("monnet's breaker never opened: %+v", d.PoolStats()["monnet"])
	}
	for i := 0; i < 6; i++ {
		m, _ := j.Item(ctx, fmt.Sprintf("PO-M-%d", i))
		if m.State != journal.Queued {
			t.Errorf("monnet item %d is %s, want queued for a later run", i, m.State)
		}
	}
	if r.sum.Left != 6 {
		t.Errorf("summary left = %d, want the 6 monnet items", r.sum.Left)
	}
	if n := len(l.Kit("monnet").Ledger.Entries()); n != 0 {
		t.Errorf("monnet created %d payouts while answering 5xx", n)
	}
}

// A cap holds the rest of a batch, with the reason.
func TestCapHoldsTheRest(t *testing.T) {
	_, provs := landscape(t, 20*time.Millisecond)
	j := testjournal.Open(t, nil)
	var its []journal.Item
	for i := 0; i < 5; i++ {
		its = append(its, journaltest.ValidItem(fmt.Sprintf("PO-C-%d", i), "teemopay", 10000))
	}
	journaltest.Import(t, j, "B1", its...)
	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{Caps: []dispatch.Cap{
		{Provider: "teemopay", Scope: "day", MaxAmount: map[string]int64{"PEN": 25000}},
	}})
	sum, err := d.Run(context.Background(), []string{"B1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Held != 3 || len(sum.HeldWhy) != 1 || !strings.Contains(sum.HeldWhy[0], "250.00 PEN") {
		t.Fatalf("summary = %+v, want 3 held by the 250.00 PEN cap", sum)
	}
	for i, it := range its {
		got, _ := j.Item(ctx, it.PayoutID)
		if held := got.State == journal.Held; held != (i >= 2) {
			t.Errorf("row %d is %s", i, got.State)
		}
	}
}

// Payouts a daily cap held are sent once the cap allows them: on a later
// day, or at once when the cap is raised; a run the cap still stops moves
// nothing. Each is paid once, by the provider's ledger.
func TestHeldByCapSentWhenTheCapAllows(t *testing.T) {
	l, provs := landscape(t, 20*time.Millisecond)
	var days atomic.Int64
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	j := testjournal.Open(t, func() time.Time { return start.Add(time.Duration(days.Load()) * 24 * time.Hour) })
	var its []journal.Item
	for i := range 5 {
		its = append(its, journaltest.ValidItem(fmt.Sprintf("PO-H-%d", i), "teemopay", 10000))
	}
	journaltest.Import(t, j, "B1", its...)
	run := func(capMinor int64, wantHeld int) {
		t.Helper()
		d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{Caps: []dispatch.Cap{
			{Provider: "teemopay", Scope: "day", MaxAmount: map[string]int64{"PEN": capMinor}},
		}})
		// No batch named: every unfinished batch, as payrun resume and the
		// daemon's nightly run send.
		sum, err := d.Run(ctx, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Held != wantHeld || (wantHeld > 0) != (len(sum.HeldWhy) == 1) {
			t.Fatalf("day %d, cap %d: summary %+v, want %d held", days.Load(), capMinor, sum, wantHeld)
		}
		for i, it := range its {
			got, err := j.Item(ctx, it.PayoutID)
			if err != nil {
				t.Fatal(err)
			}
			if held := got.State == journal.Held; held != (i >= len(its)-wantHeld) {
				t.Errorf("day %d, cap %d: row %d is %s", days.Load(), capMinor, i, got.State)
			}
			if got.State != journal.Held && got.State.NeverSent() {
				t.Errorf("day %d, cap %d: row %d is %s, not sent", days.Load(), capMinor, i, got.State)
			}
		}
	}
	run(25000, 3) // two of 100.00 PEN within 250.00 a day
	run(25000, 3) // the same day: nothing moves
	days.Store(1)
	run(25000, 1) // the next day: two more
	run(50000, 0) // the cap raised: the last one
	waitLedgers(t, l, its)
	if n := len(l.Kit("teemopay").Ledger.Entries()); n != len(its) {
		t.Fatalf("the provider holds %d payouts, want %d", n, len(its))
	}
}

// Queueing a large batch writes thousands of transitions; the journal file
// grows while the batch is read. Writing inside the read used to hang.
func TestQueueLargeBatchDoesNotHang(t *testing.T) {
	j := testjournal.Open(t, nil)
	its := make([]journal.Item, 5000)
	for i := range its {
		its[i] = journaltest.ValidItem(fmt.Sprintf("PO-Q-%05d", i), "teemopay", 100)
	}
	journaltest.Import(t, j, "B1", its...)
	d := dispatch.NewDispatcher(j, map[string]providers.Provider{}, dispatch.DispatchOptions{})
	done := make(chan error, 1)
	go func() {
		_, err := d.Run(context.Background(), []string{"B1"}, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return: queueing hangs")
	}
	queued := 0
	_ = j.BatchItems(ctx, "B1", func(it journal.Item) bool {
		if it.State == journal.Queued {
			queued++
		}
		return true
	})
	if queued != len(its) {
		t.Fatalf("%d of %d queued", queued, len(its))
	}
}

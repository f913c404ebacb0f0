package dispatch_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
)

// A card collection waits for its beneficiary after its widget token;
// Collected queues it with the card's token, once: of two concurrent
// calls (one link used twice) one changes the payout, the other is
// ErrNotWaiting. SendNow pays it through the provider's pool.
func TestCollectedOnce(t *testing.T) {
	l, provs := landscape(t, 20*time.Millisecond)
	j := testjournal.Open(t, nil)
	it := journaltest.ValidItem("COL-1", "bank131", 5000)
	it.Payout.Beneficiary.CardToken = ""
	it.Payout.Beneficiary.Email = "ivan@example.com"
	id := journaltest.Import(t, j, "B1", it)
	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{})
	ctx := context.Background()
	if _, err := d.Run(ctx, []string{id}, nil); err != nil {
		t.Fatal(err)
	}
	got, _ := j.Item(ctx, "COL-1")
	if got.State != journal.AwaitingBeneficiary || got.Refs.ProviderID == "" {
		t.Fatalf("after the run: %s %+v", got.State, got.Refs)
	}
	if err := d.SendNow(ctx, "COL-1"); err != nil {
		t.Fatalf("SendNow of a waiting payout: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tok := range []string{journaltest.CardToken("a"), journaltest.CardToken("b")} {
		wg.Go(func() { errs[i] = d.Collected(ctx, "COL-1", tok, "card *0001") })
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), dispatch.ErrNotWaiting) {
		t.Fatalf("two uses: %v", errs)
	}
	got, _ = j.Item(ctx, "COL-1")
	if got.State != journal.Queued || got.Payout.Beneficiary.CardToken == "" || got.Last.Recipient != "card *0001" {
		t.Fatalf("after Collected: %s %q %q", got.State, got.Payout.Beneficiary.CardToken, got.Last.Recipient)
	}
	if err := d.SendNow(ctx, "COL-1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ = j.Item(ctx, "COL-1")
		if got.State == journal.Succeeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("COL-1 is %s (%s)", got.State, got.Reason)
		}
		// Webhooks are not wired here: the poller's part is a lookup.
		st, err := provs["bank131"].Lookup(ctx, got.LookupRefs())
		if err == nil {
			if _, err := journal.ApplyStatus(ctx, j, "COL-1", "test", st); err != nil {
				t.Fatal(err)
			}
			if got.State == journal.Submitted && st.Outcome == "awaiting_confirmation" {
				if err := dispatch.Settle(ctx, j, provs["bank131"], st, "test"); err != nil {
					t.Fatal(err)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := l.Kit("bank131").Ledger.PaidByReference()["COL-1"]; n != 1 {
		t.Errorf("paid %d times", n)
	}
	if err := d.Collected(ctx, "COL-1", journaltest.CardToken("c"), "card *0002"); !errors.Is(err, dispatch.ErrNotWaiting) {
		t.Errorf("Collected on a paid payout: %v", err)
	}
}

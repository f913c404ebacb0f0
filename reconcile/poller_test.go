package reconcile

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestAllWebhooksDropped: every sandbox loses every webhook; the poller
// alone takes every payout to its final state, and pays each once.
func TestAllWebhooksDropped(t *testing.T) {
	t.Parallel()
	names := []string{"monnet", "teemopay", "bank131", "smartglocal"}
	h := setup(t, names...)
	for _, n := range names {
		h.land.Kit(n).SetFaults(sandboxkit.Faults{WebhookDropRate: 1,
			Rules: []sandboxkit.Rule{{RefContains: "bad", Outcome: "fail"}}})
	}
	var items []journal.Item
	for _, n := range names {
		items = append(items,
			journaltest.ValidItem(n[:2]+"-ok-1", n, 1000),
			journaltest.ValidItem(n[:2]+"-ok-2", n, 2000),
			journaltest.ValidItem(n[:2]+"-bad", n, 3000))
	}
	h.dispatch("b1", items...)
	var waits atomic.Int64
	pl := NewPoller(h.j, h.provs, PollOptions{After: -1, Interval: time.Millisecond, Max: 10 * time.Millisecond,
		Wait: func(ctx context.Context, provider string) (context.Context, error) { waits.Add(1); return ctx, nil }})
	passes := 0
	eventually(t, 30*time.Second, "every payout to be final", func() bool {
		passes++
		if _, err := pl.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		open := 0
		_ = h.j.OpenItems(ctx, func(journal.Item) bool { open++; return true })
		return open == 0
	})
	for _, it := range items {
		got := h.item(it.PayoutID)
		want := journal.Succeeded
		if strings.Contains(it.PayoutID, "bad") {
			want = journal.Failed
		}
		if got.State != want {
			t.Errorf("%s is %s, want %s", it.PayoutID, got.State, want)
		}
	}
	if n := len(h.events()); n != 0 {
		t.Errorf("%d events arrived with every webhook dropped", n)
	}
	if waits.Load() == 0 {
		t.Error("the poller never waited on the rate-limit hook")
	}
	for _, n := range names {
		for ref, paid := range h.land.Kit(n).Ledger.PaidByReference() {
			if paid != 1 {
				t.Errorf("%s paid %s %d times", n, ref, paid)
			}
		}
	}
	res, err := Match(ctx, h.j, Scope{BatchID: "b1"}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[Category]int{}
	for _, l := range res.Lines {
		counts[l.Category]++
	}
	if counts[Matched] != 8 || counts[FailedAtProvider] != 4 || !res.Balanced() {
		t.Errorf("categories %v (balanced %v), want 8 matched and 4 failed, balanced", counts, res.Balanced())
	}
	t.Logf("closed %d payouts in %d poll passes", len(items), passes)
}

// raceWebhook is a provider whose status query is overtaken by a webhook:
// before the real query runs, a "failed" notification is applied.
type raceWebhook struct {
	providers.Provider
	j journal.Journal
}

func (r raceWebhook) Lookup(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	_, err := journal.ApplyStatus(ctx, r.j, refs.PayoutID, "webhook", providers.Status{Outcome: providers.Failed, Refs: refs,
		RawStatus: "REJECTED/BANK", Code: "4001", Message: "Bank Rejection"})
	if err != nil {
		return providers.Status{}, err
	}
	return r.Provider.Lookup(ctx, refs)
}

// TestStatusConflict: a webhook said failed, the status query says
// succeeded. The final state stays, the disagreement is recorded on the
// item, and the matcher reports status_conflict, carried forward as open.
func TestStatusConflict(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet")
	h.land.Kit("monnet").SetFaults(sandboxkit.Faults{WebhookDropRate: 1})
	h.dispatch("b1", journaltest.ValidItem("m-1", "monnet", 1500))
	// The sandbox pays it; the poller learns it only by asking.
	eventually(t, 10*time.Second, "the sandbox to pay", func() bool {
		return h.land.Kit("monnet").Ledger.PaidByReference()["m-1"] == 1
	})
	provs := map[string]providers.Provider{"monnet": raceWebhook{Provider: h.provs["monnet"], j: h.j}}
	st, err := NewPoller(h.j, provs, PollOptions{After: -1}).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	it := h.item("m-1")
	if st.Conflicts != 1 || it.State != journal.Failed || !strings.Contains(it.Conflict, "poller says succeeded") {
		t.Fatalf("stats %+v, item %s conflict %q: want one conflict recorded, state failed kept", st, it.State, it.Conflict)
	}
	res, err := Match(ctx, h.j, Scope{Open: true}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Lines) != 1 || res.Lines[0].Category != StatusConflict {
		t.Fatalf("open lines %+v, want the conflict", res.Lines)
	}
}

// TestPollerBackoff: an item the provider cannot be asked about (Monnet
// without its Id) is skipped, noted, and asked again later with a doubling
// wait up to the maximum.
func TestPollerBackoff(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j := submittedMonnet(t, clock)
	unsupported := stubProvider{name: "monnet", err: providers.ErrUnsupported}
	pl := NewPoller(j, map[string]providers.Provider{"monnet": unsupported},
		PollOptions{After: time.Minute, Interval: time.Minute, Max: 4 * time.Minute, Now: clock})
	var waits []time.Duration
	for range 5 {
		st, err := pl.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.Due != 0 {
			t.Fatalf("asked before it was due: %+v", st)
		}
		got, _ := j.Item(ctx, "m-1")
		next := got.NextPoll
		if next.IsZero() {
			next = got.Updated.Add(time.Minute)
		}
		now = next
		st, err = pl.RunOnce(context.Background())
		if err != nil || st.Unsupported != 1 {
			t.Fatalf("stats %+v err %v: want the unsupported query noted", st, err)
		}
		got, _ = j.Item(ctx, "m-1")
		waits = append(waits, got.NextPoll.Sub(now))
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute, 4 * time.Minute}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
}

// stubProvider answers every query with err.
type stubProvider struct {
	name string
	err  error
}

func (s stubProvider) Name() string                         { return s.name }
func (s stubProvider) Capabilities() providers.Capabilities { return providers.Capabilities{} }
func (s stubProvider) Submit(context.Context, providers.Payout) (providers.Status, error) {
	return providers.Status{}, s.err
}
func (s stubProvider) Lookup(context.Context, providers.Refs) (providers.Status, error) {
	return providers.Status{}, s.err
}
func (s stubProvider) ParseWebhook(providers.WebhookRequest) (providers.WebhookResult, error) {
	return providers.WebhookResult{}, providers.ErrSignature
}

// TestPollerSkipsWhatCannotBeAsked: a payout its provider cannot look up
// (Monnet without its own Id, providers.CanLookup) is noted as such
// without taking a slot of the provider's rate limit.
func TestPollerSkipsWhatCannotBeAsked(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j := submittedMonnet(t, clock)
	p, _, err := monnetClient(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	waits := 0
	pl := NewPoller(j, map[string]providers.Provider{"monnet": p}, PollOptions{Now: clock,
		Wait: func(ctx context.Context, _ string) (context.Context, error) { waits++; return ctx, nil }})
	now = now.Add(time.Hour)
	st, err := pl.RunOnce(context.Background())
	if err != nil || st.Unsupported != 1 || waits != 0 {
		t.Fatalf("stats %+v, %d waits, err %v: want it noted as unsupported without a wait", st, waits, err)
	}
}

// submittedMonnet returns a journal on clock holding m-1, a Monnet payout
// submitted without Monnet's own Id.
func submittedMonnet(t *testing.T, clock func() time.Time) journal.Journal {
	t.Helper()
	j := testjournal.Open(t, clock)
	importMonnet(t, j, "b1", "m-1", journal.Submitted)
	return j
}

// TestPollerWaitsAfterANotification: a payout a webhook moved is not asked
// about until After has passed since that news, even when its next poll
// was due earlier; then it is.
func TestPollerWaitsAfterANotification(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	j := submittedMonnet(t, clock)
	unsupported := stubProvider{name: "monnet", err: providers.ErrUnsupported}
	pl := NewPoller(j, map[string]providers.Provider{"monnet": unsupported},
		PollOptions{After: time.Minute, Interval: time.Minute, Max: time.Hour, Now: clock})
	// Polled once; the next poll is due a minute later.
	now = now.Add(time.Minute)
	if st, err := pl.RunOnce(ctx); err != nil || st.Unsupported != 1 {
		t.Fatalf("first poll %+v (%v)", st, err)
	}
	// News from the provider 50 s later (a notification's status).
	now = now.Add(50 * time.Second)
	if err := j.Apply(ctx, journal.Change{PayoutID: "m-1", To: journal.Submitted, Actor: "webhook",
		Status: &providers.Status{Outcome: providers.Processing, RawStatus: "IN_PROGRESS"}}); err != nil {
		t.Fatal(err)
	}
	// The poll that was due at +2 min waits for a minute after the news.
	now = now.Add(20 * time.Second)
	if st, err := pl.RunOnce(ctx); err != nil || st.Due != 0 {
		t.Fatalf("asked 20 s after a notification: %+v (%v)", st, err)
	}
	now = now.Add(41 * time.Second)
	if st, err := pl.RunOnce(ctx); err != nil || st.Due != 1 {
		t.Fatalf("not asked a minute after the notification: %+v (%v)", st, err)
	}
}

package reconcile

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// asked counts the status queries each payout got, and the rate-limit
// tokens each provider's queries took.
type asked struct {
	mu      sync.Mutex
	lookups map[string]int
	waits   map[string]int
}

func newAsked() *asked { return &asked{lookups: map[string]int{}, waits: map[string]int{}} }

func (a *asked) wait(ctx context.Context, provider string) (context.Context, error) {
	a.mu.Lock()
	a.waits[provider]++
	a.mu.Unlock()
	return ctx, nil
}

func (a *asked) of(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookups[id]
}

// counted is a provider whose status queries are counted by payout.
type counted struct {
	providers.Provider
	a *asked
}

func (c counted) Lookup(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	c.a.mu.Lock()
	c.a.lookups[refs.PayoutID]++
	c.a.mu.Unlock()
	return c.Provider.Lookup(ctx, refs)
}

// TestRecheckFindsSilentRefund: Smart Glocal refunds a paid payout
// manually and tells nobody. The journal keeps it succeeded (the audit's
// "Matched" that was money returned) until the poller's sweep asks about
// it again, within the provider's spare capacity, and moves it to
// reversed with the refund in its reason. A payout checked recently, one
// past the window and a Bank 131 payout (Bank 131 notifies refunds) are
// not asked.
func TestRecheckFindsSilentRefund(t *testing.T) {
	t.Parallel()
	h := setup(t, "smartglocal", "bank131")
	for _, n := range []string{"smartglocal", "bank131"} {
		h.land.Kit(n).SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{{RefContains: "rev", Outcome: "reverse"}}})
	}
	sg := []string{"sg-rev", "sg-rev-recent", "sg-rev-old"}
	h.dispatch("b1",
		journaltest.ValidItem("sg-rev", "smartglocal", 5000),
		journaltest.ValidItem("sg-rev-recent", "smartglocal", 5100),
		journaltest.ValidItem("sg-rev-old", "smartglocal", 5200),
		journaltest.ValidItem("k-ok", "bank131", 3500))
	for _, id := range append(sg, "k-ok") {
		h.waitState(id, journal.Succeeded)
	}
	eventually(t, 15*time.Second, "the sandbox to refund the smartglocal payouts", func() bool {
		n := 0
		for _, e := range h.land.Kit("smartglocal").Ledger.Entries() {
			if strings.HasPrefix(e.Reference, "sg-rev") && e.State == "reversed" {
				n++
			}
		}
		return n == len(sg)
	})
	h.settle()
	for _, id := range sg {
		if got := h.item(id).State; got != journal.Succeeded {
			t.Fatalf("%s is %s before the sweep; the sandbox sent a notification of a manual refund?", id, got)
		}
	}
	// The sweep runs a day and an hour after the successes.
	now := time.Now()
	later := func() time.Time { return now.Add(25 * time.Hour) }
	// sg-rev-recent was checked an hour before it; sg-rev-old succeeded
	// 31 days before it.
	if err := h.j.Update(ctx, "sg-rev-recent", func(x *journal.Item) { x.NextPoll = later().Add(23 * time.Hour) }); err != nil {
		t.Fatal(err)
	}
	if err := h.j.Update(ctx, "sg-rev-old", func(x *journal.Item) { x.Updated = later().Add(-31 * 24 * time.Hour) }); err != nil {
		t.Fatal(err)
	}
	a := newAsked()
	provs := map[string]providers.Provider{}
	for n, p := range h.provs {
		provs[n] = counted{Provider: p, a: a}
	}
	st, err := NewPoller(h.j, provs, PollOptions{Wait: a.wait, Now: later}).Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rechecked != 1 || st.Reversed != 1 || st.Errors != 0 {
		t.Errorf("stats %+v: want one payout asked again, found reversed", st)
	}
	got := h.item("sg-rev")
	if got.State != journal.Reversed || !strings.Contains(got.Reason, "reversed after success") || !strings.Contains(got.Reason, "refund rf_") {
		t.Errorf("sg-rev: %s (%q), want reversed with the refund in its reason", got.State, got.Reason)
	}
	for id, want := range map[string]int{"sg-rev": 1, "sg-rev-recent": 0, "sg-rev-old": 0, "k-ok": 0} {
		if n := a.of(id); n != want {
			t.Errorf("%s asked %d times, want %d", id, n, want)
		}
	}
	for _, id := range []string{"sg-rev-recent", "sg-rev-old", "k-ok"} {
		if s := h.item(id).State; s != journal.Succeeded {
			t.Errorf("%s is %s, want succeeded (not asked)", id, s)
		}
	}
	if a.waits["smartglocal"] != 1 || a.waits["bank131"] != 0 {
		t.Errorf("rate-limit tokens %v, want one for smartglocal's query", a.waits)
	}
	res, err := Match(ctx, h.j, Scope{BatchID: "b1"}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Lines {
		want := Matched
		if l.PayoutID == "sg-rev" {
			want = ReversedAfterSuccess
		}
		if l.Category != want {
			t.Errorf("%s: %s (%s), want %s", l.PayoutID, l.Category, l.Reason, want)
		}
	}
	if !res.Balanced() {
		t.Errorf("tie-out does not balance: %+v", res.TieOut)
	}
}

// stillPaid is a provider whose refunds come without a notification and
// whose payouts stay paid.
type stillPaid struct {
	stubProvider
	lookups int
}

func (s *stillPaid) Capabilities() providers.Capabilities {
	return providers.Capabilities{SilentReversals: true}
}

func (s *stillPaid) Lookup(_ context.Context, r providers.Refs) (providers.Status, error) {
	s.lookups++
	return providers.Status{Outcome: providers.Succeeded, Refs: r, RawStatus: "accepted/succeeded"}, nil
}

// TestRecheckSchedule: a paid payout at a provider that refunds silently
// is asked about a day after its success, then at most once a day, never
// past the window; an answer that it is still paid leaves its success's
// time alone; the journal is read whole at most once per RecheckScanGap;
// RunOnce never asks.
func TestRecheckSchedule(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	j := testjournal.Open(t, clock)
	it := journaltest.ValidItem("sg-1", "smartglocal", 5000)
	it.State = journal.Succeeded
	it.Refs.SessionID = "ps_1"
	journaltest.Import(t, j, "b1", it)
	p := &stillPaid{stubProvider: stubProvider{name: "smartglocal"}}
	pl := NewPoller(j, map[string]providers.Provider{"smartglocal": p}, PollOptions{Now: clock})
	step := func(at time.Duration, want int, what string) {
		t.Helper()
		now = t0.Add(at)
		if _, err := pl.Recheck(ctx); err != nil {
			t.Fatal(err)
		}
		if p.lookups != want {
			t.Fatalf("at +%v (%s): %d queries, want %d", at, what, p.lookups, want)
		}
	}
	step(time.Hour, 0, "within a day of the success")
	step(25*time.Hour, 1, "a day after the success")
	got, _ := j.Item(ctx, "sg-1")
	if got.State != journal.Succeeded || !got.Updated.Equal(t0) || !got.NextPoll.Equal(t0.Add(49*time.Hour)) {
		t.Fatalf("after the re-check: %s, updated %v, next %v: want succeeded, updated at the success, next a day later",
			got.State, got.Updated, got.NextPoll)
	}
	step(27*time.Hour, 1, "checked two hours ago")
	// The next check falls due, but the journal was read 30 minutes ago.
	if err := j.Update(ctx, "sg-1", func(x *journal.Item) { x.NextPoll = time.Time{} }); err != nil {
		t.Fatal(err)
	}
	step(27*time.Hour+30*time.Minute, 1, "the journal read within the scan gap")
	step(28*time.Hour+time.Minute, 2, "the scan gap passed")
	now = t0.Add(30 * 24 * time.Hour)
	if _, err := pl.RunOnce(ctx); err != nil || p.lookups != 2 {
		t.Fatalf("RunOnce asked about a paid payout (%d queries, %v)", p.lookups, err)
	}
	step(30*24*time.Hour+time.Minute, 2, "past the window")
}

package reconcile

import (
	"context"
	"testing"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// waitingSession is a two-phase provider whose session still waits for
// its confirm; it records whether each confirm came with the context the
// poller's Urgent returned.
type waitingSession struct {
	stubProvider
	confirms, urgent int
}

type urgentKey struct{}

func (w *waitingSession) Lookup(_ context.Context, r providers.Refs) (providers.Status, error) {
	return providers.Status{Outcome: providers.AwaitingConfirmation, Refs: r,
		Amount: money.Money{Minor: 1000, Currency: "RUB"}}, nil
}

func (w *waitingSession) Confirm(ctx context.Context, r providers.Refs) (providers.Status, error) {
	w.confirms++
	if ctx.Value(urgentKey{}) != nil {
		w.urgent++
	}
	return providers.Status{Outcome: providers.Processing, Refs: r}, nil
}

func (w *waitingSession) Cancel(context.Context, providers.Refs, string) (providers.Status, error) {
	return providers.Status{}, providers.ErrUnsupported
}

// TestPollerConfirmsAgainWithinTheBudget: a payout confirming whose
// provider still waits for the confirm (the first confirm's answer was
// lost) is confirmed again by the poller, and that confirm takes an urgent
// token (PollOptions.Urgent) and leaves with the context it returned:
// without it the request reached the provider outside its rate limit, and
// a night's busiest second at the provider held one request more than the
// rate (found by tracing a 10,000-row night's requests, see
// docs/BENCHMARKS.md).
func TestPollerConfirmsAgainWithinTheBudget(t *testing.T) {
	t.Parallel()
	j := testjournal.Open(t, nil)
	it := journaltest.ValidItem("c-1", "bank131", 1000)
	it.State = journal.Confirming
	it.Refs.SessionID = "ps_1"
	journaltest.Import(t, j, "B-c", it)
	p := &waitingSession{stubProvider: stubProvider{name: "bank131"}}
	var waits, urgents int
	pl := NewPoller(j, map[string]providers.Provider{"bank131": p}, PollOptions{After: -1,
		Wait: func(ctx context.Context, _ string) (context.Context, error) { waits++; return ctx, nil },
		Urgent: func(ctx context.Context, _ string) (context.Context, error) {
			urgents++
			return context.WithValue(ctx, urgentKey{}, true), nil
		}})
	if _, err := pl.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if p.confirms != 1 || p.urgent != 1 || urgents != 1 || waits != 1 {
		t.Fatalf("%d confirms (%d with the urgent context), %d urgent tokens, %d poll tokens: want one of each",
			p.confirms, p.urgent, urgents, waits)
	}
	if got, err := j.Item(ctx, "c-1"); err != nil || got.State != journal.Submitted {
		t.Fatalf("after the confirm: %s (%v), want submitted", got.State, err)
	}
}

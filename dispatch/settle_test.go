package dispatch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// twoPhase is a two-phase provider that records what it is asked to do.
type twoPhase struct {
	cancelled, confirmed []string
}

func (p *twoPhase) Name() string { return "bank131" }
func (p *twoPhase) Capabilities() providers.Capabilities {
	return providers.Capabilities{DuplicateRefused: true}
}
func (p *twoPhase) Submit(context.Context, providers.Payout) (providers.Status, error) {
	return providers.Status{}, providers.ErrUnsupported
}
func (p *twoPhase) Lookup(context.Context, providers.Refs) (providers.Status, error) {
	return providers.Status{}, providers.ErrNotFound
}
func (p *twoPhase) ParseWebhook(providers.WebhookRequest) (providers.WebhookResult, error) {
	return providers.WebhookResult{}, providers.ErrUnsupported
}
func (p *twoPhase) Confirm(_ context.Context, r providers.Refs) (providers.Status, error) {
	p.confirmed = append(p.confirmed, r.SessionID)
	return providers.Status{Outcome: providers.Processing, Refs: r}, nil
}
func (p *twoPhase) Cancel(_ context.Context, r providers.Refs, _ string) (providers.Status, error) {
	p.cancelled = append(p.cancelled, r.SessionID)
	return providers.Status{Outcome: providers.Cancelled, Refs: r}, nil
}

// TestSettleWaitsForTheAnswer: a ready_to_confirm about a session the
// journal does not know yet, for a payout whose request is still out, may
// be about its own session whose answer is not journaled yet: Settle
// neither cancels nor confirms it, and says so. Once the payout is in
// doubt, the same session is an orphan and is cancelled; once the answer
// is journaled, it is confirmed.
func TestSettleWaitsForTheAnswer(t *testing.T) {
	j := testjournal.Open(t, nil)
	p := &twoPhase{}
	for _, id := range []string{"w-1", "w-2"} {
		it := journaltest.ValidItem(id, "bank131", 1000)
		it.State = journal.Sending
		journaltest.Import(t, j, "B-"+id, it)
	}
	ready := func(id, session string) providers.Status {
		return providers.Status{Outcome: providers.AwaitingConfirmation, Amount: money.Money{Minor: 1000, Currency: "RUB"},
			Refs: providers.Refs{PayoutID: id, SessionID: session}}
	}
	if err := dispatch.Settle(ctx, j, p, ready("w-1", "ps_1"), "webhook"); !errors.Is(err, dispatch.ErrAnswerPending) {
		t.Fatalf("a session of a payout still sending: %v, want ErrAnswerPending", err)
	}
	if len(p.cancelled)+len(p.confirmed) != 0 {
		t.Fatalf("cancelled %v, confirmed %v while the answer was out", p.cancelled, p.confirmed)
	}
	// The answer is journaled: the session is the payout's, and confirmed.
	st := providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: "w-1", SessionID: "ps_1"}}
	if err := j.Apply(ctx, journal.Change{PayoutID: "w-1", From: journal.Sending, To: journal.Submitted, Status: &st}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch.Settle(ctx, j, p, ready("w-1", "ps_1"), "webhook"); err != nil || len(p.confirmed) != 1 {
		t.Fatalf("after the answer: %v, confirmed %v", err, p.confirmed)
	}
	// The answer was lost: the payout is in doubt, the session an orphan.
	if err := j.Apply(ctx, journal.Change{PayoutID: "w-2", From: journal.Sending, To: journal.InDoubt}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch.Settle(ctx, j, p, ready("w-2", "ps_2"), "webhook"); err != nil || len(p.cancelled) != 1 || p.cancelled[0] != "ps_2" {
		t.Fatalf("an orphan: %v, cancelled %v", err, p.cancelled)
	}
}

// answerBetweenReads is a journal whose PayoutByRef answers as it would
// have just before the dispatcher journaled the answer that names the
// session: the answer lands between Settle's two reads.
type answerBetweenReads struct {
	journal.Journal
}

func (answerBetweenReads) PayoutByRef(context.Context, string, string) (string, bool, error) {
	return "", false, nil
}

// TestSettleAnswerBetweenReads: a ready_to_confirm whose session the
// journal did not know when Settle asked, and whose payout names that
// session when Settle reads it, is the payout's own session: confirmed,
// never cancelled as an orphan (three nodes and SIGKILLs once lost a
// Smart Glocal payout that way).
func TestSettleAnswerBetweenReads(t *testing.T) {
	j := testjournal.Open(t, nil)
	p := &twoPhase{}
	it := journaltest.ValidItem("r-1", "bank131", 1000)
	it.State = journal.Sending
	journaltest.Import(t, j, "B-r", it)
	st := providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: "r-1", SessionID: "ps_r"}}
	if err := j.Apply(ctx, journal.Change{PayoutID: "r-1", From: journal.Sending, To: journal.Submitted, Status: &st}); err != nil {
		t.Fatal(err)
	}
	ready := providers.Status{Outcome: providers.AwaitingConfirmation, Amount: money.Money{Minor: 1000, Currency: "RUB"},
		Refs: providers.Refs{PayoutID: "r-1", SessionID: "ps_r"}}
	if err := dispatch.Settle(ctx, answerBetweenReads{j}, p, ready, "webhook"); err != nil {
		t.Fatal(err)
	}
	if len(p.cancelled) != 0 || len(p.confirmed) != 1 {
		t.Fatalf("cancelled %v, confirmed %v; want the payout's own session confirmed", p.cancelled, p.confirmed)
	}
}

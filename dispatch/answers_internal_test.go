package dispatch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
)

// heldApplies is a journal whose first applies wait until released, and
// which counts the changes of every Apply.
type heldApplies struct {
	journal.Journal
	hold    chan struct{}
	entered chan struct{}

	mu     sync.Mutex
	held   int
	groups []int
}

func (h *heldApplies) Apply(ctx context.Context, changes ...journal.Change) error {
	h.mu.Lock()
	h.groups = append(h.groups, len(changes))
	wait := h.held < answerFlushers
	h.held++
	h.mu.Unlock()
	if wait {
		h.entered <- struct{}{}
		<-h.hold
	}
	return h.Journal.Apply(ctx, changes...)
}

// TestAnswersCommitTogether: answers that arrive while every committer is
// busy are committed in one transaction; an answer whose item a webhook
// settled meanwhile is left as it is without failing the others, and an
// answer that cannot be recorded is the run's error and marks its item
// stuck, the others recorded.
func TestAnswersCommitTogether(t *testing.T) {
	ctx := context.Background()
	base := testjournal.Open(t, nil)
	const n = 12
	var items []journal.Item
	for i := range n {
		items = append(items, journaltest.ValidItem(fmt.Sprintf("p-%02d", i), "teemopay", 100+int64(i)))
	}
	journaltest.Import(t, base, "B", items...)
	for _, it := range items {
		if err := base.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Queued},
			journal.Change{PayoutID: it.PayoutID, To: journal.Sending}); err != nil {
			t.Fatal(err)
		}
	}
	// A webhook settles p-07 while its request is out.
	if err := base.Apply(ctx, journal.Change{PayoutID: "p-07", From: journal.Sending, To: journal.Succeeded, Actor: "webhook"}); err != nil {
		t.Fatal(err)
	}

	j := &heldApplies{Journal: base, hold: make(chan struct{}), entered: make(chan struct{}, answerFlushers)}
	var stuck []string
	a := &answers{j: j, log: slog.New(slog.NewTextHandler(io.Discard, nil)), ctx: ctx,
		stuck: func(id, _ string) { stuck = append(stuck, id) }}
	answer := func(id string) journal.Change {
		st := providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: id, ProviderID: "tp-" + id}}
		return journal.Change{PayoutID: id, From: journal.Sending, To: journal.Submitted, Actor: "dispatcher", Status: &st}
	}
	// Every committer takes one answer and is held in its commit.
	for i := range answerFlushers {
		a.later(answer(items[i].PayoutID))
		<-j.entered
	}
	// The rest arrive meanwhile, one of them for a payout never journaled.
	for _, it := range items[answerFlushers:] {
		a.later(answer(it.PayoutID))
	}
	a.later(answer("nowhere"))
	close(j.hold)
	err := a.wait()
	if err == nil {
		t.Fatal("an answer for a payout never journaled was not the run's error")
	}
	if len(stuck) != 1 || stuck[0] != "nowhere" {
		t.Errorf("stuck %v, want [nowhere]", stuck)
	}
	grouped := 0
	for _, g := range j.groups {
		grouped = max(grouped, g)
	}
	if want := n - answerFlushers + 1; grouped != want {
		t.Errorf("largest commit held %d answers (%v), want the %d that waited", grouped, j.groups, want)
	}
	for _, it := range items {
		got, err := base.Item(ctx, it.PayoutID)
		if err != nil {
			t.Fatal(err)
		}
		want := journal.Submitted
		if it.PayoutID == "p-07" {
			want = journal.Succeeded
		}
		if got.State != want {
			t.Errorf("%s is %s, want %s", it.PayoutID, got.State, want)
		}
	}
}

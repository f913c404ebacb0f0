package dispatch_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/money"
)

// heldBatch journals a batch of two PEN payouts (150.00), dropped by
// dropper, and holds it by a 100.00 PEN threshold.
func heldBatch(t *testing.T, j journal.Journal, id, dropper string) journal.Batch {
	t.Helper()
	journaltest.Import(t, j, id, journaltest.ValidItem(id+"-1", "teemopay", 10000), journaltest.ValidItem(id+"-2", "teemopay", 5000))
	err := j.SetBatch(ctx, id, func(b *journal.Batch) error {
		b.SHA256, b.DroppedBy = "sha-"+id, dropper
		b.Totals = []journal.Total{{Currency: "PEN", Provider: "teemopay", Count: 2, Amount: 15000}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dispatch.CheckBatch(ctx, j, id, dispatch.PreflightPolicy{HoldAbove: []money.Money{{Minor: 10000, Currency: "PEN"}}})
	if err != nil || !p.Held {
		t.Fatalf("pre-flight: %+v %v", p, err)
	}
	b, err := j.Batch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestApproveChecksWhatTheApproverSaw: an approval names its approver and
// sends back what they were shown; it is refused for a batch not held,
// for totals or a file that are not the batch's, and, under
// maker-checker, for the file's dropper or a batch whose dropper is not
// recorded. A refusal changes nothing; an approval records who, how,
// when (the journal's clock) and the totals approved.
func TestApproveChecksWhatTheApproverSaw(t *testing.T) {
	now := time.Date(2026, 11, 21, 15, 4, 5, 0, time.UTC)
	j := testjournal.Open(t, func() time.Time { return now })
	b := heldBatch(t, j, "B1", "bob")
	seen := dispatch.SeenOf(b)
	otherTotals := dispatch.Seen{SHA256: b.SHA256, Totals: []journal.Total{{Currency: "PEN", Provider: "teemopay", Count: 2, Amount: 15001}}}
	otherFile := dispatch.Seen{SHA256: "sha-other", Totals: b.Totals}
	fileAmounts := dispatch.Seen{Totals: []journal.Total{{Currency: "PEN", Amount: 15000}}} // an approvals file names amounts only
	tests := []struct {
		name string
		a    dispatch.Approval
		want error
	}{
		{"nobody", dispatch.Approval{Seen: &seen}, dispatch.ErrApproverUnknown},
		{"other totals", dispatch.Approval{By: "ana", Seen: &otherTotals}, dispatch.ErrTotalsChanged},
		{"other file", dispatch.Approval{By: "ana", Seen: &otherFile}, dispatch.ErrTotalsChanged},
		{"the dropper", dispatch.Approval{By: "BOB", Seen: &seen, DistinctFromDropper: true}, dispatch.ErrSameApprover},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := dispatch.Approve(ctx, j, "B1", tt.a); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if x, _ := j.Batch(ctx, "B1"); x.State != journal.BatchHeld || x.ApprovedBy != "" {
				t.Fatalf("a refused approval changed the batch: %+v", x)
			}
		})
	}
	if err := dispatch.Approve(ctx, j, "B1", dispatch.Approval{By: "ana", Via: "control socket", Seen: &fileAmounts, DistinctFromDropper: true}); err != nil {
		t.Fatal(err)
	}
	x, _ := j.Batch(ctx, "B1")
	if x.State != journal.BatchAccepted || x.ApprovedBy != "ana" || x.ApprovedVia != "control socket" || !x.Approved.Equal(now) ||
		len(x.ApprovedTotals) != 1 || x.ApprovedTotals[0].Amount != 15000 {
		t.Fatalf("approved batch: %+v", x)
	}
	if err := dispatch.Approve(ctx, j, "B1", dispatch.Approval{By: "ana"}); !errors.Is(err, dispatch.ErrNotHeld) {
		t.Fatalf("second approval: %v, want ErrNotHeld", err)
	}

	heldBatch(t, j, "B2", "")
	if err := dispatch.Approve(ctx, j, "B2", dispatch.Approval{By: "ana", DistinctFromDropper: true}); !errors.Is(err, dispatch.ErrApproverUnknown) {
		t.Fatalf("maker-checker without a recorded dropper: %v, want ErrApproverUnknown", err)
	}
}

// TestHoldOnlyBeforeSending: a batch not sent yet can be held, with who
// held it and why as its note; one being sent cannot.
func TestHoldOnlyBeforeSending(t *testing.T) {
	j := testjournal.Open(t, nil)
	journaltest.Import(t, j, "B1", journaltest.ValidItem("P1", "teemopay", 100))
	if err := dispatch.Hold(ctx, j, "B1", "ana", "checking with treasury"); err != nil {
		t.Fatal(err)
	}
	if b, _ := j.Batch(ctx, "B1"); b.State != journal.BatchHeld || b.Note != "held by ana: checking with treasury" {
		t.Fatalf("held batch: %s %q", b.State, b.Note)
	}
	if err := dispatch.Approve(ctx, j, "B1", dispatch.Approval{By: "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := dispatch.Hold(ctx, j, "B1", "ana", "card 4111111111111111 disputed"); err != nil {
		t.Fatal(err)
	}
	if b, _ := j.Batch(ctx, "B1"); strings.Contains(b.Note, "4111111111111111") {
		t.Fatalf("a card number kept in the note: %q", b.Note)
	}
	journaltest.Import(t, j, "B2", journaltest.ValidItem("P2", "teemopay", 100))
	if err := j.SetBatch(ctx, "B2", func(b *journal.Batch) error { b.State = journal.BatchDispatching; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := dispatch.Hold(ctx, j, "B2", "ana", ""); !errors.Is(err, dispatch.ErrNotHoldable) {
		t.Fatalf("hold of a batch being sent: %v", err)
	}
}

// holdingJournal holds batch id, as an operator would, just before the
// dispatcher marks it as being sent.
type holdingJournal struct {
	journal.Journal
	id string
}

func (h holdingJournal) SetBatch(ctx context.Context, id string, fn func(*journal.Batch) error) error {
	if id == h.id {
		if err := dispatch.Hold(ctx, h.Journal, id, "ana", "a late doubt"); err != nil {
			return err
		}
	}
	return h.Journal.SetBatch(ctx, id, fn)
}

// TestHoldDuringQueueingWins: a hold made while a dispatch run is queueing
// the batch keeps it held and sends none of its rows.
func TestHoldDuringQueueingWins(t *testing.T) {
	_, provs := landscape(t, 0)
	j := testjournal.Open(t, nil)
	journaltest.Import(t, j, "B1", journaltest.ValidItem("P1", "teemopay", 100), journaltest.ValidItem("P2", "monnet", 200))
	d := dispatch.NewDispatcher(holdingJournal{Journal: j, id: "B1"}, provs, dispatch.DispatchOptions{})
	sum, err := d.Run(ctx, []string{"B1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Sent != 0 || sum.Queued != 0 || len(sum.HeldWhy) != 1 {
		t.Fatalf("summary of a run whose batch was held meanwhile: %+v", sum)
	}
	if b, _ := j.Batch(ctx, "B1"); b.State != journal.BatchHeld {
		t.Fatalf("batch state %s, want held", b.State)
	}
	for _, id := range []string{"P1", "P2"} {
		if it, _ := j.Item(ctx, id); it.State != journal.Accepted {
			t.Fatalf("%s is %s, want accepted", id, it.State)
		}
	}
}

package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
)

// TestSuccessWithAnotherAmountNeedsReview: a correctly signed success whose
// amount differs from the payout's moves it to amount_mismatch, not
// succeeded: it is never counted as paid, is listed first for review by the
// matcher, and a dispatch run never sends it again.
func TestSuccessWithAnotherAmountNeedsReview(t *testing.T) {
	m := newMonnetDirect(t)
	m.add("m-1", journal.Submitted)
	m.add("m-2", journal.Submitted)
	// 1500 minor units in the payout, 1600 at Monnet.
	body := strings.Replace(m.notification("m-1", "90001", "SUCCESS", "PROCESSED"), `"amount":"1500"`, `"amount":"1600"`, 1)
	if code, _ := m.post(body, m.sign(body)); code != 200 {
		t.Fatalf("delivery answered %d", code)
	}
	ok := m.notification("m-2", "90002", "SUCCESS", "PROCESSED")
	if code, _ := m.post(ok, m.sign(ok)); code != 200 {
		t.Fatalf("delivery answered %d", code)
	}
	m.drain()
	got, _ := m.j.Item(ctx, "m-1")
	if got.State != journal.Mismatch || !strings.Contains(got.Reason, "16.00 PEN at the provider, 15.00 PEN in the input") {
		t.Fatalf("m-1 is %s (%q), want amount_mismatch", got.State, got.Reason)
	}
	if n := m.succeeded("m-1"); n != 0 {
		t.Fatalf("m-1 reached succeeded %d times", n)
	}
	if got, _ := m.j.Item(ctx, "m-2"); got.State != journal.Succeeded {
		t.Fatalf("m-2 is %s", got.State)
	}
	res, err := Match(ctx, m.j, Scope{BatchID: "b-m-1"}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ReviewCount != 1 || len(res.Review) != 1 || res.Review[0].PayoutID != "m-1" {
		t.Fatalf("review %d %+v", res.ReviewCount, res.Review)
	}
	for _, l := range res.Lines {
		if l.PayoutID == "m-1" && (l.Category == Matched || !l.Category.Exception()) {
			t.Fatalf("m-1 placed as %s", l.Category)
		}
	}
	// Never sent again: a dispatch run finds nothing to send.
	d := dispatch.NewDispatcher(m.j, m.provs, dispatch.DispatchOptions{})
	sum, err := d.Run(ctx, nil, nil)
	if err != nil || sum.Sent != 0 {
		t.Fatalf("dispatch run sent %d: %v", sum.Sent, err)
	}
}

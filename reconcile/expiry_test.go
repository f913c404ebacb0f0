package reconcile

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestLinkDeadline: a card push whose beneficiary never acts, and of which
// Monnet never says anything, does not wait forever: past the link's
// deadline (its 15-minute lifetime plus LinkGrace) the poller, which
// cannot ask Monnet without its Id, expires it. A beneficiary who then
// completes the form after all is paid, and that news wins: the payout
// moves from expired to succeeded, paid once.
func TestLinkDeadline(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet")
	h.land.Kit("monnet").SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{{RefContains: "gone", Outcome: "abandon"}}})
	gone := journaltest.Item("cp-gone", "monnet", providers.CardPush, 1500, "PEN")
	late := journaltest.Item("cp-late", "monnet", providers.CardPush, 2500, "PEN")
	h.dispatch("b1", gone, late)
	for _, id := range []string{"cp-gone", "cp-late"} {
		if it := h.item(id); it.State != journal.AwaitingBeneficiary || it.Last.URL == "" {
			t.Fatalf("%s is %s (url %q), want awaiting_beneficiary with its link", id, it.State, it.Last.URL)
		}
	}
	now := time.Now()
	pl := NewPoller(h.j, h.provs, PollOptions{After: time.Hour, Now: func() time.Time { return now }})
	// Before the deadline nothing changes.
	if _, err := pl.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if it := h.item("cp-gone"); it.State != journal.AwaitingBeneficiary {
		t.Fatalf("cp-gone is %s before its deadline", it.State)
	}
	now = now.Add(15*time.Minute + LinkGrace + time.Second)
	st, err := pl.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cp-gone", "cp-late"} {
		if it := h.item(id); it.State != journal.Expired || !strings.Contains(it.Reason, "no beneficiary action") {
			t.Fatalf("%s is %s (%q) past its deadline, want expired (pass %+v)", id, it.State, it.Reason, st)
		}
	}
	// The late beneficiary.
	url := h.item("cp-late").Last.URL + "/complete"
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"pan":"4111111111111111","expiry":"2030-12"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("completing the form: %s", resp.Status)
	}
	h.land.Kit("monnet").Clock.Advance(time.Minute)
	h.waitState("cp-late", journal.Succeeded)
	paid := h.land.Kit("monnet").Ledger.PaidByReference()
	if paid["cp-late"] != 1 || paid["cp-gone"] != 0 {
		t.Fatalf("ledger %v: want cp-late paid once, cp-gone never", paid)
	}
	res, err := Match(ctx, h.j, Scope{BatchID: "b1"}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Lines {
		if want := map[string]Category{"cp-gone": Expired, "cp-late": Matched}[l.PayoutID]; l.Category != want {
			t.Errorf("%s placed as %s, want %s", l.PayoutID, l.Category, want)
		}
	}
}

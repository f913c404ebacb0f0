package reconcile

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestReceiverConfirmsUnverifiedNotifications: Monnet Payin notifications
// sent as Monnet's own samples show them (payinVerification "") are not
// refused, and not believed either: the receiver asks Monnet's status
// query, and what it keeps is that answer. A forged unsigned claim of
// payment for an unpaid link changes nothing that is not true, and one
// about a link Monnet does not know is refused.
func TestReceiverConfirmsUnverifiedNotifications(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet")
	h.land.Kit("monnet").SetFaults(sandboxkit.Faults{UnsignedNotifications: true})
	h.dispatch("b1",
		journaltest.Item("link-paid", "monnet", providers.PaymentLink, 30_00, "PEN"),
		journaltest.Item("link-unpaid", "monnet", providers.PaymentLink, 40_00, "PEN"))
	for _, id := range []string{"link-paid", "link-unpaid"} {
		h.waitState(id, journal.AwaitingBeneficiary)
	}
	// The payer pays link-paid (the sandbox's stand-in for Monnet's page).
	resp, err := h.srv.Client().Post(h.land.URLs["monnet"]+"/_sandbox/payin/link-paid/pay", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h.waitState("link-paid", journal.Succeeded)
	h.settle()
	d := h.tap.deliveries("monnet")
	if len(d) == 0 || d[0].Status != http.StatusOK || !bytes.Contains(d[0].Body, []byte(`"payinVerification":""`)) {
		t.Fatalf("deliveries %+v: want the unsigned notification acknowledged", d)
	}
	before := h.snapshot()
	forged := bytes.Replace(d[0].Body, []byte(`"link-paid"`), []byte(`"link-unpaid"`), 1)
	if code, _ := h.post("monnet", d[0].Header, bytes.NewReader(forged)); code != http.StatusOK {
		t.Fatalf("unsigned claim about link-unpaid: %d", code)
	}
	h.settle()
	if it := h.item("link-unpaid"); it.State != journal.AwaitingBeneficiary {
		t.Fatalf("a forged unsigned notification moved link-unpaid to %s", it.State)
	}
	unknown := bytes.Replace(d[0].Body, []byte(`"link-paid"`), []byte(`"link-never"`), 1)
	if code, answer := h.post("monnet", d[0].Header, bytes.NewReader(unknown)); code != http.StatusUnauthorized || !strings.Contains(answer, "verification") {
		t.Fatalf("unsigned notification about an unknown link: %d %q, want 401", code, answer)
	}
	after := h.snapshot()
	if strings.Contains(firstDiff(before, after), "link-never") {
		t.Errorf("the unknown link left a trace: %s", firstDiff(before, after))
	}
}

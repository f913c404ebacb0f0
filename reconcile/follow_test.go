package reconcile

import (
	"testing"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
)

// TestNeedingPayrunLeavesNotifiedOnly: Follow waits for what payrun can still
// find out, not for a payout only the provider's notification can settle
// (a Monnet card push whose Id was lost with the answer to its creation).
func TestNeedingPayrunLeavesNotifiedOnly(t *testing.T) {
	p, _, err := monnetClient(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	item := func(id string, m providers.Method, st journal.State, monnetID string) journal.Item {
		it := journaltest.Item(id, "monnet", m, 1500, "PEN")
		it.State, it.Refs = st, providers.Refs{PayoutID: id, Method: m, ProviderID: monnetID}
		return it
	}
	j := testjournal.Open(t, nil)
	journaltest.Import(t, j, "B-1",
		item("lost-id", providers.CardPush, journal.Submitted, ""),       // only Monnet's notification can tell
		item("known-id", providers.CardPush, journal.Submitted, "90001"), // asked by Id
		item("in-doubt", providers.BankTransfer, journal.InDoubt, ""),    // the resolver resends
		item("link", providers.PaymentLink, journal.Submitted, ""),       // asked by reference
		item("waiting", providers.CardPush, journal.AwaitingBeneficiary, ""),
		item("paid", providers.BankTransfer, journal.Succeeded, "90002"),
	)
	n, err := NeedingPayrun(ctx, j, map[string]providers.Provider{"monnet": p}, []string{"B-1"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("open items = %d, want 3 (known-id, in-doubt, link)", n)
	}
}

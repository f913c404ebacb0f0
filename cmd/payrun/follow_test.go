package main

import (
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/batchtest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
	monnetsandbox "github.com/payrun/payrun/providers/monnet/sandbox"
)

// TestOpenItemsLeavesNotifiedOnly: follow waits for what payrun can still
// find out, not for a payout only the provider's notification can settle
// (a Monnet card push whose Id was lost with the answer to its creation).
func TestOpenItemsLeavesNotifiedOnly(t *testing.T) {
	creds, err := monnetsandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := creds.WriteFiles(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := monnet.New(cfg, providers.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	item := func(id string, m providers.Method, st batch.State, monnetID string) batch.Item {
		it := batchtest.Item(id, "monnet", m, 1500, "PEN")
		it.State, it.Refs = st, providers.Refs{PayoutID: id, Method: m, ProviderID: monnetID}
		return it
	}
	j := batchtest.Journal(t, nil)
	batchtest.Import(t, j, "B-1",
		item("lost-id", providers.CardPush, batch.Submitted, ""),       // only Monnet's notification can tell
		item("known-id", providers.CardPush, batch.Submitted, "90001"), // asked by Id
		item("in-doubt", providers.BankTransfer, batch.InDoubt, ""),    // the resolver resends
		item("link", providers.PaymentLink, batch.Submitted, ""),       // asked by reference
		item("waiting", providers.CardPush, batch.AwaitingBeneficiary, ""),
		item("paid", providers.BankTransfer, batch.Succeeded, "90002"),
	)
	rt := &app{j: j, provs: map[string]providers.Provider{"monnet": p}}
	n, err := rt.openItems([]string{"B-1"})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("open items = %d, want 3 (known-id, in-doubt, link)", n)
	}
}

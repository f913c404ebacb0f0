package journaltest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Item returns an accepted item for a provider with an amount in minor units.
func Item(id, provider string, method providers.Method, minor int64, currency string) journal.Item {
	return journal.Item{
		PayoutID: id,
		Provider: provider,
		Payout: providers.Payout{
			ID: id, Method: method, Country: "PE", Amount: money.Money{Minor: minor, Currency: currency},
			Description: "test payout",
			Beneficiary: providers.Beneficiary{Name: "Ana", LastName: "Quispe", Email: "ana@example.com",
				DocumentType: "DNI", DocumentNumber: "01234567", BankCode: "002", AccountType: "savings",
				AccountNumber: "1912345678901", CCI: "00243000584290204477", Phone: "987654321"},
		},
	}
}

// Import journals a batch of items (row numbers from 2, as in a file with
// a header row) and returns its id.
func Import(t testing.TB, j journal.Journal, id string, items ...journal.Item) string {
	t.Helper()
	for i := range items {
		if items[i].Row == 0 {
			items[i].Row = i + 2
		}
	}
	if err := j.Import(context.Background(), journal.Batch{ID: id, File: fmt.Sprintf("%s.csv", id), Rows: len(items), Valid: len(items)}, items); err != nil {
		t.Fatalf("import batch %s: %v", id, err)
	}
	return id
}

// ValidItem returns an item the provider's sandbox accepts and pays, for
// the provider's main method.
func ValidItem(id, provider string, minor int64) journal.Item {
	switch provider {
	case "bank131":
		it := Item(id, provider, providers.CardToken, minor, "RUB")
		it.Payout.Beneficiary.CardToken = CardToken(id)
		return it
	case "smartglocal":
		it := Item(id, provider, providers.CardToken, minor, "USD")
		it.Payout.Beneficiary.CardToken = CardToken(id)
		return it
	}
	return Item(id, provider, providers.BankTransfer, minor, "PEN")
}

// CardToken returns a well-formed card token (a 64-hex number_hash) derived
// from a seed.
func CardToken(seed string) string {
	sum := sha256.Sum256([]byte("card:" + seed))
	return hex.EncodeToString(sum[:])
}

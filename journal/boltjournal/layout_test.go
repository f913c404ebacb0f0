package boltjournal

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// TestStoredItemRoundTrip: what storeItem leaves out comes back, whether
// it equals its default or not, and items stored in full still read.
func TestStoredItemRoundTrip(t *testing.T) {
	at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	base := func() journal.Item {
		p := providers.Payout{ID: "p-1", Method: providers.BankTransfer, Country: "PE",
			Amount: money.Money{Minor: 150000, Currency: "PEN"}, Beneficiary: providers.Beneficiary{Name: "Ana", CCI: "002"}}
		it := journal.Item{PayoutID: "p-1", BatchID: "B1", Row: 2, Provider: "teemopay", Payout: p, State: journal.Succeeded,
			Refs: providers.Refs{PayoutID: "p-1", Method: p.Method, ProviderID: "T1"}, Sends: 1, Created: at, Updated: at,
			SentAt: at.Add(time.Second)}
		it.Last = providers.Status{Outcome: providers.Succeeded, Refs: it.Refs, RawStatus: "SUCCESS", Amount: p.Amount,
			Fee: 150, At: at.Add(time.Minute)}
		return it
	}
	cases := map[string]func(*journal.Item){
		"paid":                   func(*journal.Item) {},
		"no last status":         func(it *journal.Item) { it.Last = providers.Status{} },
		"last refs differ":       func(it *journal.Item) { it.Last.Refs = providers.Refs{PayoutID: "p-1", SessionID: "S9"} },
		"last refs only":         func(it *journal.Item) { it.Last = providers.Status{Refs: providers.Refs{ProviderID: "T2"}} },
		"refs without method":    func(it *journal.Item) { it.Refs.Method, it.Last.Refs.Method = "", "" },
		"refs of another payout": func(it *journal.Item) { it.Refs.PayoutID = "" },
		"payout id differs":      func(it *journal.Item) { it.Payout.ID = "" },
		"accepted": func(it *journal.Item) {
			it.State, it.Last, it.Refs.ProviderID, it.Sends, it.SentAt = journal.Accepted, providers.Status{}, "", 0, time.Time{}
		},
	}
	for name, change := range cases {
		it := base()
		change(&it)
		want := plainRoundTrip(t, it)
		raw, err := encodeItem(&it)
		if err != nil {
			t.Fatal(err)
		}
		var got journal.Item
		if err := decodeItem([]byte(it.PayoutID), raw, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: stored %s\nread  %+v\nwant  %+v", name, raw, got, want)
		}
		full, _ := json.Marshal(it)
		var old journal.Item
		if err := decodeItem([]byte(it.PayoutID), full, &old); err != nil || !reflect.DeepEqual(old, want) {
			t.Errorf("%s: an item stored in full reads %+v (%v), want %+v", name, old, err, want)
		}
		if len(raw) >= len(full) && name == "paid" {
			t.Errorf("stored %d bytes, in full %d", len(raw), len(full))
		}
	}
}

// plainRoundTrip is it through plain JSON: times as JSON gives them back.
func plainRoundTrip(t *testing.T, it journal.Item) journal.Item {
	t.Helper()
	raw, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	var out journal.Item
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

package boltjournal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
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

// TestNewItemsLeaveRoomToGrow: items written by putItems and then paid
// (their provider's ids and last status added, in transactions at bbolt's
// default fill, as the night's changes are) fit in the pages they were
// written on (all but one in a hundred), and those are fewer than for items written at the default
// half: the fill putItems chooses leaves room for what the items gain.
func TestNewItemsLeaveRoomToGrow(t *testing.T) {
	const n, chunk = 6000, 1000
	at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	newItem := func(i int) journal.Item {
		id := fmt.Sprintf("NT%09d", i)
		p := providers.Payout{ID: id, Method: providers.BankTransfer, Country: "PE",
			Amount: money.Money{Minor: int64(1000 + i*37%90000), Currency: "PEN"},
			Beneficiary: providers.Beneficiary{Name: fmt.Sprintf("Nombre%d", i%97), LastName: fmt.Sprintf("Apellido%d", i%89),
				DocumentType: "DNI", DocumentNumber: fmt.Sprintf("%08d", i*7919%100000000), BankCode: "002",
				AccountNumber: fmt.Sprintf("%014d", i*104729)}}
		return journal.Item{PayoutID: id, BatchID: "B1", Row: i + 2, Provider: "bank131", Payout: p,
			State: journal.Accepted, Created: at, Updated: at}
	}
	pay := func(it *journal.Item, i int) {
		it.State, it.Sends, it.SentAt, it.Updated = journal.Succeeded, 1, at.Add(time.Second), at.Add(time.Minute)
		it.Refs = providers.Refs{PayoutID: it.PayoutID, Method: it.Payout.Method,
			ProviderID: fmt.Sprintf("po_%010d", 5000000+i), SessionID: fmt.Sprintf("ps_%010d", 7000000+i)}
		it.Last = providers.Status{Outcome: providers.Succeeded, Refs: it.Refs, RawStatus: "succeeded",
			Amount: it.Payout.Amount, At: at.Add(time.Minute)}
	}
	// pages writes the items with putItems (at the fill it chooses, or at
	// half), pays them, and returns the items' leaf pages before and after,
	// and the bytes in use after.
	pages := func(t *testing.T, half bool) (int, int, int) {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "j.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for start := 0; start < n; start += chunk {
			err := db.Update(func(tx *bolt.Tx) error {
				for _, name := range allBuckets {
					if _, err := tx.CreateBucketIfNotExists(name); err != nil {
						return err
					}
				}
				items := make([]journal.Item, chunk)
				for i := range items {
					items[i] = newItem(start + i)
				}
				if err := putItems(tx, items); err != nil {
					return err
				}
				if half {
					tx.Bucket(bktItems).FillPercent = bolt.DefaultFillPercent
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		stats := func() bolt.BucketStats {
			var st bolt.BucketStats
			if err := db.View(func(tx *bolt.Tx) error { st = tx.Bucket(bktItems).Stats(); return nil }); err != nil {
				t.Fatal(err)
			}
			return st
		}
		written := stats().LeafPageN
		for start := 0; start < n; start += 100 {
			err := db.Update(func(tx *bolt.Tx) error {
				for i := start; i < start+100; i++ {
					it := newItem(i)
					pay(&it, i)
					if err := putItem(tx.Bucket(bktItems), []byte(it.PayoutID), &it); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		st := stats()
		return written, st.LeafPageN, st.LeafInuse
	}
	_, halfPages, halfInuse := pages(t, true)
	written, ours, inuse := pages(t, false)
	t.Logf("paid items: %d leaf pages written at half (%.0f%% full when paid), %d at the chosen fill (%d when paid, %.0f%% full)",
		halfPages, 100*float64(halfInuse)/float64(halfPages*os.Getpagesize()), written, ours,
		100*float64(inuse)/float64(ours*os.Getpagesize()))
	if ours > written+written/100 {
		t.Errorf("paying the items split more than one page in a hundred: %d written, %d when paid", written, ours)
	}
	if ours*10 > halfPages*9 {
		t.Errorf("paid items take %d pages, against %d when written at half: want a tenth fewer at least", ours, halfPages)
	}
}

// TestItemsFill: the rule's bounds.
func TestItemsFill(t *testing.T) {
	for _, c := range []struct {
		size, n int
		want    float64
	}{
		{0, 0, bolt.DefaultFillPercent},
		{100 * 40, 100, bolt.DefaultFillPercent}, // small items grow by more than they take
		{100 * 152, 100, 168.0 / 278},            // the night's rows
		{100 * 5000, 100, maxItemFill},
	} {
		if got := ItemsFill(c.size, c.n); got != c.want {
			t.Errorf("ItemsFill(%d, %d) = %v, want %v", c.size, c.n, got, c.want)
		}
	}
}

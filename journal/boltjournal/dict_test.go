package boltjournal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// TestDictionariesNeverChange: every item and event body a journal
// stored since schema 7 is compressed with these dictionaries and reads
// back only with the same bytes. A better dictionary is a new format byte
// beside the old one, never an edit of it.
func TestDictionariesNeverChange(t *testing.T) {
	for name, c := range map[string]struct{ text, sum string }{
		"items":         {itemDictText, "5b05de8eac5935e9e3587350e13aec288f5da41fb9036fab943013f8dccc60bf"},
		"notifications": {eventDictText, "3961763b03dedaf7d52b8924f0b6478f4402a812570530eae8b537fcf6f58a26"},
		"transitions":   {transitionDictText, "fd6768ba47ffd4a98d1728824de1eb745683af58d1ae666ba32ed437c6ac3a43"},
	} {
		sum := sha256.Sum256([]byte(c.text))
		if got := hex.EncodeToString(sum[:]); got != c.sum {
			t.Errorf("the %s dictionary changed (SHA-256 %s, was %s): journals written with it would no longer read", name, got, c.sum)
		}
	}
}

// TestDictionariesShrinkRecords: an item and a notification the
// dictionaries do not contain (other names, amounts, ids) are stored in
// well under what S2 alone makes of them, and read back as they were.
func TestDictionariesShrinkRecords(t *testing.T) {
	at := time.Date(2026, 12, 8, 2, 3, 4, 567891234, time.UTC)
	p := providers.Payout{ID: "PAY-778812", Method: providers.BankTransfer, Country: "PE",
		Amount: money.Money{Minor: 98765, Currency: "PEN"}, Description: "Honorarios diciembre",
		Beneficiary: providers.Beneficiary{Name: "Lucia", LastName: "Mendoza Torres", Email: "lucia.m@example.org", Phone: "912345678",
			DocumentType: "DNI", DocumentNumber: "44556677", BankCode: "011", AccountType: "savings", CCI: "01112300012345678901"}}
	it := journal.Item{PayoutID: p.ID, BatchID: "B20261208-9f8e7d6c5b", Row: 41, Provider: "monnet", Payout: p, State: journal.Succeeded,
		Refs: providers.Refs{PayoutID: p.ID, Method: p.Method, ProviderID: "88123"}, Sends: 1, Created: at, Updated: at.Add(time.Minute), SentAt: at}
	it.Last = providers.Status{Outcome: providers.Succeeded, Refs: it.Refs, RawStatus: "SUCCESS/PROCESSED", Amount: p.Amount, At: at.Add(time.Minute)}
	stored, err := encodeItem(&it)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := storeItem(&it)
	plain, _ := json.Marshal(s)
	if stored[0] != itemDictV1 || len(stored) > len(s2.EncodeBetter(nil, plain))*6/10 {
		t.Fatalf("item stored in %d bytes (format %d); S2 alone makes %d of its %d", len(stored), stored[0], len(s2.EncodeBetter(nil, plain)), len(plain))
	}
	var back journal.Item
	if err := decodeItem([]byte(it.PayoutID), stored, &back); err != nil || !reflect.DeepEqual(back, plainRoundTrip(t, it)) {
		t.Fatalf("item read back %+v (%v)", back, err)
	}

	ev, f := sampleEvent()
	rec := appendEventRecord(nil, &ev, &f)
	bare := appendEventRecord(nil, &journal.Event{Provider: ev.Provider, ID: ev.ID, PayoutID: ev.PayoutID, Type: ev.Type,
		Received: ev.Received, ReplayKeys: ev.ReplayKeys}, &f)
	if body := len(rec) - len(bare); rec[0] != eventRecordV3 || body > len(s2.EncodeBetter(nil, ev.Body))*6/10 {
		t.Fatalf("notification body stored in %d bytes (format %d); S2 alone makes %d of its %d", body, rec[0], len(s2.EncodeBetter(nil, ev.Body)), len(ev.Body))
	}
}

// TestRecordsOfEarlierSchemasRead: what schema 6 and earlier stored (an
// item's lean JSON, event bodies verbatim or compressed by S2 alone)
// reads the same as the records schema 7 writes.
func TestRecordsOfEarlierSchemasRead(t *testing.T) {
	ev, f := sampleEvent()
	k := eventKey(ev.Provider, ev.ID)
	noBody := ev
	noBody.Body = nil
	header := appendPlainRecord(nil, &noBody, &f) // format V1, no body
	v1 := append(bytes.Clone(header), ev.Body...)
	v2 := append(bytes.Clone(header), s2.EncodeBetter(nil, ev.Body)...)
	v2[0] = eventRecordV2
	for name, rec := range map[string][]byte{"verbatim": v1, "S2": v2, "schema 7": appendEventRecord(nil, &ev, &f)} {
		got, gotFact, err := readEventRecord(k, rec, true)
		if err != nil || !bytes.Equal(got.Body, ev.Body) || !reflect.DeepEqual(gotFact.Status, f.Status) {
			t.Errorf("%s record read body %q, status %+v (%v)", name, got.Body, gotFact.Status, err)
		}
	}

	at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	p := providers.Payout{ID: "p-1", Method: providers.CardToken, Country: "RU", Amount: money.Money{Minor: 100, Currency: "RUB"},
		Beneficiary: providers.Beneficiary{Name: "Ivan", CardToken: "tok"}}
	it := journal.Item{PayoutID: "p-1", BatchID: "B1", Row: 2, Provider: "bank131", Payout: p, State: journal.AwaitingConfirmation,
		Refs: providers.Refs{PayoutID: "p-1", Method: p.Method, SessionID: "ps_1"}, Sends: 1, Created: at, Updated: at}
	s, _ := storeItem(&it)
	lean, _ := json.Marshal(s) // schema 6's item
	var old, now journal.Item
	stored, _ := encodeItem(&it)
	if err := decodeItem([]byte("p-1"), lean, &old); err != nil {
		t.Fatal(err)
	}
	if err := decodeItem([]byte("p-1"), stored, &now); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old, now) {
		t.Fatalf("schema 6's item reads %+v, schema 7's %+v", old, now)
	}
}

// TestDamagedCompressedRecords: a compressed item or body cut short is an
// error, never a panic or a partial record.
func TestDamagedCompressedRecords(t *testing.T) {
	ev, f := sampleEvent()
	k := eventKey(ev.Provider, ev.ID)
	rec := appendEventRecord(nil, &ev, &f)
	noBody := ev
	noBody.Body = nil
	header := len(appendEventRecord(nil, &noBody, &f))
	for n := header + 1; n < len(rec); n++ {
		if _, _, err := readEventRecord(k, rec[:n], true); err == nil {
			t.Fatalf("event record cut to %d of %d bytes read without error", n, len(rec))
		}
	}
	it := journal.Item{PayoutID: "p-1", BatchID: "B1", Row: 2, Provider: "teemopay", State: journal.Accepted}
	stored, _ := encodeItem(&it)
	for n := 1; n < len(stored); n++ {
		var got journal.Item
		if err := decodeItem([]byte("p-1"), stored[:n], &got); err == nil {
			t.Fatalf("item cut to %d of %d bytes read without error", n, len(stored))
		}
	}
}

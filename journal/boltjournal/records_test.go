package boltjournal

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// TestTransitionRecord: a transition reads back as written, payload
// included, in a fraction of its JSON; one written as JSON by schema 5
// still reads.
func TestTransitionRecord(t *testing.T) {
	tr := journal.Transition{Seq: 7, PayoutID: "PR-1", From: journal.Sending, To: journal.Submitted,
		At: time.Date(2026, 3, 2, 3, 0, 0, 123456789, time.UTC), Actor: "dispatcher", Reason: "accepted",
		Payload: json.RawMessage(`{"raw":"answer"}`)}
	rec := appendTransition(nil, &tr)
	got, err := readTransition(7, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tr) {
		t.Fatalf("read back %+v, want %+v", got, tr)
	}
	old, _ := json.Marshal(tr)
	if len(rec) >= len(old)/2 {
		t.Fatalf("record of %d bytes, JSON %d", len(rec), len(old))
	}
	got, err = readTransition(7, old)
	if err != nil || !reflect.DeepEqual(got, tr) {
		t.Fatalf("schema 5 JSON read back %+v (%v)", got, err)
	}
	for n := 1; n < len(rec); n++ {
		if _, err := readTransition(7, rec[:n]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes read without an error", n, len(rec))
		}
	}
	// Schema 6 wrote every transition as V1; schema 7 compresses it.
	plain := appendPlainTransition(nil, &tr)
	got, err = readTransition(7, plain)
	if err != nil || !reflect.DeepEqual(got, tr) {
		t.Fatalf("schema 6 record read back %+v (%v)", got, err)
	}
	typical := journal.Transition{PayoutID: "INV-2026-000417", From: journal.AwaitingConfirmation, To: journal.Confirming, At: tr.At,
		Actor: "webhook", Reason: "amount, currency and recipient match the input row"}
	if z, p := appendTransition(nil, &typical), appendPlainTransition(nil, &typical); z[0] != transitionV2 || len(z) > len(p)/2 {
		t.Fatalf("a typical transition stored in %d bytes (format %d), %d uncompressed", len(z), z[0], len(p))
	}
}

// TestShortFact: a fact that its event's record carries is stored as
// what became of the event, and reads back whole; a fact that differs is
// stored in full.
func TestShortFact(t *testing.T) {
	at := time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)
	f := journal.EventFact{Provider: "bank131", EventID: "e-1", Received: at,
		Status: providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: "PR-1", SessionID: "ps_1"},
			Amount: money.Money{Minor: 100, Currency: "RUB"}, At: at.Add(-time.Second)}}
	ev := journal.Event{Provider: "bank131", ID: "e-1", PayoutID: "PR-1", Type: "payment_finished", Received: at,
		Body: []byte(`{"type":"payment_finished","session":{"id":"ps_1","status":"accepted","created_at":"2026-03-02T02:59:00.638099Z",` +
			`"updated_at":"2026-03-02T02:59:59.099907Z","amount_details":{"amount":100,"currency":"rub"},"payments":[{"id":"po_1",` +
			`"status":"succeeded","created_at":"2026-03-02T02:59:00.662597Z","updated_at":"2026-03-02T02:59:59.099907Z",` +
			`"customer":{"reference":"PR-1"},"payment_method":{"type":"card","card":{"last4":"8890","brand":"visa"}},` +
			`"amount_details":{"amount":100,"currency":"rub"},"metadata":{"payout_id":"PR-1"}}]}}`)}
	k := eventKey(f.Provider, f.EventID)
	rec := appendEventRecord(nil, &ev, &f)
	f.Applied, f.Note = true, "a note"
	short, err := encodeFact(k, rec, &f)
	if err != nil {
		t.Fatal(err)
	}
	if short[0] != factShort || len(short) > 16 {
		t.Fatalf("fact stored as %q", short)
	}
	got, err := decodeFact(k, rec, short)
	if err != nil || !sameFact(&got, &f) {
		t.Fatalf("short fact read back %+v (%v), want %+v", got, err, f)
	}
	other := f
	other.Status.Code = "changed"
	full, err := encodeFact(k, rec, &other)
	if err != nil || full[0] != '{' {
		t.Fatalf("a fact unlike its record stored as %q (%v)", full, err)
	}
	got, err = decodeFact(k, rec, full)
	if err != nil || !sameFact(&got, &other) {
		t.Fatalf("full fact read back %+v (%v)", got, err)
	}
	// The record's body is compressed, and reads back as received.
	back, _, err := readEventRecord(k, rec, true)
	if err != nil || string(back.Body) != string(ev.Body) {
		t.Fatalf("body read back %q (%v)", back.Body, err)
	}
	if rec[0] != eventRecordV3 {
		t.Fatalf("record format %d, want the compressed one", rec[0])
	}
	if !strings.Contains(string(appendEventRecord(nil, &journal.Event{Body: []byte(`{}`)}, &f)), `{}`) {
		t.Fatal("a tiny body was not stored verbatim")
	}
}

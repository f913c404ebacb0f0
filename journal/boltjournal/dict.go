package boltjournal

import (
	"errors"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
)

// Compression dictionaries. An item's JSON, a provider's notification and
// a transition are small (tens to hundreds of bytes) and compress poorly
// alone: S2 found little to repeat inside one of them (an event body of
// 553 bytes became 381, an item of 747 became 570). Between them they
// repeat almost everything: the field names, the states, the shape of a
// provider's notification. S2 can start from a dictionary of such text;
// with the ones below the same event bodies became 122 bytes, the items
// 228 and the transitions 23 instead of 58 (every record of a `payrun
// bench --night 3000` journal compressed both ways). A night's journal
// went from 3,699 bytes a payout to 1,818 (`payrun bench --night 20000`,
// with the page fill of layout.go).
//
// A dictionary is part of the format of every record written with it: a
// record names its dictionary by its format byte, and a dictionary is
// never edited once released (TestDictionariesNeverChange holds their
// SHA-256). A better one is a new format byte beside the old, which stays
// readable. A dictionary is only a hint: text it does not foresee (a new
// provider, a renamed field) is stored correctly, just larger.

// itemDictText is what stored items look like (storedItem's JSON, values
// invented): one item of each kind of payout, in the states an item
// spends its life in.
const itemDictText = `{"batch_id":"B20261207-0a1b2c3d4e","row":2,"provider":"bank131","state":"awaiting_confirmation","reason":"","attempt":1,"sends":1,"confirms":1,` +
	`"created":"2026-12-07T01:00:00.000000000Z","updated":"2026-12-07T01:00:00.000000000Z","sent_at":"2026-12-07T01:00:00.000000000Z","next_poll":"2026-12-07T01:00:00Z","polls":1,` +
	`"payout":{"method":"card_token","country":"RU","amount":{"minor":1000000,"currency":"RUB"},"description":"Payout","beneficiary":{"name":"Ivan","last_name":"Petrov","card_token":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},` +
	`"refs":{"provider_id":"po_100000","session_id":"ps_100000"},"last":{"outcome":"processing","raw_status":"in_progress/pending/confirm","amount":{"minor":1000000,"currency":"RUB"},"recipient":"card *0000 (visa) Ivan Petrov","at":"2026-12-07T01:00:00.000000Z"},"conflict":""}` +
	`{"batch_id":"B20261207-0a1b2c3d4e","row":3,"provider":"smartglocal","state":"succeeded","sends":1,"confirms":1,"created":"2026-12-07T01:00:00.000000000Z","updated":"2026-12-07T01:00:00.000000000Z","sent_at":"2026-12-07T01:00:00.000000000Z",` +
	`"payout":{"method":"card_token","country":"DE","amount":{"minor":5000,"currency":"EUR"},"description":"Payout","beneficiary":{"name":"Anna","last_name":"Schmidt","card_token":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},` +
	`"refs":{"provider_id":"po_100000","session_id":"ps_100000"},"last":{"outcome":"succeeded","raw_status":"accepted/succeeded","amount":{"minor":5000,"currency":"EUR"},"recipient":"card *0000 (visa) Anna Schmidt","at":"2026-12-07T01:00:00.000000Z"}}` +
	`{"batch_id":"B20261207-0a1b2c3d4e","row":4,"provider":"teemopay","state":"succeeded","sends":1,"created":"2026-12-07T01:00:00.000000000Z","updated":"2026-12-07T01:00:00.000000000Z","sent_at":"2026-12-07T01:00:00.000000000Z",` +
	`"payout":{"method":"bank_transfer","country":"PE","amount":{"minor":320000,"currency":"PEN"},"description":"Factura F001-0000","beneficiary":{"name":"Comercial Andina SAC","document_type":"RUC","document_number":"20100000000","bank_code":"003","account_type":"checking","account_number":"2003000000000","cci":"00320000000000000000"}},` +
	`"refs":{"provider_id":"TF2612060000PE0000000000000000"},"last":{"outcome":"succeeded","raw_status":"2","amount":{"minor":320000,"currency":"PEN"},"fee":1600,"at":"2026-12-06T20:00:00-05:00"}}` +
	`{"batch_id":"B20261207-0a1b2c3d4e","row":5,"provider":"monnet","state":"failed","sends":1,"created":"2026-12-07T01:00:00.000000000Z","updated":"2026-12-07T01:00:00.000000000Z","sent_at":"2026-12-07T01:00:00.000000000Z",` +
	`"payout":{"method":"bank_transfer","country":"PE","amount":{"minor":150000,"currency":"PEN"},"description":"Pago de planilla","beneficiary":{"name":"Sergio","last_name":"Quispe Ramos","email":"sergio.quispe@example.com","phone":"987654321","document_type":"DNI","document_number":"01234567","bank_code":"002","account_type":"savings","cci":"00200000000000000000"}},` +
	`"refs":{"provider_id":"70000"},"last":{"outcome":"failed","raw_status":"SUCCESS/PROCESSED","code":"4001","message":"Account closed","amount":{"minor":150000,"currency":"PEN"},"at":"2026-12-07T01:00:00Z"}}`

// eventDictText is what the providers' notifications look like (from
// their documents; values invented): Bank 131 and Smart Glocal sessions,
// Monnet's payout callback, TeemoPay's, a success and a failure each.
const eventDictText = `{"type":"ready_to_confirm","session":{"id":"ps_100000","status":"in_progress","created_at":"2026-12-07T01:00:00.000000Z","updated_at":"2026-12-07T01:00:00.000000Z","next_action":"confirm","amount_details":{"amount":1000000,"currency":"rub"},` +
	`"payments":[{"id":"po_100000","status":"pending","created_at":"2026-12-07T01:00:00.000000Z","updated_at":"2026-12-07T01:00:00.000000Z","customer":{"reference":"NT000000000"},"payment_method":{"type":"card","card":{"last4":"0000","brand":"visa"}},` +
	`"amount_details":{"amount":1000000,"currency":"rub"},"participant_details":{"recipient":{"full_name":"Ivan Petrov"}},"metadata":"NT000000000"}],"metadata":"NT000000000"}}` +
	`{"type":"payment_finished","session":{"id":"ps_100000","status":"accepted","created_at":"2026-12-07T01:00:00.000000Z","updated_at":"2026-12-07T01:00:00.000000Z","amount_details":{"amount":5000,"currency":"eur"},` +
	`"payments":[{"id":"po_100000","status":"succeeded","created_at":"2026-12-07T01:00:00.000000Z","updated_at":"2026-12-07T01:00:00.000000Z","customer":{"reference":"NT000000000"},"payment_method":{"type":"card","card":{"last4":"0000","brand":"visa"}},` +
	`"amount_details":{"amount":5000,"currency":"eur"},"participant_details":{"recipient":{"full_name":"Anna Schmidt"}},"metadata":{"metadata":"NT000000000"}}],"metadata":{"metadata":"NT000000000"}}}` +
	`{"payout":{"merchantId":"1000","id":"70000","orderId":"NT000000000","amount":"150000","currency":"PEN","bankCode":"002","name":"Sergio Quispe Ramos","customerEmail":"sergio.quispe@example.com"},` +
	`"output":{"stage":"SUCCESS","status":"PROCESSED","statusChangeDateTime":"20261207010000","authorizationCode":"170000","authorizationDate":"20261207010000"}}` +
	`{"merchantOrderNo":"NT000000000-F","tradeNo":"TF2612060000PE0000000000000000","amount":"3200.00","status":3,"errorCode":"1000","errorMessage":"Account missing or restricted","completeTime":"2026-12-06 20:00:00","sign":""}` +
	`{"merchantOrderNo":"NT000000000","tradeNo":"TF2612060000PE0000000000000000","amount":"3200.00","serviceAmount":"16.00","status":2,"completeTime":"2026-12-06 20:00:00","sign":"`

// transitionDictText is what transition records look like (layout.go,
// after their format byte): a payout's life at each kind of provider, the
// states and actors spelled as the records spell them.
var transitionDictText = func() string {
	var b []byte
	for _, t := range [...][4]string{
		{"accepted", "queued", "dispatcher", ""},
		{"queued", "sending", "dispatcher", ""},
		{"sending", "submitted", "dispatcher", ""},
		{"submitted", "awaiting_confirmation", "webhook", ""},
		{"awaiting_confirmation", "confirming", "webhook", "amount, currency and recipient match the input row"},
		{"confirming", "submitted", "webhook", ""},
		{"submitted", "succeeded", "webhook", ""},
		{"submitted", "failed", "poller", ""},
		{"sending", "in_doubt", "recovery", ""},
		{"in_doubt", "queued", "resolver", ""},
		{"sending", "awaiting_beneficiary", "dispatcher", ""},
		{"awaiting_beneficiary", "expired", "poller", ""},
		{"succeeded", "reversed", "webhook", ""},
		{"submitted", "amount_mismatch", "webhook", ""},
		{"queued", "held", "dispatcher", ""},
		{"awaiting_confirmation", "cancelled", "resolver", ""},
	} {
		b = appendRecString(b, "P-000000")
		for _, s := range t {
			b = appendRecString(b, s)
		}
	}
	return string(b)
}()

// The dictionaries, made once, when first used: S2 builds its match
// tables for a dictionary lazily, a few hundred kilobytes each.
var (
	itemDict  = sync.OnceValue(func() *s2.Dict { return s2.MakeDict([]byte(itemDictText), []byte(`{"batch_id":"`)) })
	eventDict = sync.OnceValue(func() *s2.Dict { return s2.MakeDict([]byte(eventDictText), []byte(`{"`)) })
	// A transition starts with its payout_id, which no dictionary holds.
	transitionDict = sync.OnceValue(func() *s2.Dict { return s2.MakeDict([]byte(transitionDictText), nil) })
)

// compress appends src compressed with d to dst, or reports false (dst
// unchanged) when that is not smaller. It uses S2's default level, not
// its "better" one: for records of tens to hundreds of bytes the better
// level clears half a megabyte of match tables for each (18 µs a
// notification, 6 µs a transition, against 1.3 µs), for 1 to 7% fewer
// bytes, and a payout writes some fifteen records.
func compress(d *s2.Dict, dst, src []byte) ([]byte, bool) {
	n := s2.MaxEncodedLen(len(src))
	if len(src) < 32 || n < 0 {
		return dst, false
	}
	out := slices.Grow(dst, n)
	enc := d.Encode(out[len(dst):len(dst)+n], src)
	if len(enc) >= len(src) {
		return dst, false
	}
	return out[:len(dst)+len(enc)], true
}

// compressRecord rewrites the record at dst[at:], its format byte then
// its fields, as format followed by the fields compressed with d, when
// that is smaller; otherwise it leaves the record as it is.
func compressRecord(d *s2.Dict, dst []byte, at int, format byte) []byte {
	if out, ok := compress(d, []byte{format}, dst[at+1:]); ok {
		return append(dst[:at], out...)
	}
	return dst
}

// expand returns what compress compressed with d; with d nil, what plain
// S2 compressed (the event bodies of schema 6).
func expand(d *s2.Dict, b []byte) ([]byte, error) {
	n, err := s2.DecodedLen(b)
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, errors.New("a record over 64 MiB")
	}
	if d == nil {
		return s2.Decode(make([]byte, n), b)
	}
	return d.Decode(make([]byte, n), b)
}

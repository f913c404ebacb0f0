package boltjournal

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// TestAppendFact holds appendFact to json.Marshal, byte for byte, over
// facts with every field filled at random (or left zero, for omitempty):
// strings that need escaping, invalid UTF-8, times in several zones. A
// field added to EventFact, providers.Status or its parts is filled too, so
// the test fails until the encoder writes it.
func TestAppendFact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 3000 {
		var f journal.EventFact
		fillRandom(rng, reflect.ValueOf(&f).Elem())
		want, err := json.Marshal(&f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFact(nil, &f); !bytes.Equal(got, want) {
			t.Fatalf("fact %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

var fillWords = []string{"a", "teemopay", "Muñoz", `say "hi"`, `back\slash`, "<b>&amp;</b>", "tab\there",
	"line\nbreak", "\u2028sep", "bad\xffutf8", "日本", "emoji 😀", "\x01ctl", "W000001|TW1|1|2026-11-21%2010:00:00"}

var fillZones = []*time.Location{time.UTC, time.FixedZone("PET", -5*3600), time.FixedZone("odd", 5*3600+1800)}

// fillRandom sets v, and every field of it, to random values; about one
// field in four is left zero.
func fillRandom(rng *rand.Rand, v reflect.Value) {
	if rng.IntN(4) == 0 {
		v.SetZero()
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)*int64(rng.IntN(2))).In(fillZones[rng.IntN(len(fillZones))])
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fillWords[rng.IntN(len(fillWords))])
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(rng.Int64N(2e12) - 1e12)
	case reflect.Uint8:
		v.SetUint(uint64(rng.IntN(256)))
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillRandom(rng, v.Field(i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), rng.IntN(3), rng.IntN(3)+2)
		for i := range s.Len() {
			fillRandom(rng, s.Index(i))
		}
		v.Set(s)
	default:
		panic("fillRandom: no filler for " + v.Type().String())
	}
}

// BenchmarkEncodeEvent encodes a TeemoPay callback's raw event and fact as
// schema 2 stored them (two JSON records: encoding/json writes the bytes
// its encoders wrote) and as Persist does now (one event record), and
// prints what each stores.
func BenchmarkEncodeEvent(b *testing.B) {
	ev, f := sampleEvent()
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		size := 0
		for b.Loop() {
			e, err := json.Marshal(&ev)
			if err != nil {
				b.Fatal(err)
			}
			g, err := json.Marshal(&f)
			if err != nil {
				b.Fatal(err)
			}
			size = len(e) + len(g)
		}
		b.ReportMetric(float64(size), "stored-bytes")
	})
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = appendEventRecord(buf[:0], &ev, &f)
		}
		b.ReportMetric(float64(len(buf)), "stored-bytes")
	})
}

// sampleEvent is a TeemoPay SUCCESS callback's raw event and its fact, as
// the receiver persists them.
func sampleEvent() (journal.Event, journal.EventFact) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)
	body := []byte(`{"merchantOrderNo":"W000001","tradeNo":"TW000001","amount":"1500.00","serviceAmount":"1.50",` +
		`"status":"SUCCESS","completeTime":"2026-11-21 05:00:00","sign":"` + strings.Repeat("A", 172) + `"}`)
	ev := journal.Event{Provider: "teemopay", ID: "W000001|TW000001|2|2026-11-21%2005:00:00", PayoutID: "W000001",
		Type: "success", Received: at, Body: body, ReplayKeys: []string{"teemopay:0123456789abcdef0123456789abcdef"}}
	f := journal.EventFact{Provider: "teemopay", EventID: ev.ID, Received: at, Status: providers.Status{
		Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: "W000001", Method: providers.BankTransfer, ProviderID: "TW000001"},
		RawStatus: "SUCCESS", Amount: money.Money{Minor: 150000, Currency: "PEN"}, Fee: 150,
		At: time.Date(2026, 11, 21, 5, 0, 0, 0, time.FixedZone("", -5*3600))}}
	return ev, f
}

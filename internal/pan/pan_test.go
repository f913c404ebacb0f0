package pan

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // masked numbers found
	}{
		{"visa", "4111111111111111", []string{"411111******1111"}},
		{"visa spaced", "4111 1111 1111 1111", []string{"411111******1111"}},
		{"visa dashed", "4111-1111-1111-1111", []string{"411111******1111"}},
		{"visa 13", "4222222222222", []string{"*********2222"}},
		{"visa 19", "4111111111111111110", []string{"411111*********1110"}},
		{"mastercard 5", "5555555555554444", []string{"555555******4444"}},
		{"mastercard 2", "2221000000000009", []string{"222100******0009"}},
		{"amex", "3782 822463 10005", []string{"***********0005"}},
		{"discover", "6011111111111117", []string{"601111******1117"}},
		{"jcb", "3530111333300000", []string{"353011******0000"}},
		{"diners 14", "30569309025904", []string{"**********5904"}},
		{"diners 38", "38520000023237", []string{"**********3237"}},
		{"unionpay", "6200000000000005", []string{"620000******0005"}},
		{"maestro", "6759649826438453", []string{"675964******8453"}},
		{"mir", "2200000000000004", []string{"220000******0004"}},
		{"in a sentence", "pago tarjeta 4111 1111 1111 1111, gracias", []string{"411111******1111"}},
		{"after a colon", "tarjeta:4111111111111111.", []string{"411111******1111"}},
		{"after an underscore", "PAN_4111111111111111", []string{"411111******1111"}},
		{"after an accent", "N°4111111111111111", []string{"411111******1111"}},
		{"two of them", "4111111111111111 and 5555-5555-5555-4444", []string{"411111******1111", "555555******4444"}},
		{"after other groups", "ref 12 4111 1111 1111 1111", []string{"411111******1111"}},
		{"before other groups", "4111 1111 1111 1111 99", []string{"411111******1111"}},
		{"JSON escape before", `"x\n4111111111111111"`, []string{"411111******1111"}},
		{"JSON string", `{"card":"4111111111111111"}`, []string{"411111******1111"}},
		// Card numbers as people and spreadsheets write them: any space
		// (Excel and LibreOffice group digits with no-break spaces), a
		// line break inside a cell, any dash, runs of up to three.
		{"two spaces", "4111  1111  1111  1111", []string{"411111******1111"}},
		{"no-break spaces", "4111\u00a01111\u00a01111\u00a01111", []string{"411111******1111"}},
		{"narrow no-break spaces", "4111\u202f1111\u202f1111\u202f1111", []string{"411111******1111"}},
		{"thin spaces", "4111\u20091111\u20091111\u20091111", []string{"411111******1111"}},
		{"tabs", "4111\t1111\t1111\t1111", []string{"411111******1111"}},
		{"line breaks", "5555\n5555\r\n5555\n4444", []string{"555555******4444"}},
		{"en dashes", "5105\u20131051\u20130510\u20135100", []string{"510510******5100"}},
		{"spaced dashes", "4111 - 1111 - 1111 - 1111", []string{"411111******1111"}},
		{"dots", "4111.1111.1111.1111", []string{"411111******1111"}},
		{"amex dots", "3782.822463.10005", []string{"***********0005"}},
		{"slashes", "6011/1111/1111/1117", []string{"601111******1117"}},
		{"JSON escaped spaces", `"4111\u00a01111\u00A01111\u202f1111"`, []string{"411111******1111"}},
		{"JSON escaped line breaks", `"4111\n1111\r\n1111\t1111"`, []string{"411111******1111"}},
		{"JSON escaped digits", `"\u0034\u0030\u0031\u0032888888881881"`, []string{"401288******1881"}},
		{"after a JSON escape", `"\u00e94111111111111111"`, []string{"411111******1111"}},

		{"luhn fails", "4111111111111112", nil},
		{"unknown issuer", "1234567812345670", nil},
		{"issuer 9", "9111111111111111", nil},
		{"mastercard gap", "2721000000000004", nil},
		{"12 digits", "411111111113", nil},
		{"20 digits", "41111111111111111114", nil},
		{"glued to letters before", "ps_a4111111111111111", nil},
		{"glued to letters after", "4111111111111111x", nil},
		{"four spaces", "4111    1111    1111    1111", nil},
		{"amounts with dots", "pagos 450.00 / 520.00 / 610.00 / 4111.50", nil},
		{"short groups with dots", "41.11.11.11.11.11.11.11", nil},
		{"dates", "2026-12-07 21:20:43 / 07.12.2026", nil},
		{"hex digits of an escape", `"\u4111111111111111"`, nil},
		{"glued to a JSON escape's letters", `"x\u00341111111111111111"`, nil},
		{"CCI", "00243000584290204477", nil},
		{"RUC", "20629932888", nil},
		{"phone", "987654321", nil},
		{"amount", "1500.50", nil},
		{"card token", "8b1b924ff7cdbb10386fbf9f054185419eaabfbf37e8de0fc62ff7d06b3f5c2d", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, m := range Find(tc.text) {
				got = append(got, m.Masked)
				if _, ok := digitAt(tc.text, m.Start); strings.ContainsAny(tc.text[m.Start:m.End], "*") || !ok || !isDigit(tc.text[m.End-1]) {
					t.Errorf("match %d:%d is %q", m.Start, m.End, tc.text[m.Start:m.End])
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Find(%q) = %q, want %q", tc.text, got, tc.want)
			}
			if Contains(tc.text) != (len(tc.want) > 0) {
				t.Errorf("Contains(%q) = %v", tc.text, !(len(tc.want) > 0))
			}
		})
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"4111111111111111":    "411111******1111",
		"4111 1111 1111 1111": "411111******1111",
		"378282246310005":     "***********0005",
		"4222222222222":       "*********2222",
		"123":                 "***",
		"":                    "",
	} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskText(t *testing.T) {
	for in, want := range map[string]string{
		"pago 4111 1111 1111 1111 ok":                "pago 4111 11** **** 1111 ok",
		"4111-1111-1111-1111":                        "4111-11**-****-1111",
		"tarjeta 4111\u00a01111\u00a01111\u00a01111": "tarjeta 4111\u00a011**\u00a0****\u00a01111",
		"4111.1111.1111.1111":                        "4111.11**.****.1111",
		"378282246310005":                            "***********0005",
		"no card 1234":                               "no card 1234",
		// Masking the first number must not leave one behind.
		"4111111111111111 5555555555554444": "411111******1111 555555******4444",
	} {
		if got := MaskText(in); got != want {
			t.Errorf("MaskText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"JSON string", `{"pan":"4111111111111111"}`, `{"pan":"411111******1111"}`},
		{"JSON string spaced", `{"d":"card 4111 1111 1111 1111"}`, `{"d":"card 4111 11** **** 1111"}`},
		{"JSON number", `{"pan":4111111111111111}`, `{"pan":4111110000001111}`},
		{"JSON number, zeros pass Luhn", `{"pan":4242424242424242}`, `{"pan":4242420000014242}`},
		{"JSON number, short", `[378282246310005]`, `[900000000000005]`},
		{"form", "card=4111-1111-1111-1111&amount=100", "card=4111-11**-****-1111&amount=100"},
		{"text", "PAN 4111111111111111\n", "PAN 411111******1111\n"},
		{"JSON no-break spaces", `{"m":"card 4111\u00a01111\u00a01111\u00a01111"}`, `{"m":"card 4111\u00a011**\u00a0****\u00a01111"}`},
		{"JSON escaped digits", `{"pan":"\u0034\u0030\u0031\u0032888888881881"}`, `{"pan":"\u0034\u0030\u0031\u003288******1881"}`},
		{"JSON line breaks", `{"s":"4111\n1111\n1111\n1111"}`, `{"s":"4111\n11**\n****\n1111"}`},
		{"UTF-8 no-break spaces", "{\"d\":\"4111\u00a01111\u00a01111\u00a01111\"}", "{\"d\":\"4111\u00a011**\u00a0****\u00a01111\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Scrub([]byte(tc.in))
			if string(got) != tc.want {
				t.Errorf("Scrub(%s) = %s, want %s", tc.in, got, tc.want)
			}
			if json.Valid([]byte(tc.in)) && !json.Valid(got) {
				t.Errorf("Scrub made invalid JSON: %s", got)
			}
		})
	}
	clean := []byte(`{"id":"ps_3230","amount":10000,"token":"8b1b924ff7cdbb10386fbf9f054185419eaabfbf37e8de0fc62ff7d06b3f5c2d"}`)
	if got := Scrub(clean); &got[0] != &clean[0] {
		t.Error("Scrub copied a payload without a card number")
	}
	in := []byte(`{"pan":"4111111111111111"}`)
	orig := string(in)
	Scrub(in)
	if string(in) != orig {
		t.Error("Scrub changed its argument")
	}
}

// FuzzScrub: whatever the payload, Scrub keeps its length and every byte
// that is not a digit, leaves no card number, keeps valid JSON valid, and
// scrubbing twice changes nothing more. MaskText holds the same promises
// for text.
func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		`{"pan":"4111111111111111","n":4111111111111111}`,
		"card=4111-1111-1111-1111&x=1",
		"4000 0000 4111 1111 1111 1111 5555 5555 5555 4444",
		"ref 12 4111 1111 1111 1111 99",
		`"\n4111111111111111\t378282246310005"`,
		"8b1b924ff7cdbb10386fbf9f054185419eaabfbf37e8de0fc62ff7d06b3f5c2d",
		"4111\u00a01111\u202f1111\u20131111 4111.1111/1111  1111",
		`{"a":"\u0034111\u00a01111\n1111\t1111","b":4111111111111111.1111}`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := append([]byte(nil), in...)
		out := Scrub(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("Scrub changed its argument")
		}
		check := func(what string, out []byte) {
			if len(out) != len(in) {
				t.Fatalf("%s: length %d, want %d", what, len(out), len(in))
			}
			for i := range in {
				if out[i] != in[i] && !isDigit(in[i]) {
					t.Fatalf("%s changed byte %d (%q) of %q into %q", what, i, in[i], in, out)
				}
			}
			if ms := Find(string(out)); len(ms) > 0 {
				t.Fatalf("%s left a card number %s in %q", what, ms[0].Masked, out)
			}
		}
		check("Scrub", out)
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("Scrub made invalid JSON of %q: %q", in, out)
		}
		if again := Scrub(out); !bytes.Equal(again, out) {
			t.Fatalf("Scrub is not idempotent: %q then %q", out, again)
		}
		check("MaskText", []byte(MaskText(string(in))))
	})
}

// TestNoAllocations: looking through a value or a payload that holds no
// card number allocates nothing (the reader looks through every value of
// every row, the journal through every payload).
func TestNoAllocations(t *testing.T) {
	value := "Pago de planilla noviembre 2026 lote 00243000584290204477 4111 1111"
	payload := []byte(`{"id":"ps_100000","created_at":"2026-12-07T01:00:00.000000Z","amount":1000000,"ref":"NT000000000","n":"\u00e9 1234 5678 9012"}`)
	if n := testing.AllocsPerRun(100, func() { Find(value) }); n != 0 {
		t.Errorf("Find: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { Scrub(payload) }); n != 0 {
		t.Errorf("Scrub: %v allocations", n)
	}
}

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

		{"luhn fails", "4111111111111112", nil},
		{"unknown issuer", "1234567812345670", nil},
		{"issuer 9", "9111111111111111", nil},
		{"mastercard gap", "2721000000000004", nil},
		{"12 digits", "411111111113", nil},
		{"20 digits", "41111111111111111114", nil},
		{"glued to letters before", "ps_a4111111111111111", nil},
		{"glued to letters after", "4111111111111111x", nil},
		{"two separators", "4111  1111  1111  1111", nil},
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
				if strings.ContainsAny(tc.text[m.Start:m.End], "*") || !isDigit(tc.text[m.Start]) || !isDigit(tc.text[m.End-1]) {
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
		"pago 4111 1111 1111 1111 ok": "pago 4111 11** **** 1111 ok",
		"4111-1111-1111-1111":         "4111-11**-****-1111",
		"378282246310005":             "***********0005",
		"no card 1234":                "no card 1234",
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

package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
)

// TestMaskLink: a masked link keeps its scheme, host and the words of its
// path, and loses every token: in the path (Monnet's card push page, as
// the sandbox serves it), the query (payrun's signed page, a payment
// link) or the fragment; at most a long token's last four characters stay.
func TestMaskLink(t *testing.T) {
	for _, c := range []struct {
		link, want string
		secrets    []string // none of these may survive, nor any 8 characters of them
	}{
		{"http://127.0.0.1:35043/_sandbox/cardpush/9ed9e58149237cae5c3fa4c7052b662e",
			"http://127.0.0.1:35043/_sandbox/cardpush/…662e", []string{"9ed9e58149237cae5c3fa4c7052b"}},
		{"http://127.0.0.1:35043/_sandbox/cardpush/9ed9e58149237cae5c3fa4c7052b662e/complete",
			"http://127.0.0.1:35043/_sandbox/cardpush/…662e/…", []string{"9ed9e58149237cae5c3fa4c7052b"}},
		{"https://payrun.example.com/collect/P-000123?e=1767225600&s=c2lnbmF0dXJlLW9mLXRoZS1saW5r",
			"https://payrun.example.com/collect/…?…", []string{"c2lnbmF0dXJlLW9mLXRoZS1saW5r", "1767225600"}},
		{"https://pay.example.com/link?token=AbCdEf0123456789xyz", "https://pay.example.com/…?…", []string{"AbCdEf0123456789xyz"}},
		{"https://pay.example.com/p#t=AbCdEf0123456789xyz", "https://pay.example.com/…?…", []string{"AbCdEf0123456789xyz"}},
		{"https://pay.link/Ab3dEf9hIjKlMnOpQr", "https://pay.link/…OpQr", []string{"Ab3dEf9hIjKlMn"}},
		{"https://pay.link/abcdefghijklmnopqrst", "https://pay.link/…qrst", []string{"abcdefghijklmnop"}},
		{"https://pay.example.com/checkout/k7Fq2pLm9ZxW4vB8/", "https://pay.example.com/checkout/…4vB8", []string{"k7Fq2pLm9Z"}},
		{"https://pay.example.com/Checkout/abcdefgh/pay", "https://pay.example.com/…/abcdefgh/…", nil},
		{"https://user:hunter2-secret@pay.example.com/x", "https://pay.example.com/…", []string{"hunter2"}},
		{"https://pay.example.com", "https://pay.example.com", nil},
		{"not a link 1234567890", "****7890", []string{"123456"}},
		{"", "", nil},
	} {
		got := MaskLink(c.link)
		for _, s := range c.secrets {
			for i := 0; i+8 <= len(s); i++ {
				if strings.Contains(got, s[i:i+8]) {
					t.Errorf("MaskLink(%q) = %q shows %q", c.link, got, s[i:i+8])
					break
				}
			}
		}
		if c.want != "" && got != c.want || c.want == "" && got != "" {
			t.Errorf("MaskLink(%q) = %q, want %q", c.link, got, c.want)
		}
	}
}

// TestLinksCSVMasksTokens: the waiting links CSV, masked (the default),
// holds no usable link; unmasked, the whole one.
func TestLinksCSVMasksTokens(t *testing.T) {
	const token = "9ed9e58149237cae5c3fa4c7052b662e"
	l := Link{BatchID: "B1", PayoutID: "P1", Provider: "monnet", Method: "card_push", Kind: "card push",
		Beneficiary: "Ana", Email: "ana@example.com", Amount: money.Money{Minor: 1000, Currency: "PEN"},
		URL: "http://127.0.0.1:35043/_sandbox/cardpush/" + token, Expires: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}
	var masked, whole bytes.Buffer
	if err := WriteLinksCSV(&masked, []Link{l}, time.UTC, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteLinksCSV(&whole, []Link{l}, time.UTC, Options{Unmasked: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(masked.String(), token[:16]) || !strings.Contains(masked.String(), "/_sandbox/cardpush/…662e") {
		t.Errorf("masked CSV:\n%s", masked.String())
	}
	if !strings.Contains(whole.String(), l.URL) {
		t.Errorf("unmasked CSV:\n%s", whole.String())
	}
}

// TestDetailsMaskLinks: the Details sheet, the details CSV and the JSON
// reconciliation (Mask) carry a waiting payout's link: masked, without its
// token; unmasked, whole.
func TestDetailsMaskLinks(t *testing.T) {
	const token = "9ed9e58149237cae5c3fa4c7052b662e"
	link := "http://127.0.0.1:35043/_sandbox/cardpush/" + token
	outputs := func(o Options) map[string]string {
		meta, res := fixture()
		res.Lines[0].URL = link
		var wb, det bytes.Buffer
		if err := WriteWorkbook(&wb, meta, res, o); err != nil {
			t.Fatal(err)
		}
		if err := WriteDetailsCSVResult(&det, meta, res, o); err != nil {
			t.Fatal(err)
		}
		Mask(res, o)
		return map[string]string{"workbook": dumpWorkbook(t, wb.Bytes()), "details.csv": det.String(),
			"json": res.Lines[0].URL}
	}
	for what, out := range outputs(Options{}) {
		if strings.Contains(out, token[:16]) || !strings.Contains(out, "/_sandbox/cardpush/…662e") {
			t.Errorf("masked %s: the link is not masked", what)
		}
	}
	for what, out := range outputs(Options{Unmasked: true}) {
		if !strings.Contains(out, link) {
			t.Errorf("unmasked %s: no whole link", what)
		}
	}
}

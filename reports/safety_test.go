package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/dispatch"
)

var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// secrets that must not appear in any masked output: the fixture's card
// number and its full account and document numbers.
var secrets = []string{testPAN, "00191234564477", "45678912", "00191234569999", "19100112233", "00191234560001"}

func checkNoSecrets(t *testing.T, what string, s string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows %q", what, sec)
		}
	}
}

func checkCell(t *testing.T, what, v string, numeric bool) {
	t.Helper()
	if v == "" || numeric {
		return
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		t.Errorf("%s: text cell %q starts with a formula character", what, v)
	}
}

func checkWorkbook(t *testing.T, what string, b []byte) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, sh := range f.GetSheetList() {
		rows, _ := f.GetRows(sh, excelize.Options{RawCellValue: true})
		for r, row := range rows {
			for c, v := range row {
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				typ, _ := f.GetCellType(sh, ref)
				checkCell(t, what+" "+sh+"!"+ref, v, typ == excelize.CellTypeUnset || typ == excelize.CellTypeNumber)
				checkNoSecrets(t, what+" "+sh+"!"+ref, v)
			}
		}
	}
}

func checkCSV(t *testing.T, what string, b []byte, comma rune) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte(bom))))
	r.Comma, r.FieldsPerRecord = comma, -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		for _, v := range rec {
			checkCell(t, what, v, plainNumber.MatchString(v))
			if i > 0 {
				checkNoSecrets(t, what, v)
			}
		}
	}
}

// TestSafetyEveryFormat runs the fixture's hostile values (formula
// starters, a card number, full account and document numbers) through
// every output and checks each cell and body.
func TestSafetyEveryFormat(t *testing.T) {
	meta, res := fixture()
	var wb, sum, det, html, txt bytes.Buffer
	if err := WriteWorkbook(&wb, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	checkWorkbook(t, "workbook", wb.Bytes())
	_ = WriteSummaryCSV(&sum, res)
	checkCSV(t, "summary.csv", sum.Bytes(), ',')
	_ = WriteDetailsCSVResult(&det, meta, res, Options{})
	checkCSV(t, "details.csv", det.Bytes(), ',')

	dir := t.TempDir()
	src := filepath.Join(dir, "payouts.csv")
	writeCSV1252(t, src, annotatedInput)
	dst := filepath.Join(dir, "annotated.csv")
	if err := WriteAnnotated(dst, src, batch.ReadOptions{}, LinesByRow(annotatedLines(), "in"), Options{}); err != nil {
		t.Fatal(err)
	}
	utf, _ := charmap.Windows1252.NewDecoder().Bytes(mustRead(t, dst))
	checkCSV(t, "annotated.csv", utf, ';')
	xsrc := filepath.Join(dir, "payouts.xlsx")
	f := excelize.NewFile()
	for r, row := range annotatedInput {
		for c, v := range row {
			_ = f.SetCellStr("Sheet1", cellName(c+1, r+1), v)
		}
	}
	_ = f.SaveAs(xsrc)
	f.Close()
	xdst := filepath.Join(dir, "annotated.xlsx")
	if err := WriteAnnotated(xdst, xsrc, batch.ReadOptions{}, LinesByRow(annotatedLines(), "in"), Options{}); err != nil {
		t.Fatal(err)
	}
	checkWorkbook(t, "annotated.xlsx", mustRead(t, xdst))

	_ = WriteHTML(&html, meta, res, Options{})
	_ = WriteText(&txt, meta, res, Options{})
	checkNoSecrets(t, "email html", html.String())
	checkNoSecrets(t, "email text", txt.String())
	if !strings.Contains(txt.String(), "****1111") || !strings.Contains(html.String(), "****4477") {
		t.Error("email bodies do not show the masked values")
	}
	e, err := Compose(meta, res, Envelope{From: "a@example.com", To: []string{"b@example.com"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.Bytes()
	got := parseMessage(t, raw)
	checkNoSecrets(t, "email message html", string(got.html))
	checkNoSecrets(t, "email message text", string(got.text))

	pf, err := ComposePreflight(Preflight{BatchID: "B1", File: "x.csv", Invalid: res.Invalid,
		Duplicates: []dispatch.SuspectedDuplicate{{Row: 2, PayoutID: "P-1", Account: "00191234564477", Currency: "PEN", Amount: 100}}},
		Envelope{From: "a@example.com", To: []string{"b@example.com"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, "pre-flight html", string(pf.HTML))
	checkNoSecrets(t, "pre-flight text", string(pf.Text))
}

// TestUnmaskedShowsAccountsButNeverCards: turning masking off shows
// account numbers, never card numbers.
func TestUnmaskedShowsAccountsButNeverCards(t *testing.T) {
	meta, res := fixture()
	var det bytes.Buffer
	_ = WriteDetailsCSVResult(&det, meta, res, Options{Unmasked: true})
	if !strings.Contains(det.String(), "00191234564477") {
		t.Error("Unmasked did not show the account number")
	}
	if strings.Contains(det.String(), testPAN) {
		t.Error("a card number appears with Unmasked")
	}
}

// TestProviderIdsNeverShowCards: what a provider says about a payout
// payrun never sent (its merchant reference, its own id, a code, a status)
// shows no card number in any output, masked or not, nor in Mask's
// result (payrun reconcile --json).
func TestProviderIdsNeverShowCards(t *testing.T) {
	pans := []string{"378282246310005", testPAN, "5555555555554444", "6011111111111117"}
	for _, o := range []Options{{}, {Unmasked: true}} {
		meta, res := fixture()
		u := &res.Lines[7]
		u.PayoutID, u.ProviderRef, u.ProviderCode, u.ProviderStatus = pans[0], pans[1], pans[2], "6011 1111 1111 1117"
		u.URL = "https://pay.example/card/" + testPAN
		var wb, det, html, txt bytes.Buffer
		if err := WriteWorkbook(&wb, meta, res, o); err != nil {
			t.Fatal(err)
		}
		_ = WriteDetailsCSVResult(&det, meta, res, o)
		_ = WriteHTML(&html, meta, res, o)
		_ = WriteText(&txt, meta, res, o)
		Mask(res, o)
		js, _ := json.Marshal(res)
		outs := map[string]string{"details.csv": det.String(), "email html": html.String(), "email text": txt.String(), "--json": string(js)}
		x, err := excelize.OpenReader(bytes.NewReader(wb.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range x.GetSheetList() {
			rows, _ := x.GetRows(sh)
			for _, row := range rows {
				outs["workbook "+sh] += strings.Join(row, "|") + "\n"
			}
		}
		x.Close()
		for what, out := range outs {
			flat := strings.NewReplacer(" ", "", "-", "").Replace(out)
			for _, p := range pans {
				if strings.Contains(flat, p) {
					t.Errorf("Unmasked %v: %s shows %s", o.Unmasked, what, p)
				}
			}
		}
	}
}

func TestMaskCards(t *testing.T) {
	for in, want := range map[string]string{
		testPAN:                        "****1111",
		"4111 1111 1111 1111":          "****1111",
		"card 4111-1111-1111-1111 ok":  "card ****1111 ok",
		"4111111111111112":             "4111111111111112", // fails Luhn
		"order 123456789012":           "order 123456789012",
		"00191234564477":               "00191234564477", // 14 digits, fails Luhn
		"pay 5555555555554444, thanks": "pay ****4444, thanks",
		// Grouped as spreadsheets and people group them.
		"card 4111\u00a01111\u00a01111\u00a01111 blocked": "card 4111\u00a011**\u00a0****\u00a01111 blocked",
		"Tarjeta 3782\u00a0822463\u00a010005":             "Tarjeta ****\u00a0******\u00a0*0005",
		"5555  5555  5555  4444":                          "5555  55**  ****  4444",
		"6011/1111/1111/1117":                             "6011/11**/****/1117",
	} {
		if got := MaskCards(in); got != want {
			t.Errorf("MaskCards(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"=1+2": "'=1+2", "+1": "'+1", "-1": "'-1", "@A1": "'@A1", "\tx": "'\tx", "\rx": "'\rx",
		"ok": "ok", "": "", "'=x": "'=x",
	} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

package batch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestXLSXSheetNameCardMasked: a sheet's name is text from the file like
// a cell's; a card number in it is masked wherever payrun shows the name
// (the source, whence the messages and the annotated copy's sheet, and
// the list of sheets when the one asked for is missing).
func TestXLSXSheetNameCardMasked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "named.xlsx")
	f := excelize.NewFile()
	must(t, f.SetSheetName("Sheet1", "4111 1111 1111 1111"))
	_, err := f.NewSheet("pan 378282246310005")
	must(t, err)
	for c, h := range strings.Split(minimalHeader, ",") {
		must(t, f.SetCellStr("4111 1111 1111 1111", fmt.Sprintf("%c1", 'A'+c), h))
	}
	for c, v := range []string{"P-1", "monnet", "bank_transfer", "PE", "PEN", "10.00"} {
		must(t, f.SetCellStr("4111 1111 1111 1111", fmt.Sprintf("%c2", 'A'+c), v))
	}
	must(t, f.SaveAs(p))
	f.Close()
	rd, err := OpenFile(p, ReadOptions{})
	must(t, err)
	sheet := rd.Source().Sheet
	rd.Close()
	if strings.ReplaceAll(sheet, " ", "") == "4111111111111111" || !strings.Contains(sheet, "*") {
		t.Errorf("the sheet is named %q", sheet)
	}
	_, err = OpenFile(p, ReadOptions{Sheet: "nope"})
	if !errors.Is(err, ErrNoSheet) {
		t.Fatalf("a missing sheet: %v", err)
	}
	if msg := strings.ReplaceAll(err.Error(), " ", ""); strings.Contains(msg, "4111111111111111") || strings.Contains(msg, "378282246310005") {
		t.Errorf("the message shows a card number: %v", err)
	}
}

// TestXLSXCardAsNumber: a card number keyed as a number and stored in
// scientific notation (every digit there) is a card number like any other:
// the row is refused, and the value is masked wherever it is shown.
func TestXLSXCardAsNumber(t *testing.T) {
	p := filepath.Join(t.TempDir(), "numbers.xlsx")
	cell := func(ref, v string) string { return `<c r="` + ref + `"><v>` + v + `</v></c>` }
	str := func(ref, v string) string { return `<c r="` + ref + `" t="inlineStr"><is><t>` + v + `</t></is></c>` }
	row := func(n int, id, desc, notes string) string {
		r := fmt.Sprint(n)
		return `<row r="` + r + `">` + str("A"+r, id) + str("B"+r, "monnet") + str("C"+r, "bank_transfer") + str("D"+r, "PE") +
			str("E"+r, "PEN") + cell("F"+r, "10") + cell("G"+r, desc) + cell("H"+r, notes) + `</row>`
	}
	head := `<row r="1">`
	for i, h := range append(strings.Split(minimalHeader, ","), "description", "notes") {
		head += str(fmt.Sprintf("%c1", 'A'+i), h)
	}
	sheet := sheetHead + head + `</row>` +
		row(2, "N-1", "4.111111111111111E+15", "1") +
		row(3, "N-2", "2", "6.011111111111117e15") +
		row(4, "N-3", "3.78282246310005E+14", "2.5E+3") +
		row(5, "N-4", "1.5E+3", "-4.000056655665556E+15") + sheetTail
	writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error { _, err := io.WriteString(w, sheet); return err }})
	rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
	must(t, err)
	bad := map[int]bool{}
	for _, e := range rep.Errors {
		if strings.Contains(e.Reason, "card number") {
			bad[e.Row] = true
		}
		if v := strings.NewReplacer(".", "", "-", "").Replace(e.Value); strings.Contains(v, "111111111111") || strings.Contains(v, "56655665556") || strings.Contains(v, "8224631") {
			t.Errorf("row %d %s: value %q", e.Row, e.Column, e.Value)
		}
	}
	for _, r := range []int{2, 3, 4, 5} {
		if !bad[r] {
			t.Errorf("row %d: its card number is not refused (%+v)", r, rep.Errors)
		}
	}
	rd, err := OpenFile(p, ReadOptions{})
	must(t, err)
	defer rd.Close()
	for {
		r, err := rd.Next()
		if err != nil {
			break
		}
		all := strings.Join(append([]string{r.Description}, r.Extra...), " ")
		if strings.Contains(all, "111111111111") || strings.Contains(all, "8224631") || strings.Contains(all, "56655665556") {
			t.Errorf("row %d holds %q", r.Number, all)
		}
	}
	for in, want := range map[string]string{"4.111111111111111E+15": "4111111111111111", "2.5E+3": "2500", "1.5E-2": "0.015",
		"-4.5e1": "-45", "12.5E-1": "1.25", "0.41E+2": "41", "118": ""} {
		if got, ok := plainNumber(in); got != want || ok != (want != "") {
			t.Errorf("plainNumber(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// TestCardNumberInAFileName: a file whose name holds a card number is
// refused as a whole (as an unusable header is: reported, nothing
// recorded), the message showing the name masked.
func TestCardNumberInAFileName(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"payouts-4111111111111111.csv", "pagos 4111\u00a01111\u00a01111\u00a01111.xlsx"} {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, []byte(minimalHeader+"\nP-1,monnet,bank_transfer,PE,PEN,10.00\n"), 0o600))
		_, err := OpenFile(p, ReadOptions{})
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "card number") {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(strings.NewReplacer(" ", "", "\u00a0", "").Replace(err.Error()), "4111111111111111") {
			t.Errorf("the message shows the card number: %v", err)
		}
		rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
		if err != nil || len(rep.Errors) != 1 || rep.ValidRows != 0 {
			t.Fatalf("%s: validate: %+v, %v", name, rep, err)
		}
		if strings.Contains(strings.NewReplacer(" ", "", "\u00a0", "").Replace(rep.File+rep.Errors[0].Error()), "4111111111111111") {
			t.Errorf("the report shows the card number: %s %v", rep.File, rep.Errors[0].Error())
		}
	}
}

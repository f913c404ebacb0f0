package batch

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestFormatKind(t *testing.T) {
	for code, want := range map[string]valueKind{
		"General":                       kindPlain,
		"0.00":                          kindPlain,
		"#,##0.00":                      kindPlain,
		"0.00E+00":                      kindPlain,
		`"S/" #,##0.00`:                 kindPlain,
		`"$"#,##0.00`:                   kindPlain,
		`#,##0.00 [$€-x-euro2]`:         kindPlain,
		`[$S/-280A] #,##0.00`:           kindPlain,
		`_-* #,##0.00\ [$€-x-euro2]_-`:  kindPlain,
		`#,##0.00\ "días"`:              kindPlain,
		`0.0 \d`:                        kindPlain,
		`[Red]#,##0.00;[Blue]-#,##0.00`: kindPlain,
		`_("$"* #,##0.00_);_("$"* \(#,##0.00\);_("$"* "-"??_);_(@_)`:        kindPlain,
		`_-"S/"\ * #,##0.00_-;\-"S/"\ * #,##0.00_-;_-"S/"\ * "-"??_-;_-@_-`: kindPlain,
		`[>=1000]#,##0;0`:   kindPlain,
		"yyyy-mm-dd":        kindDate,
		"dd/mm/yyyy":        kindDate,
		"mmm-yy":            kindDate,
		"mmmm":              kindDate,
		"m/d/yy hh:mm":      kindDate,
		`d "de" mmmm`:       kindDate,
		`[$-409]h:mm AM/PM`: kindTime,
		"hh:mm:ss":          kindTime,
		"mm:ss.0":           kindTime,
		"[h]:mm:ss":         kindDuration,
		"[mm]:ss":           kindDuration,
		"[SS]":              kindDuration,
		"0%":                kindPercent,
		"0.00%":             kindPercent,
		`0.00"%"`:           kindPlain,
		`0.00\%`:            kindPlain,
		`"unclosed`:         kindPlain,
		`[unclosed d`:       kindPlain,
	} {
		if got := formatKind(code); got != want {
			t.Errorf("formatKind(%q) = %d, want %d", code, got, want)
		}
	}
	for id, want := range map[int]valueKind{
		0: kindPlain, 2: kindPlain, 4: kindPlain, 8: kindPlain, 9: kindPercent, 10: kindPercent, 11: kindPlain,
		12: kindPlain, 14: kindDate, 17: kindDate, 18: kindTime, 21: kindTime, 22: kindDate, 27: kindDate,
		32: kindTime, 36: kindDate, 37: kindPlain, 44: kindPlain, 45: kindTime, 46: kindDuration, 47: kindTime,
		48: kindPlain, 49: kindPlain, 50: kindDate, 58: kindDate, 59: kindPlain, 67: kindPercent, 71: kindDate,
		79: kindDuration, 164: kindPlain,
	} {
		if got := builtinFormatKind(id); got != want {
			t.Errorf("builtinFormatKind(%d) = %d, want %d", id, got, want)
		}
	}
}

func TestShowValue(t *testing.T) {
	tests := []struct {
		kind     valueKind
		text     string
		date1904 bool
		want     string
	}{
		{kindDate, "46000", false, "2025-12-09"},
		{kindDate, "46000.5", false, "2025-12-09 12:00:00"},
		{kindDate, "44538", true, "2025-12-09"},
		{kindDate, "1", false, "1900-01-01"},
		{kindDate, "59", false, "1900-02-28"},
		{kindDate, "60", false, "1900-02-29"},
		{kindDate, "61", false, "1900-03-01"},
		{kindDate, "0", false, "1900-01-00"},
		{kindDate, "-1", false, ""},
		{kindDate, "1E+300", false, ""},
		{kindDate, "2025-12-09T00:00:00", false, "2025-12-09T00:00:00"},
		{kindTime, "0.5", false, "12:00:00"},
		{kindTime, "0.99999999", false, "00:00:00"},
		{kindDuration, "1.5", false, "36:00:00"},
		{kindPercent, "0.15", false, "15%"},
		{kindPercent, "0.155", false, "15.5%"},
		{kindPercent, "1.5", false, "150%"},
		{kindPercent, "-0.0001", false, "-0.01%"},
		{kindPercent, "46000", false, "4600000%"},
		{kindBoolean, "1", false, "TRUE"},
		{kindBoolean, "0", false, "FALSE"},
		{kindError, "#N/A", false, "#N/A"},
	}
	for _, tc := range tests {
		if got := showValue(tc.kind, tc.text, tc.date1904); got != tc.want {
			t.Errorf("showValue(%d, %q, %v) = %q, want %q", tc.kind, tc.text, tc.date1904, got, tc.want)
		}
	}
}

// amountCase is an amount cell of a workbook built with excelize: its
// value and number format, and the reason its row is refused with ("" for
// a row accepted with the amount want).
type amountCase struct {
	id     string
	value  any
	numFmt int     // a built-in format
	custom *string // or a custom one
	refuse string  // in the amount's error
	want   string  // the amount read, when accepted
}

func ptr(s string) *string { return &s }

// TestXLSXAmountFormats: an amount cell that Excel shows as a date, a
// time, a duration, a percentage or a boolean is refused, with what Excel
// shows in the reason; a number in a currency or accounting format is
// read as the number it is.
func TestXLSXAmountFormats(t *testing.T) {
	cases := []amountCase{
		{id: "D-14", value: 46000, numFmt: 14, refuse: "formatted as a date in the spreadsheet (2025-12-09)"},
		{id: "D-14-HALF", value: 46000.5, numFmt: 14, refuse: "formatted as a date in the spreadsheet (2025-12-09 12:00:00)"},
		{id: "D-22", value: 46000.5, numFmt: 22, refuse: "formatted as a date"},
		{id: "T-21", value: 0.5, numFmt: 21, refuse: "formatted as a time in the spreadsheet (12:00:00)"},
		{id: "T-46", value: 1.5, numFmt: 46, refuse: "formatted as a duration in the spreadsheet (36:00:00)"},
		{id: "P-9", value: 0.15, numFmt: 9, refuse: "formatted as a percentage in the spreadsheet (15%)"},
		{id: "P-10", value: 0.15, numFmt: 10, refuse: "formatted as a percentage in the spreadsheet (15%)"},
		{id: "D-ISO", value: 46000, custom: ptr("yyyy-mm-dd"), refuse: "formatted as a date in the spreadsheet (2025-12-09)"},
		{id: "T-AMPM", value: 0.5, custom: ptr("[$-409]h:mm AM/PM"), refuse: "formatted as a time in the spreadsheet (12:00:00)"},
		{id: "P-CUSTOM", value: 0.15, custom: ptr("0.00%"), refuse: "formatted as a percentage in the spreadsheet (15%)"},
		{id: "B-TRUE", value: true, refuse: "amount cell holds TRUE, a boolean"},
		{id: "B-FALSE", value: false, refuse: "amount cell holds FALSE, a boolean"},
		{id: "C-SOL", value: 1500.5, custom: ptr(`"S/" #,##0.00`), want: "1500.5"},
		{id: "C-EURO", value: 1500.5, custom: ptr(`#,##0.00 [$€-x-euro2]`), want: "1500.5"},
		{id: "C-DOLLAR", value: 1500.5, custom: ptr(`"$"#,##0.00`), want: "1500.5"},
		{id: "C-ACCT", value: 1500.5, numFmt: 44, want: "1500.5"},
		{id: "C-ACCT-SOL", value: 1500.5, custom: ptr(`_-"S/"\ * #,##0.00_-;\-"S/"\ * #,##0.00_-;_-"S/"\ * "-"??_-;_-@_-`), want: "1500.5"},
		{id: "C-PLAIN", value: 1500.5, numFmt: 4, want: "1500.5"},
		{id: "C-GENERAL", value: 1500.5, want: "1500.5"},
	}
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "Sheet1"
	header := []string{"payout_id", "provider", "method", "country", "currency", "amount", "paid_on",
		"beneficiary_name", "beneficiary_last_name", "document_type", "document_number", "bank_code", "cci"}
	must(t, f.SetSheetRow(sheet, "A1", &header))
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	must(t, err)
	for i, tc := range cases {
		n := i + 2
		vals := []any{tc.id, "monnet", "bank_transfer", "PE", "PEN", tc.value, 46000,
			"Ana", "Rojas", "DNI", "01234567", "002", "00243000584290204477"}
		must(t, f.SetSheetRow(sheet, fmt.Sprintf("A%d", n), &vals))
		// Another column formatted as a date is no concern of the amount.
		must(t, f.SetCellStyle(sheet, fmt.Sprintf("G%d", n), fmt.Sprintf("G%d", n), dateStyle))
		if tc.numFmt == 0 && tc.custom == nil {
			continue
		}
		style, err := f.NewStyle(&excelize.Style{NumFmt: tc.numFmt, CustomNumFmt: tc.custom})
		must(t, err)
		cell := fmt.Sprintf("F%d", n)
		must(t, f.SetCellStyle(sheet, cell, cell, style))
	}
	p := filepath.Join(t.TempDir(), "amounts.xlsx")
	must(t, f.SaveAs(p))

	_, rows, rerrs := readAll(t, p, ReadOptions{})
	if len(rerrs) > 0 {
		t.Fatalf("row errors reading: %v", rerrs)
	}
	amounts := map[string]string{}
	for _, r := range rows {
		amounts[r.PayoutID] = r.Amount
	}
	rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
	must(t, err)
	bad := map[int][]RowError{}
	for _, e := range rep.Errors {
		bad[e.Row] = append(bad[e.Row], e)
	}
	for i, tc := range cases {
		errs := bad[i+2]
		if tc.refuse == "" {
			if len(errs) > 0 {
				t.Errorf("%s: refused: %v", tc.id, errs)
			}
			if amounts[tc.id] != tc.want {
				t.Errorf("%s: amount %q, want %q", tc.id, amounts[tc.id], tc.want)
			}
			continue
		}
		if len(errs) != 1 || errs[0].Column != ColAmount || !strings.Contains(errs[0].Reason, tc.refuse) ||
			!strings.Contains(errs[0].Reason, "write the amount as a number") {
			t.Errorf("%s: errors %v, want one on the amount saying %q", tc.id, errs, tc.refuse)
		}
	}
	if rows, valid := rep.Rows, rep.ValidRows; rows != len(cases) || valid != 7 {
		t.Errorf("%d rows, %d valid; want %d, 7", rows, valid, len(cases))
	}
}

// TestXLSXAmountCellTypes: the cell types excelize does not write (an
// error, an ISO date) and the styles part's traps: the number formats of
// conditional formatting (dxfs) and of named styles (cellStyleXfs) are
// not a cell's, and a style index past the cell formats is general. The
// workbook counts days from 1904.
func TestXLSXAmountCellTypes(t *testing.T) {
	styles := `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
		`<numFmts count="2"><numFmt numFmtId="164" formatCode="&quot;S/&quot; #,##0.00"/><numFmt numFmtId="165" formatCode="dd/mm/yyyy"/></numFmts>` +
		`<fonts count="1"><font><sz val="11"/></font></fonts>` +
		`<cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>` +
		`<cellXfs count="3"><xf numFmtId="0" xfId="0"/><xf numFmtId="164" xfId="0" applyNumberFormat="1"><alignment horizontal="right"/></xf><xf numFmtId="165" applyNumberFormat="1"/></cellXfs>` +
		`<dxfs count="1"><dxf><numFmt numFmtId="166" formatCode="0%"/></dxf></dxfs>` +
		`</styleSheet>`
	workbook := `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
		`<workbookPr date1904="1"/><sheets><sheet name="Pagos" sheetId="1" r:id="rId1"/></sheets></workbook>`
	str := func(ref, v string) string { return `<c r="` + ref + `" t="inlineStr"><is><t>` + v + `</t></is></c>` }
	row := func(n int, id, amount string) string {
		r := fmt.Sprint(n)
		return `<row r="` + r + `">` + str("A"+r, id) + str("B"+r, "monnet") + str("C"+r, "bank_transfer") + str("D"+r, "PE") +
			str("E"+r, "PEN") + strings.ReplaceAll(amount, "REF", "F"+r) + `</row>`
	}
	sheet := sheetHead + headerRowXML(1) +
		row(2, "E-NA", `<c r="REF" t="e"><f>1/0</f><v>#DIV/0!</v></c>`) +
		row(3, "D-ISO", `<c r="REF" t="d"><v>2025-12-09T00:00:00</v></c>`) +
		row(4, "D-1904", `<c r="REF" s="2"><v>44538</v></c>`) +
		row(5, "C-SOL", `<c r="REF" s="1"><v>10.5</v></c>`) +
		row(6, "C-GENERAL", `<c r="REF" s="0"><v>10.5</v></c>`) +
		row(7, "C-PAST", `<c r="REF" s="9"><v>10.5</v></c>`) +
		row(8, "B-TRUE", `<c r="REF" t="b"><v>1</v></c>`) +
		sheetTail
	text := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	p := filepath.Join(t.TempDir(), "types.xlsx")
	writeXLSX(t, p,
		xlsxPart{name: "xl/workbook.xml", write: text(workbook)},
		xlsxPart{name: "xl/styles.xml", write: text(styles)},
		xlsxPart{name: "xl/worksheets/sheet1.xml", write: text(sheet)})

	rd, err := OpenFile(p, ReadOptions{})
	must(t, err)
	v := NewValidator(ValidateOptions{})
	reasons := map[string]string{}
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		// The rows lack a beneficiary: only the amount's error counts.
		reasons[r.PayoutID] = "accepted " + r.Amount
		_, _, errs := v.Check(rd.Source(), r)
		for _, e := range errs {
			if e.Column == ColAmount {
				reasons[r.PayoutID] = e.Reason
			}
		}
	}
	rd.Close()
	for id, want := range map[string]string{
		"E-NA":      "amount cell holds the error #DIV/0!",
		"D-ISO":     "formatted as a date in the spreadsheet (2025-12-09T00:00:00)",
		"D-1904":    "formatted as a date in the spreadsheet (2025-12-09)",
		"C-SOL":     "accepted 10.5",
		"C-GENERAL": "accepted 10.5",
		"C-PAST":    "accepted 10.5",
		"B-TRUE":    "amount cell holds TRUE",
	} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("%s: %q, want %q", id, reasons[id], want)
		}
	}
}

// TestXLSXStylesBounds: a styles part beyond what Excel writes is refused
// as a whole (too many cell formats, a format code too long, an id that is
// no number).
func TestXLSXStylesBounds(t *testing.T) {
	// Random letters in a comment keep the part under the zip bomb ratio.
	head := `<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
		`<!--` + randomLetters(100<<10) + `-->`
	for name, tc := range map[string]struct{ styles, want string }{
		"too many cell formats": {head + `<cellXfs>` + strings.Repeat(`<xf/>`, xlsxMaxStyles+1) + `</cellXfs></styleSheet>`,
			"more than 65536 cell formats"},
		"too many number formats": {head + `<numFmts>` + manyNumFmts(xlsxMaxStyles+1) + `</numFmts></styleSheet>`,
			"more than 65536 number formats"},
		"a long format code": {head + `<numFmts><numFmt numFmtId="164" formatCode="` + strings.Repeat("0", xlsxMaxFormatCode+1) + `"/></numFmts></styleSheet>`,
			"a number format longer than"},
		"a format id that is no number": {head + `<cellXfs><xf numFmtId="x"/></cellXfs></styleSheet>`, `number format id "x"`},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "styles.xlsx")
			styles := tc.styles
			writeXLSX(t, p,
				xlsxPart{name: "xl/styles.xml", write: func(w io.Writer) error { _, err := io.WriteString(w, styles); return err }},
				xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
					_, err := io.WriteString(w, sheetHead+headerRowXML(1)+sheetTail)
					return err
				}})
			_, err := OpenFile(p, ReadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func manyNumFmts(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `<numFmt numFmtId="%d"/>`, 164+i)
	}
	return b.String()
}

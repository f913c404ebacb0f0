package batch

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// readAll reads every row of a file; row errors are collected, not fatal.
func readAll(t *testing.T, path string, o ReadOptions) (Source, []Row, []RowError) {
	t.Helper()
	rd, err := OpenFile(path, o)
	if err != nil {
		t.Fatalf("OpenFile(%s): %v", path, err)
	}
	defer rd.Close()
	rows, rerrs := readRows(t, rd)
	return rd.Source(), rows, rerrs
}

// readRows reads rd to its end; row errors are collected, not fatal.
func readRows(t *testing.T, rd *Reader) ([]Row, []RowError) {
	t.Helper()
	var rows []Row
	var rerrs []RowError
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *RowError
		if errors.As(err, &re) {
			rerrs = append(rerrs, *re)
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, r)
	}
	return rows, rerrs
}

func TestReadCleanCSV(t *testing.T) {
	src, rows, rerrs := readAll(t, "testdata/clean.csv", ReadOptions{})
	if len(rerrs) > 0 {
		t.Fatalf("row errors: %v", rerrs)
	}
	if src.Kind != KindCSV || src.Delimiter != ',' || src.Encoding != EncodingUTF8 {
		t.Errorf("source = %s %q %s", src.Kind, src.Delimiter, src.Encoding)
	}
	if !reflect.DeepEqual(src.Extra, []string{"Cost center"}) || !reflect.DeepEqual(src.ExtraIndex, []int{18}) {
		t.Errorf("extra = %q %v", src.Extra, src.ExtraIndex)
	}
	var numbers []int
	for _, r := range rows {
		numbers = append(numbers, r.Number)
	}
	// Line 4 is all commas, line 5 empty, the third row spans lines 6-7.
	if want := []int{2, 3, 6, 8}; !reflect.DeepEqual(numbers, want) {
		t.Fatalf("row numbers = %v, want %v", numbers, want)
	}
	r := rows[0]
	if r.DocumentNumber != "01234567" || r.CCI != "00243000584290204477" || r.Description != "Planilla, noviembre" ||
		r.Amount != "1500.50" || !reflect.DeepEqual(r.Extra, []string{"CC-10"}) {
		t.Errorf("row 2 = %+v", r)
	}
	if r := rows[1]; r.PayoutID != "PR-0002" || r.BeneficiaryName != "María" || r.Description != `Reembolso "caja chica"` {
		t.Errorf("row 3 = %+v", r)
	}
	if r := rows[2]; r.Description != "Factura\nF001-2231" {
		t.Errorf("row 6 description = %q", r.Description)
	}
	rep, err := ValidateFile("testdata/clean.csv", ReadOptions{}, ValidateOptions{})
	if err != nil || len(rep.Errors) > 0 || rep.Rows != 4 || rep.ValidRows != 4 {
		t.Fatalf("ValidateFile = %+v, %v", rep, err)
	}
}

func TestReadCleanXLSX(t *testing.T) {
	src, rows, _ := readAll(t, "testdata/clean.xlsx", ReadOptions{})
	if src.Kind != KindXLSX || src.Sheet != "Sheet1" || !reflect.DeepEqual(src.Extra, []string{"Notas"}) {
		t.Errorf("source = %+v", src)
	}
	if len(rows) != len(templateRows) {
		t.Fatalf("%d rows, want %d", len(rows), len(templateRows))
	}
	for i, r := range rows {
		want := templateRows[i]
		want.Number = i + 2
		want.Extra = []string{"nota " + want.PayoutID}
		want.scanned = true
		if !reflect.DeepEqual(r, want) {
			t.Errorf("row %d = %+v\nwant %+v", i+2, r, want)
		}
	}
	rep, err := ValidateFile("testdata/clean.xlsx", ReadOptions{}, ValidateOptions{})
	if err != nil || len(rep.Errors) > 0 || rep.ValidRows != len(templateRows) {
		t.Fatalf("ValidateFile = %+v, %v", rep, err)
	}
}

func TestReadWindows1252(t *testing.T) {
	o := ReadOptions{Aliases: win1252Aliases}
	src, rows, _ := readAll(t, "testdata/win1252_semicolon.csv", o)
	if src.Encoding != EncodingWindows1252 || src.Delimiter != ';' {
		t.Fatalf("source = %s %q", src.Encoding, src.Delimiter)
	}
	if src.Columns[ColPhone] != 8 || src.Columns[ColDescription] != 12 || src.Columns[ColDocumentType] != 9 {
		t.Errorf("columns = %v", src.Columns)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	if r := rows[0]; r.BeneficiaryName != "Iñigo" || r.BeneficiaryLastName != "Muñoz Peña" ||
		r.Description != "Devolución de garantía" || r.Amount != "250,50" || r.DocumentNumber != "01234567" {
		t.Errorf("row 2 = %+v", r)
	}
	if r := rows[1]; r.BeneficiaryName != "Óscar" || r.BeneficiaryLastName != "Ñañez" || r.Number != 3 {
		t.Errorf("row 3 = %+v", r)
	}
	rep, err := ValidateFile("testdata/win1252_semicolon.csv", o, ValidateOptions{})
	if err != nil || len(rep.Errors) > 0 || rep.ValidRows != 2 {
		t.Fatalf("ValidateFile = %+v, %v", rep, err)
	}
	p, _, _ := NewValidator(ValidateOptions{}).Check(src, rows[0])
	if p.Amount.Minor != 25050 || p.Amount.Currency != "PEN" {
		t.Errorf("amount = %v", p.Amount)
	}
}

func TestReadLeadingZerosXLSX(t *testing.T) {
	o := ReadOptions{Sheet: "pagos"} // matched ignoring case
	src, rows, _ := readAll(t, "testdata/leading_zeros.xlsx", o)
	if src.Sheet != "Pagos" {
		t.Errorf("sheet = %q", src.Sheet)
	}
	type got struct {
		Number                        int
		Amount, Document, Account, ID string
	}
	var g []got
	for _, r := range rows {
		g = append(g, got{r.Number, r.Amount, r.DocumentNumber, r.AccountNumber, r.PayoutID})
	}
	want := []got{
		{2, "1500.5", "01234567", "00191234567890", "PR-Z-01"},
		{3, "30000", "00012345", "0019123456789", "PR-Z-02"},
		// A number cell reads as Excel shows it (15 significant digits):
		// =0.1+0.2 is 0.3, and 1E-3 a true third decimal.
		{5, "0.3", "00000001", "00191234567891", "PR-Z-05"},
		{6, "0.001", "07654321", "00191234567892", "PR-Z-06"},
	}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("rows = %+v\nwant %+v", g, want)
	}
	rep, err := ValidateFile("testdata/leading_zeros.xlsx", o, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertErrors(t, rep, []string{"6 amount"})
	if e := rep.Errors[0]; !strings.Contains(e.Error(), `leading_zeros.xlsx sheet Pagos row 6, column amount ("0.001"): amount has more decimals`) {
		t.Errorf("message = %s", e.Error())
	}
	p, _, errs := NewValidator(ValidateOptions{}).Check(src, rows[0])
	if len(errs) > 0 || p.Amount.Minor != 150050 || p.Beneficiary.DocumentNumber != "01234567" {
		t.Errorf("payout = %+v, %v", p, errs)
	}
}

func TestSheetNotFound(t *testing.T) {
	_, err := OpenFile("testdata/leading_zeros.xlsx", ReadOptions{Sheet: "Payouts"})
	if !errors.Is(err, ErrNoSheet) || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), `"Instrucciones", "Pagos"`) {
		t.Fatalf("err = %v", err)
	}
}

// writeFile writes a test file under t.TempDir.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const minimalHeader = "payout_id,provider,method,country,currency,amount"

func TestHeaderMatching(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		aliases map[string][]string
		want    map[string]int // canonical -> index, for the columns checked
		missing []string
		dup     bool
	}{
		{name: "canonical", header: minimalHeader, want: map[string]int{ColPayoutID: 0, ColAmount: 5}},
		{name: "case spaces hyphens", header: "PAYOUT ID,Provider,METHOD,country,Currency,Amount,Beneficiary-Last-Name,CCI",
			want: map[string]int{ColPayoutID: 0, ColBeneficiaryLastName: 6, ColCCI: 7}},
		{name: "aliases and accents", header: "Referencia,Proveedor,Método,País,Moneda,Importe,Número de Cuenta",
			aliases: map[string][]string{ColPayoutID: {"referencia"}, ColProvider: {"proveedor"}, ColMethod: {"metodo"},
				ColCountry: {"pais"}, ColCurrency: {"moneda"}, ColAmount: {"importe"}, ColAccountNumber: {"numero de cuenta"}},
			want: map[string]int{ColMethod: 2, ColCountry: 3, ColAccountNumber: 6}},
		{name: "missing", header: "payout_id,provider,amount", missing: []string{ColMethod, ColCurrency}},
		{name: "duplicate", header: minimalHeader + ",Amount", dup: true},
		{name: "duplicate through alias", header: minimalHeader + ",monto",
			aliases: map[string][]string{ColAmount: {"Monto"}}, dup: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "f.csv", tt.header+"\nA,monnet,wallet,PE,PEN,1\n")
			rd, err := OpenFile(p, ReadOptions{Aliases: tt.aliases})
			var he *HeaderError
			if tt.missing != nil || tt.dup {
				if !errors.As(err, &he) || !errors.Is(err, ErrInput) {
					t.Fatalf("err = %v, want a HeaderError", err)
				}
				if !reflect.DeepEqual(he.Missing, tt.missing) || (len(he.Duplicate) > 0) != tt.dup {
					t.Fatalf("missing %v duplicate %v", he.Missing, he.Duplicate)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			for c, i := range tt.want {
				if got, ok := rd.Source().Columns[c]; !ok || got != i {
					t.Errorf("column %s at %d (%v), want %d", c, got, ok, i)
				}
			}
		})
	}
}

func TestBadAliases(t *testing.T) {
	_, err := OpenFile("testdata/clean.csv", ReadOptions{Aliases: map[string][]string{"iban": {"IBAN"}}})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), `unknown column "iban"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestHeaderErrorsReported(t *testing.T) {
	p := writeFile(t, "p.csv", "payout_id,provider,amount,amount\nA,monnet,1\n")
	rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertErrors(t, rep, []string{"1 method", "1 currency", "1 amount"})
}

func TestCaps(t *testing.T) {
	content := minimalHeader + "\n" + strings.Repeat("A,monnet,wallet,PE,PEN,1\n", 5)
	p := writeFile(t, "caps.csv", content)
	if _, err := OpenFile(p, ReadOptions{MaxBytes: 20}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "input.max_bytes") {
		t.Errorf("MaxBytes: err = %v", err)
	}
	_, err := ValidateFile(p, ReadOptions{MaxRows: 4}, ValidateOptions{})
	if !errors.Is(err, ErrTooManyRows) || !strings.Contains(err.Error(), "more than 4 data rows") {
		t.Errorf("MaxRows: err = %v", err)
	}
	if _, err := ValidateFile(p, ReadOptions{MaxRows: 5}, ValidateOptions{}); err != nil {
		t.Errorf("MaxRows 5: %v", err)
	}
}

func TestCSVForms(t *testing.T) {
	row := "PR-1,monnet,wallet,PE,PEN,12.50"
	tests := []struct {
		name, content string
		delim         rune
		enc           string
		n             int
	}{
		{"bom crlf", "\ufeff" + minimalHeader + "\r\n" + row + "\r\n", ',', EncodingUTF8BOM, 1},
		{"tabs", strings.ReplaceAll(minimalHeader+"\n"+row+"\n", ",", "\t"), '\t', EncodingUTF8, 1},
		{"semicolons no final newline", strings.ReplaceAll(minimalHeader+"\n"+row, ",", ";"), ';', EncodingUTF8, 1},
		{"trailing empty columns", minimalHeader + ",,,\n" + row + ",,,\n" + row + "\n", ',', EncodingUTF8, 2},
		{"blank lines", "\n" + minimalHeader + "\n\n,,,,,\n" + row + "\n \n", ',', EncodingUTF8, 1},
		{"quoted header", `"payout_id","provider","method","country","currency","amount"` + "\n" + row + "\n", ',', EncodingUTF8, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, rows, rerrs := readAll(t, writeFile(t, "f.csv", tt.content), ReadOptions{})
			if src.Delimiter != tt.delim || src.Encoding != tt.enc || len(rows) != tt.n || len(rerrs) > 0 {
				t.Fatalf("delim %q enc %s rows %d errs %v", src.Delimiter, src.Encoding, len(rows), rerrs)
			}
			if rows[0].PayoutID != "PR-1" || rows[0].Amount != "12.50" {
				t.Errorf("row = %+v", rows[0])
			}
		})
	}
}

func TestCSVBrokenLines(t *testing.T) {
	content := minimalHeader + "\n" +
		"PR-1,monnet,wallet,PE,PEN,1\n" +
		"PR-2,monnet,wallet,PE,PEN,1,extra\n" + // shifted by an unquoted comma
		"PR-3,mon\"net,wallet,PE,PEN,1\n" + // a bare quote
		"PR-4,monnet,wallet,PE,PEN,1\n"
	_, rows, rerrs := readAll(t, writeFile(t, "f.csv", content), ReadOptions{})
	if len(rows) != 2 || rows[0].Number != 2 || rows[1].Number != 5 {
		t.Fatalf("rows = %+v", rows)
	}
	if len(rerrs) != 2 || rerrs[0].Row != 3 || rerrs[1].Row != 4 {
		t.Fatalf("row errors = %+v", rerrs)
	}
}

func TestNotAPayoutFile(t *testing.T) {
	tests := []struct{ name, content string }{
		{"empty.csv", ""},
		{"fake.xlsx", "payout_id\n"},
		{"old.xls", "\xd0\xcf\x11\xe0rest"},
		{"zip.csv", "PK\x03\x04garbage"},
	}
	for _, tt := range tests {
		if _, err := OpenFile(writeFile(t, tt.name, tt.content), ReadOptions{}); !errors.Is(err, ErrInput) {
			t.Errorf("%s: err = %v, want ErrInput", tt.name, err)
		}
	}
}

func TestFoldHeader(t *testing.T) {
	for in, want := range map[string]string{
		"Número de Cuenta":  "numero_de_cuenta",
		"  payout-ID ":      "payout_id",
		"BENEFICIARY__NAME": "beneficiary_name",
		"\ufeffpayout_id":   "payout_id",
		"Teléfono":          "telefono",
		"Cost center":       "cost_center",
		"document.type":     "document_type",
	} {
		if got := foldHeader(in); got != want {
			t.Errorf("foldHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCSVHugeRecord: a record beyond maxRecord is refused, in the header or
// in a row, without being held: encoding/csv has no bound of its own.
func TestCSVHugeRecord(t *testing.T) {
	huge := strings.Repeat("x", maxRecord+1<<20) // more than the slack of one buffer
	_, err := OpenFile(writeFile(t, "h.csv", minimalHeader+","+huge+"\nA,monnet,wallet,PE,PEN,1,x\n"), ReadOptions{})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "a row of more than 4 MiB") {
		t.Errorf("huge header: err = %v", err)
	}
	rd, err := OpenFile(writeFile(t, "r.csv", minimalHeader+"\nA,monnet,wallet,PE,PEN,1\n\"B"+huge+"\",monnet,wallet,PE,PEN,1\n"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		_, err = rd.Next()
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "a row of more than 4 MiB") {
		t.Errorf("huge row: err = %v", err)
	}
}

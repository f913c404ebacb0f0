package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/reconcile"
)

var annotatedInput = [][]string{
	{"payout_id", "provider", "method", "country", "currency", "amount", "beneficiary_name", "document_number", "account_number", "description", "Notas", "cuenta_interna"},
	{"P-001", "teemopay", "bank_transfer", "PE", "PEN", "1500.50", "José Núñez", "45678912", "00191234564477", "Pago de noviembre", "revisar", "19100112233"},
	{"P-002", "teemopay", "bank_transfer", "PE", "PEN", "20.00", "Ana Pérez", "12345678", "00191234560001", "=HYPERLINK(\"http://evil\")", "-1+1", "19100199999"},
	{"P-003", "teemopay", "bank_transfer", "PE", "PEN", "7.00", "Luis Díaz", "87654321", "00191234560002", "tarjeta " + testPAN, "@x", "19100100000"},
}

func annotatedLines() []reconcile.Line {
	return []reconcile.Line{
		{Row: 2, File: "in", PayoutID: "P-001", Currency: "PEN", Amount: 150050, Fee: 350, Category: reconcile.Matched, State: "succeeded", ProviderRef: "T-9001"},
		{Row: 3, File: "in", PayoutID: "P-002", Currency: "PEN", Amount: 2000, Category: reconcile.FailedAtProvider, State: "failed", Reason: "+account closed", ProviderRef: "T-9002"},
		// Row 4 was never sent: the annotated copy says so.
	}
}

func writeCSV1252(t *testing.T, path string, rows [][]string) {
	t.Helper()
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(quoteAll(r), ";") + "\r\n")
	}
	enc, err := charmap.Windows1252.NewEncoder().String(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(enc), 0o644); err != nil {
		t.Fatal(err)
	}
}

func quoteAll(r []string) []string {
	out := make([]string, len(r))
	for i, v := range r {
		out[i] = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
	}
	return out
}

func TestAnnotatedCSVWindows1252(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "payouts.csv")
	writeCSV1252(t, src, annotatedInput)
	dst := filepath.Join(dir, "payouts.annotated.csv")
	lines := annotatedLines()
	if err := WriteAnnotated(dst, src, batch.ReadOptions{}, LinesByRow(lines, "in"), Options{}); err != nil {
		t.Fatal(err)
	}
	raw := mustRead(t, dst)
	if !bytes.Contains(raw, []byte("Jos\xe9 N\xfa\xf1ez")) {
		t.Error("the annotated copy is not in Windows-1252 like its input")
	}
	utf, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "annotated_1252.csv.golden", string(utf))
	// Reading the annotated copy back gives the same delimiter and encoding.
	r, err := batch.OpenFile(dst, batch.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.Source()
	if s.Delimiter != ';' || s.Encoding != batch.EncodingWindows1252 {
		t.Errorf("annotated copy read back as delimiter %q encoding %s", s.Delimiter, s.Encoding)
	}
	wantHeader := append(append([]string(nil), annotatedInput[0]...), AnnotationColumns...)
	if strings.Join(s.Header, "|") != strings.Join(wantHeader, "|") {
		t.Errorf("header %v, want %v", s.Header, wantHeader)
	}
}

func TestAnnotatedXLSX(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "payouts.xlsx")
	f := excelize.NewFile()
	_ = f.SetSheetName("Sheet1", "Pagos")
	for r, row := range annotatedInput {
		for c, v := range row {
			_ = f.SetCellStr("Pagos", cellName(c+1, r+1), v)
		}
	}
	if err := f.SaveAs(src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dst := filepath.Join(dir, "payouts.annotated.xlsx")
	if err := WriteAnnotated(dst, src, batch.ReadOptions{}, LinesByRow(annotatedLines(), "in"), Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "annotated.xlsx.golden", dumpWorkbook(t, mustRead(t, dst)))
}

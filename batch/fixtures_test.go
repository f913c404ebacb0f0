package batch

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
)

// update regenerates the generated files under testdata/:
//
//	go test ./batch -run TestGenerateFixtures -update
var update = flag.Bool("update", false, "regenerate testdata fixtures")

// win1252Aliases are the aliases the Windows-1252 fixture needs.
var win1252Aliases = map[string][]string{
	ColPayoutID:        {"Referencia"},
	ColBeneficiaryName: {"Nombre"},
	ColPhone:           {"Telefono"},
	ColDescription:     {"Descripcion"},
}

func TestGenerateFixtures(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata")
	}
	// A Windows-1252, ';'-separated file as Excel in Spanish saves it:
	// no BOM, CRLF, accented headers that the aliases name without accents.
	csv1252 := strings.Join([]string{
		"Referencia;Provider;Method;Country;Currency;Amount;Nombre;Beneficiary Last Name;Teléfono;Document-Type;Document Number;Bank Code;Descripción",
		"PR-1252-01;monnet;wallet;PE;PEN;250,50;Iñigo;Muñoz Peña;987654321;DNI;01234567;037;Devolución de garantía",
		"PR-1252-02;monnet;wallet;PE;PEN;80;Óscar;Ñañez;923456789;DNI;45678912;037;Bonificación",
	}, "\r\n") + "\r\n"
	enc, err := charmap.Windows1252.NewEncoder().String(csv1252)
	if err != nil {
		t.Fatal(err)
	}
	write(t, "win1252_semicolon.csv", []byte(enc))

	// A clean workbook: the example rows and an extra column.
	f := excelize.NewFile()
	header := append(append([]string(nil), CanonicalColumns...), "Notas")
	setRow(t, f, "Sheet1", 1, header)
	for i, r := range templateRows {
		vals := make([]string, 0, len(header))
		for _, c := range CanonicalColumns {
			vals = append(vals, r.Get(c))
		}
		setRow(t, f, "Sheet1", i+2, append(vals, "nota "+r.PayoutID))
	}
	save(t, f, "clean.xlsx")

	// Leading zeros stored as text, numeric amount cells, a gap row, and
	// the data on a second sheet behind an instructions sheet.
	f = excelize.NewFile()
	must(t, f.SetSheetName("Sheet1", "Instrucciones"))
	must(t, f.SetCellStr("Instrucciones", "A1", "Llene la hoja Pagos"))
	if _, err := f.NewSheet("Pagos"); err != nil {
		t.Fatal(err)
	}
	setRow(t, f, "Pagos", 1, []string{"payout_id", "provider", "method", "country", "currency", "amount",
		"beneficiary_name", "document_type", "document_number", "bank_code", "account_number", "account_type", "beneficiary_last_name"})
	setRow(t, f, "Pagos", 2, []string{"PR-Z-01", "monnet", "bank_transfer", "PE", "PEN", "", "Ana", "DNI", "01234567", "002", "00191234567890", "savings", "Rojas"})
	must(t, f.SetCellDefault("Pagos", "F2", "1500.5")) // a number cell, stored as 1500.5
	setRow(t, f, "Pagos", 3, []string{"PR-Z-02", "monnet", "bank_transfer", "PE", "PEN", "", "Luis", "DNI", "00012345", "002", "0019123456789", "checking", "Paz"})
	must(t, f.SetCellInt("Pagos", "F3", 30000))
	// row 4 left empty
	setRow(t, f, "Pagos", 5, []string{"PR-Z-05", "monnet", "bank_transfer", "PE", "PEN", "", "Eva", "DNI", "00000001", "002", "00191234567891", "savings", "Soto"})
	must(t, f.SetCellDefault("Pagos", "F5", "0.30000000000000004")) // what =0.1+0.2 leaves in a cell
	setRow(t, f, "Pagos", 6, []string{"PR-Z-06", "monnet", "bank_transfer", "PE", "PEN", "", "Raúl", "DNI", "07654321", "002", "00191234567892", "savings", "Vega"})
	must(t, f.SetCellDefault("Pagos", "F6", "1E-3"))
	save(t, f, "leading_zeros.xlsx")
}

func setRow(t *testing.T, f *excelize.File, sheet string, row int, vals []string) {
	t.Helper()
	for i, v := range vals {
		if v == "" {
			continue
		}
		cell, _ := excelize.CoordinatesToCellName(i+1, row)
		must(t, f.SetCellStr(sheet, cell, v))
	}
}

func save(t *testing.T, f *excelize.File, name string) {
	t.Helper()
	must(t, f.SaveAs(filepath.Join("testdata", name)))
	must(t, f.Close())
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join("testdata", name), b, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

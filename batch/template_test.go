package batch

import (
	"bytes"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/money"
)

// TestTemplateAmountsAreNumbers: the XLSX template stores amounts as
// numbers of their currency (a SUM over them works), and every other
// cell as text.
func TestTemplateAmountsAreNumbers(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTemplate(&b, true); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	col := slices.Index(CanonicalColumns, ColAmount) + 1
	for i, r := range TemplateRows() {
		cell, _ := excelize.CoordinatesToCellName(col, i+2)
		typ, err := f.GetCellType("Payouts", cell)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := f.GetCellValue("Payouts", cell, excelize.Options{RawCellValue: true})
		want, _ := money.Parse(r.Amount, r.Currency)
		got, err := money.Parse(raw, r.Currency)
		if typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset || err != nil || got != want {
			t.Errorf("%s: type %v, value %q (%v), want the number %s", cell, typ, raw, err, r.Amount)
		}
		idCell, _ := excelize.CoordinatesToCellName(1, i+2)
		if typ, _ := f.GetCellType("Payouts", idCell); typ != excelize.CellTypeSharedString && typ != excelize.CellTypeInlineString {
			t.Errorf("%s: type %v, want text", idCell, typ)
		}
	}
}

package reports

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/batch"
)

// TestAnnotatedSheetNameCard: the annotated copy of a workbook whose sheet
// is named with a card number is written, its sheet named without it.
func TestAnnotatedSheetNameCard(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "payouts.xlsx")
	f := excelize.NewFile()
	const name = "4111 1111 1111 1111"
	if err := f.SetSheetName("Sheet1", name); err != nil {
		t.Fatal(err)
	}
	for r, row := range annotatedInput {
		for c, v := range row {
			_ = f.SetCellStr(name, cellName(c+1, r+1), v)
		}
	}
	if err := f.SaveAs(src); err != nil {
		t.Fatal(err)
	}
	f.Close()
	dst := filepath.Join(dir, "annotated.xlsx")
	if err := WriteAnnotated(dst, src, batch.ReadOptions{}, LinesByRow(annotatedLines(), "in"), Options{}); err != nil {
		t.Fatal(err)
	}
	out, err := excelize.OpenReader(bytes.NewReader(mustRead(t, dst)))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sheets := out.GetSheetList()
	if len(sheets) != 1 || strings.Contains(strings.ReplaceAll(sheets[0], " ", ""), "4111111111111111") {
		t.Errorf("sheets %q", sheets)
	}
	checkWorkbook(t, "annotated.xlsx", mustRead(t, dst))
}

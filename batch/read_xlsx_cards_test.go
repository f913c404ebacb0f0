package batch

import (
	"errors"
	"fmt"
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

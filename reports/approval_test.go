package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/reconcile"
	"github.com/xuri/excelize/v2"
)

// TestWorkbookSaysWhoApproved: the Summary's title block names, on the
// batch's line, who approved it, when (in the report's zone) and who
// dropped it, without a row more (the table starts where it did).
func TestWorkbookSaysWhoApproved(t *testing.T) {
	meta, res := fixture()
	res.Batches = []reconcile.BatchInfo{{ID: "B20261121", File: "payouts-2026-11-21.csv", ApprovedBy: "ana", DroppedBy: "bob",
		Approved: time.Date(2026, 11, 21, 15, 2, 0, 0, time.UTC)}}
	var buf bytes.Buffer
	if err := WriteWorkbook(&buf, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _ := f.GetCellValue(SheetSummary, "B2")
	if want := "B20261121 · approved B20261121 by ana 2026-11-21 10:02 (dropped by bob)"; got != want {
		t.Errorf("B2 = %q, want %q", got, want)
	}
	if h, _ := f.GetCellValue(SheetSummary, "A8"); !strings.EqualFold(h, "Currency") {
		t.Errorf("the table moved: A8 = %q", h)
	}
}

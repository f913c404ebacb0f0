package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/reconcile"
	"github.com/xuri/excelize/v2"
)

// TestWorkbookSaysWhoApproved: the Summary's title block names who
// approved each batch, when (in the report's zone) and who dropped it,
// and the table starts where it does for every report.
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
	rows, _ := f.GetRows(SheetSummary)
	got := ""
	for _, r := range rows[:summaryHeaderRow-1] {
		if len(r) > 1 && r[0] == "Approved" {
			got = r[1]
		}
	}
	if want := "B20261121 by ana 2026-11-21 10:02 (dropped by bob)"; got != want {
		t.Errorf("Approved = %q, want %q", got, want)
	}
	if h, _ := f.GetCellValue(SheetSummary, cellName(1, summaryHeaderRow)); !strings.EqualFold(h, "Currency") {
		t.Errorf("the table moved: row %d = %q", summaryHeaderRow, h)
	}
}

package reports

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"net/mail"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/reconcile"
)

// TestDayReportSaysWhatItCovers: the report of a day, as the daemon's
// morning report asks for it, names its period, batches and files in the
// workbook's title block and in the subject, is dated that day, and holds
// that day's payouts and what was open from before, nothing of the day
// after.
func TestDayReportSaysWhatItCovers(t *testing.T) {
	lima, err := time.LoadLocation("America/Lima")
	if err != nil {
		t.Skip("no time zone data")
	}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, lima)
	j := testjournal.Open(t, func() time.Time { return at })
	ctx := context.Background()
	imp := func(id, file string, items ...journal.Item) {
		t.Helper()
		for i := range items {
			items[i].Row = i + 2
		}
		if err := j.Import(ctx, journal.Batch{ID: id, File: file, Rows: len(items), Valid: len(items)}, items); err != nil {
			t.Fatal(err)
		}
	}
	item := func(id string, minor int64, st journal.State) journal.Item {
		it := journaltest.ValidItem(id, "teemopay", minor)
		it.State = st
		return it
	}
	imp("B20261120-0000000001", "payouts-old.csv", item("o-1", 100, journal.Submitted), item("o-2", 100, journal.Succeeded))
	at = time.Date(2026, 11, 21, 9, 0, 0, 0, lima)
	var a, b []journal.Item
	for i := range 20 {
		a = append(a, item("a-"+strconv.Itoa(i), 1000, journal.Succeeded))
		b = append(b, item("b-"+strconv.Itoa(i), 2000, journal.Succeeded))
	}
	a[3].State, b[5].State = journal.Failed, journal.Failed
	imp("B20261121-000000000a", "payouts-a.csv", a...)
	at = time.Date(2026, 11, 21, 15, 0, 0, 0, lima)
	imp("B20261121-000000000b", "payouts-b.xlsx", b...)
	at = time.Date(2026, 11, 22, 0, 30, 0, 0, lima) // the next day's file, before the morning report
	imp("B20261122-0000000001", "payouts-next.csv", item("n-1", 500, journal.Submitted))
	at = time.Date(2026, 11, 22, 7, 0, 0, 0, lima)

	dir := t.TempDir()
	m := &Mailer{Outbox: filepath.Join(dir, "outbox")}
	files, err := Run(ctx, j, Request{Scope: reconcile.Scope{Date: "2026-11-21", Open: true}, Dir: dir,
		Match: reconcile.MatchOptions{Location: lima}, Mailer: m,
		Envelope: Envelope{From: "payrun@example.com", To: []string{"accounts@example.com"}, SubjectPrefix: "[payrun]"}})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(files.Workbook) != "reconciliation-2026-11-21.xlsx" {
		t.Errorf("workbook %s, want it dated the 21st", files.Workbook)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(mustRead(t, files.EML)))
	if err != nil {
		t.Fatal(err)
	}
	want := "[payrun] Reconciliation 2026-11-21 (2 batches: payouts-a.csv, payouts-b.xlsx; 1 open item from before): 38 matched, 3 exceptions"
	if got := msg.Header.Get("Subject"); got != want {
		t.Errorf("subject\n %q\nwant\n %q", got, want)
	}

	f, err := excelize.OpenFile(files.Workbook)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := map[string]string{}
	for r := 2; r < summaryHeaderRow; r++ {
		k, _ := f.GetCellValue(SheetSummary, cellName(1, r))
		v, _ := f.GetCellValue(SheetSummary, cellName(2, r))
		block[k] = v
	}
	for k, v := range map[string]string{
		"Period":          "2026-11-21: the batches received that day, and every item still open from before",
		"Batches":         "B20261121-000000000a, B20261121-000000000b",
		"Files":           "payouts-a.csv, payouts-b.xlsx",
		"Carried forward": "1 open item from 1 batch received before: B20261120-0000000001",
		"Run time":        "2026-11-22 07:00:00",
	} {
		if block[k] != v {
			t.Errorf("title block %s: %q, want %q", k, block[k], v)
		}
	}
	// The run time is a date, not text.
	cell := ""
	for r := 2; r < summaryHeaderRow; r++ {
		if k, _ := f.GetCellValue(SheetSummary, cellName(1, r)); k == "Run time" {
			cell = cellName(2, r)
		}
	}
	if typ, _ := f.GetCellType(SheetSummary, cell); typ == excelize.CellTypeSharedString || typ == excelize.CellTypeInlineString {
		t.Errorf("Run time %s is text", cell)
	}
	if raw, _ := f.GetCellValue(SheetSummary, cell, excelize.Options{RawCellValue: true}); !strings.HasPrefix(raw, "46348.29") {
		t.Errorf("Run time %s holds %q, want the serial date of 2026-11-22 07:00", cell, raw)
	}
	rows, err := f.GetRows(SheetDetails)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, r := range rows[1:] {
		ids[r[3]] = true
	}
	if len(ids) != 41 || !ids["o-1"] || ids["o-2"] || ids["n-1"] || !ids["a-0"] || !ids["b-19"] {
		t.Errorf("Details holds %d payouts (%v); want the 40 of the 21st and o-1, open from the 20th", len(ids), ids)
	}
}

// TestWorkbookPrintsAndListsWidthsInOrder: every sheet is landscape, fit
// to one page wide, with its header row repeated on every page, and lists
// its column widths in ascending column order.
func TestWorkbookPrintsAndListsWidthsInOrder(t *testing.T) {
	meta, res := fixture()
	var b bytes.Buffer
	if err := WriteWorkbook(&b, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatal(err)
	}
	part := func(name string) []byte {
		for _, zf := range zr.File {
			if zf.Name == name {
				rc, _ := zf.Open()
				defer rc.Close()
				data, _ := io.ReadAll(rc)
				return data
			}
		}
		t.Fatalf("no part %s", name)
		return nil
	}
	var wb struct {
		Sheets []struct {
			Name string `xml:"name,attr"`
		} `xml:"sheets>sheet"`
		Names []struct {
			Name    string `xml:"name,attr"`
			SheetID int    `xml:"localSheetId,attr"`
			Refers  string `xml:",chardata"`
		} `xml:"definedNames>definedName"`
	}
	if err := xml.Unmarshal(part("xl/workbook.xml"), &wb); err != nil {
		t.Fatal(err)
	}
	titles := map[string]string{}
	for _, n := range wb.Names {
		if n.Name == "_xlnm.Print_Titles" {
			titles[wb.Sheets[n.SheetID].Name] = n.Refers
		}
	}
	for i, sh := range wb.Sheets {
		header := "$1:$1"
		if sh.Name == SheetSummary {
			header = "$" + strconv.Itoa(summaryHeaderRow) + ":$" + strconv.Itoa(summaryHeaderRow)
		}
		if !strings.HasSuffix(titles[sh.Name], "!"+header) {
			t.Errorf("%s: print titles %q, want rows %s", sh.Name, titles[sh.Name], header)
		}
		var ws struct {
			FitToPage struct {
				Fit bool `xml:"fitToPage,attr"`
			} `xml:"sheetPr>pageSetUpPr"`
			Cols []struct {
				Min int `xml:"min,attr"`
				Max int `xml:"max,attr"`
			} `xml:"cols>col"`
			Setup struct {
				Orientation string `xml:"orientation,attr"`
				Width       string `xml:"fitToWidth,attr"`
				Height      string `xml:"fitToHeight,attr"`
			} `xml:"pageSetup"`
		}
		raw := part("xl/worksheets/sheet" + strconv.Itoa(i+1) + ".xml")
		if err := xml.Unmarshal(raw, &ws); err != nil {
			t.Fatal(err)
		}
		if !ws.FitToPage.Fit || ws.Setup.Orientation != "landscape" || ws.Setup.Width != "1" || ws.Setup.Height != "0" {
			t.Errorf("%s: fitToPage %v, page setup %+v", sh.Name, ws.FitToPage.Fit, ws.Setup)
		}
		if len(ws.Cols) == 0 {
			t.Errorf("%s: no column widths", sh.Name)
		}
		for k := 1; k < len(ws.Cols); k++ {
			if ws.Cols[k].Min <= ws.Cols[k-1].Max {
				t.Errorf("%s: column widths out of order: %s", sh.Name, regexp.MustCompile(`<cols>.*</cols>`).Find(raw))
				break
			}
		}
	}
}

// TestJSONMasked: Mask keeps account and document numbers to their last
// four, unless unmasked, and card numbers never show.
func TestJSONMasked(t *testing.T) {
	_, res := fixture()
	Mask(res, Options{})
	for _, l := range res.Lines {
		if l.Account != "" && !strings.HasPrefix(l.Account, "****") || l.Document != "" && !strings.HasPrefix(l.Document, "****") {
			t.Errorf("%s: account %q document %q", l.PayoutID, l.Account, l.Document)
		}
		if strings.Contains(l.Reason, testPAN) {
			t.Errorf("%s: a card number in %q", l.PayoutID, l.Reason)
		}
	}
	for _, r := range res.Invalid {
		if strings.Contains(r.Value, "0019123456") || strings.Contains(r.Value, testPAN) {
			t.Errorf("invalid row value %q", r.Value)
		}
	}
	_, res = fixture()
	Mask(res, Options{Unmasked: true})
	if res.Lines[0].Account != "00191234564477" || strings.Contains(res.Lines[5].Reason, testPAN) {
		t.Errorf("unmasked: account %q, reason %q", res.Lines[0].Account, res.Lines[5].Reason)
	}
}

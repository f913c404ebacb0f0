package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reconcile"
)

// TestLibreOfficeOpensWorkbook converts the workbook to CSV with a headless
// LibreOffice (which exports the first sheet, Summary) and checks the
// per-currency input totals as LibreOffice shows them.
func TestLibreOfficeOpensWorkbook(t *testing.T) {
	bin := soffice(t)
	dir := t.TempDir()
	meta, res := fixture()
	var b bytes.Buffer
	if err := WriteWorkbook(&b, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "reconciliation.xlsx")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Filter options: comma, double quote, UTF-8, ..., and token 9 "save
	// cell contents as shown", so the number formats apply.
	got := convert(t, bin, in, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true", "csv")
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("LibreOffice's CSV: %v\n%s", err, got)
	}
	totals := map[string][]string{}
	for _, r := range recs {
		if len(r) >= 6 && r[2] == "Total input" {
			totals[r[0]] = r[3:6]
		}
	}
	// LibreOffice shows the numbers with their number format: proof that
	// they are numbers with the currency's decimals, not text.
	want := map[string][]string{
		"CLP": {"2", "125,990", "0"},
		"PEN": {"3", "1,520.51", "3.50"},
		"RUB": {"2", "1,000,000,000.99", "12.50"},
	}
	for cur, w := range want {
		if strings.Join(totals[cur], "|") != strings.Join(w, "|") {
			t.Errorf("%s totals in LibreOffice: %v, want %v\n%s", cur, totals[cur], w, got)
		}
	}
	if len(recs) < 2 || recs[0][0] != "payrun reconciliation" {
		t.Errorf("first sheet is not Summary:\n%s", got)
	}
}

// soffice finds LibreOffice, or skips the test saying how to install it.
func soffice(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"soffice", "libreoffice"} {
		if p, err := exec.LookPath(name); err == nil {
			if testing.Short() {
				t.Skip("LibreOffice conversion takes seconds; skipped with -short")
			}
			return p
		}
	}
	t.Skip("LibreOffice (soffice or libreoffice) is not on PATH; install libreoffice-calc to run this test")
	return ""
}

// convert has LibreOffice convert in (headless, with its own profile) and
// returns the file it wrote, whose extension is ext.
func convert(t *testing.T, bin, in, to, ext string) []byte {
	t.Helper()
	dir := filepath.Dir(in)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--norestore",
		"-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		"--convert-to", to, "--outdir", dir, in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	got, err := os.ReadFile(strings.TrimSuffix(in, filepath.Ext(in)) + "." + ext)
	if err != nil {
		t.Fatalf("soffice wrote nothing: %v", err)
	}
	return got
}

// pdfPages counts the pages of a PDF: pdfinfo's count when poppler-utils
// is there, else the page objects (LibreOffice writes no object streams).
func pdfPages(t *testing.T, path string, pdf []byte) int {
	t.Helper()
	if bin, err := exec.LookPath("pdfinfo"); err == nil {
		out, err := exec.Command(bin, path).Output()
		if err != nil {
			t.Fatalf("pdfinfo: %v", err)
		}
		if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out); m != nil {
			n, _ := strconv.Atoi(string(m[1]))
			return n
		}
		t.Fatalf("pdfinfo says no page count:\n%s", out)
	}
	return len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
}

// demoLines are 48 lines shaped like those of 'payrun demo' (two files of
// 24 rows, every provider and method, failures, links waiting, long
// reasons and URLs), for the printed size of the workbook.
func demoLines() *reconcile.Result {
	at := time.Date(2026, 11, 21, 18, 5, 0, 0, lima)
	provs := []struct{ prov, method, cur string }{
		{"monnet", "bank_transfer", "PEN"}, {"monnet", "wallet", "PEN"}, {"monnet", "card_push", "PEN"},
		{"monnet", "payment_link", "USD"}, {"teemopay", "bank_transfer", "PEN"}, {"teemopay", "bank_transfer", "PEN"},
		{"bank131", "card_token", "RUB"}, {"smartglocal", "card_token", "EUR"},
	}
	res := &reconcile.Result{Scope: "date 2026-11-21 + open items", GeneratedAt: at, TimeZone: "America/Lima"}
	for f, batch := range []string{"B20261121-3f9a0c1d2e", "B20261121-7b97f87cc7"} {
		file := []string{"payouts-demo.csv", "payouts-demo.xlsx"}[f]
		res.Batches = append(res.Batches, reconcile.BatchInfo{ID: batch, File: file, Rows: 24})
		for i := range 24 {
			p := provs[i%len(provs)]
			l := reconcile.Line{BatchID: batch, File: file, Row: i + 2, PayoutID: fmt.Sprintf("D%s-%04d", []string{"CSV", "XLS"}[f], i+1),
				Provider: p.prov, Method: p.method, Currency: p.cur, Amount: 150050 + int64(i), Fee: 350,
				Category: reconcile.Matched, State: "succeeded", ProviderStatus: "PAID", ProviderRef: fmt.Sprintf("PRV-%012d", i),
				Beneficiary: "María Fernanda Núñez Quispe", Account: "00243000584290204477", Document: "01234567",
				Created: at, Updated: at.Add(4 * time.Minute)}
			switch {
			case (i+1)%7 == 0:
				l.Category, l.State, l.ProviderCode, l.Reason = reconcile.FailedAtProvider, "failed", "4001", "Account closed at the beneficiary's bank"
			case p.method == "payment_link" || p.method == "card_push":
				l.Category, l.State, l.Reason = reconcile.AwaitingBeneficiary, "awaiting_beneficiary", "waiting for the beneficiary"
				l.URL = "https://sandbox.monnet.example/pay/" + strings.Repeat("a1b2c3d4", 4)
			}
			res.Lines = append(res.Lines, l)
		}
	}
	res.Tally()
	return res
}

// TestLibreOfficePrintsDemoWorkbook: the workbook of the demo's 48 rows
// prints (every sheet, as LibreOffice lays it out) in at most 6 pages.
func TestLibreOfficePrintsDemoWorkbook(t *testing.T) {
	bin := soffice(t)
	dir := t.TempDir()
	res := demoLines()
	meta := Meta{Scope: reconcile.Scope{Date: "2026-11-21", Open: true}, BatchIDs: []string{res.Batches[0].ID, res.Batches[1].ID},
		Files: []string{res.Batches[0].File, res.Batches[1].File}, RunAt: res.GeneratedAt, Location: lima}
	var b bytes.Buffer
	if err := WriteWorkbook(&b, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "reconciliation-2026-11-21.xlsx")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pdf := convert(t, bin, in, "pdf", "pdf")
	n := pdfPages(t, strings.TrimSuffix(in, ".xlsx")+".pdf", pdf)
	t.Logf("the 48-row workbook prints in %d pages", n)
	if n < 1 || n > 6 {
		t.Errorf("the 48-row workbook prints in %d pages, want at most 6", n)
	}
}

// TestLibreOfficeSumsAnnotatedAmounts: in LibreOffice, a SUM over the
// annotated copy's amount column equals the input's total: the amounts
// stayed numbers.
func TestLibreOfficeSumsAnnotatedAmounts(t *testing.T) {
	bin := soffice(t)
	dir := t.TempDir()
	var rows []batch.Row
	var total int64
	for i, r := range batch.TemplateRows() {
		if r.Currency != "PEN" {
			continue
		}
		r.Amount = money.FormatMinor(int64(100001+i*37), 2) // cents that a float would lose
		m, err := money.Parse(r.Amount, r.Currency)
		if err != nil {
			t.Fatal(err)
		}
		total += m.Minor
		rows = append(rows, r)
	}
	src := filepath.Join(dir, "payouts.xlsx")
	if err := WriteFile(src, 0o600, func(w io.Writer) error { return batch.WriteRows(w, rows, true) }); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "payouts-annotated.xlsx")
	if err := WriteAnnotated(dst, src, batch.ReadOptions{}, LinesByRow(nil, ""), Options{}); err != nil {
		t.Fatal(err)
	}
	// A copy with a SUM below the amounts, the formula LibreOffice computes.
	f, err := excelize.OpenFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	sheet := f.GetSheetName(0)
	col := colName(slices.Index(batch.CanonicalColumns, batch.ColAmount) + 1)
	sum := fmt.Sprintf("%s%d", col, len(rows)+3)
	if err := f.SetCellFormula(sheet, sum, fmt.Sprintf("SUM(%s2:%s%d)", col, col, len(rows)+1)); err != nil {
		t.Fatal(err)
	}
	withSum := filepath.Join(dir, "with-sum.xlsx")
	if err := f.SaveAs(withSum); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Raw values (not as shown): the sum as LibreOffice computed it.
	got := convert(t, bin, withSum, "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false", "csv")
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("LibreOffice's CSV: %v\n%s", err, got)
	}
	last := recs[len(recs)-1]
	idx := slices.Index(batch.CanonicalColumns, batch.ColAmount)
	if len(last) <= idx {
		t.Fatalf("no SUM row in LibreOffice's CSV:\n%s", got)
	}
	gotSum, err := money.Parse(last[idx], "PEN")
	if err != nil || gotSum.Minor != total {
		t.Errorf("SUM of the annotated amounts in LibreOffice: %q, want %s\n%s", last[idx], money.FormatMinor(total, 2), got)
	}
}

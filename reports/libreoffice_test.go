package reports

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLibreOfficeOpensWorkbook converts the workbook to CSV with a headless
// LibreOffice (which exports the first sheet, Summary) and checks the
// per-currency input totals as LibreOffice shows them.
func TestLibreOfficeOpensWorkbook(t *testing.T) {
	bin := ""
	for _, name := range []string{"soffice", "libreoffice"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("LibreOffice (soffice or libreoffice) is not on PATH; install libreoffice-calc to run this test")
	}
	if testing.Short() {
		t.Skip("LibreOffice conversion takes seconds; skipped with -short")
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--norestore",
		"-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
		// Filter options: comma, double quote, UTF-8, ..., and token 9
		// "save cell contents as shown", so the number formats apply.
		"--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true", "--outdir", dir, in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("soffice: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "reconciliation.csv"))
	if err != nil {
		t.Fatal(err)
	}
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

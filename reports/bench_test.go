package reports

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/reconcile"
)

// bigRows is the size of the large benchmarks: 1,000,000 with PAYRUN_BIG=1,
// 10,000 otherwise so that go test ./... stays fast.
func bigRows() int {
	if os.Getenv("PAYRUN_BIG") == "1" {
		return 1_000_000
	}
	return 10_000
}

var benchCategories = []reconcile.Category{reconcile.Matched, reconcile.Matched, reconcile.Matched, reconcile.FailedAtProvider, reconcile.Pending}

// genLines yields n synthetic lines without holding them.
func genLines(n int) iter.Seq[reconcile.Line] {
	created := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	return func(yield func(reconcile.Line) bool) {
		for i := range n {
			l := reconcile.Line{
				BatchID: "B20261121", File: "payouts-2026-11-21.xlsx", Row: i + 2,
				PayoutID: "P-" + strconv.Itoa(1_000_000+i), Provider: "teemopay", Method: "bank_transfer",
				Currency: "PEN", Amount: int64(100_00 + i%100_000), Fee: 350, Category: benchCategories[i%len(benchCategories)],
				State: "succeeded", ProviderRef: "T-" + strconv.Itoa(9_000_000+i), Beneficiary: "María Pérez",
				Account: "0019123456" + strconv.Itoa(1000+i%9000), Document: strconv.Itoa(40_000_000 + i),
				Created: created.Add(time.Duration(i) * time.Second), Updated: created.Add(time.Duration(i)*time.Second + time.Minute),
			}
			if l.Category != reconcile.Matched {
				l.Reason = "account closed"
			}
			if !yield(l) {
				return
			}
		}
	}
}

func writeDetailsOnly(w io.Writer, n int) error {
	res := &reconcile.Result{}
	return WriteWorkbookLines(w, Meta{BatchIDs: []string{"B20261121"}, RunAt: time.Now()}, res, genLines(n), Options{})
}

// writeBare writes the same Details cells (same values, types and styles)
// with a bare StreamWriter: no masking, no neutralising, no Exceptions sheet
// beside it, no other sheets.
func writeBare(w io.Writer, n int) error {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	df, nf := "yyyy-mm-dd hh:mm:ss", "#,##0.00"
	dateStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &df})
	if err != nil {
		return err
	}
	amountStyle, err := f.NewStyle(&excelize.Style{CustomNumFmt: &nf})
	if err != nil {
		return err
	}
	amount := func(minor int64) excelize.Cell {
		v, _ := streamNumber(decimal(minor, "PEN"))
		return excelize.Cell{StyleID: amountStyle, Value: v}
	}
	hdr := make([]any, len(detailColumns))
	for i, c := range detailColumns {
		hdr[i] = c.header
	}
	if err := sw.SetRow("A1", hdr); err != nil {
		return err
	}
	row := make([]any, 0, len(detailColumns))
	r := 1
	for l := range genLines(n) {
		r++
		row = append(row[:0], l.BatchID, l.File, l.Row, l.PayoutID, l.Provider, l.Method, l.Currency,
			amount(l.Amount), nil, amount(l.Fee), string(l.Category), l.Reason, l.State, l.ProviderCode,
			l.ProviderStatus, l.ProviderRef, l.URL, l.Beneficiary, l.Account, l.Document,
			excelize.Cell{StyleID: dateStyle, Value: l.Created}, excelize.Cell{StyleID: dateStyle, Value: l.Updated},
			l.AgeDays, l.AgeBucket)
		if err := sw.SetRow("A"+strconv.Itoa(r), row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

func BenchmarkDetails10k(b *testing.B) { benchWrite(b, 10_000, writeDetailsOnly) }

func BenchmarkBareStreamWriter10k(b *testing.B) { benchWrite(b, 10_000, writeBare) }

func BenchmarkDetails1M(b *testing.B) {
	if bigRows() < 1_000_000 {
		b.Skip("set PAYRUN_BIG=1 for the million-row benchmark")
	}
	benchWrite(b, 1_000_000, writeDetailsOnly)
}

func BenchmarkBareStreamWriter1M(b *testing.B) {
	if bigRows() < 1_000_000 {
		b.Skip("set PAYRUN_BIG=1 for the million-row benchmark")
	}
	benchWrite(b, 1_000_000, writeBare)
}

func benchWrite(b *testing.B, n int, write func(io.Writer, int) error) {
	b.ReportAllocs()
	for b.Loop() {
		if err := write(io.Discard, n); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRSSChild is the body of the subprocess TestDetailsPeakRSS starts: it
// writes one workbook and prints its time and peak RSS.
func TestRSSChild(t *testing.T) {
	which := os.Getenv("PAYRUN_RSS_CHILD")
	if which == "" {
		t.Skip("run by TestDetailsPeakRSS")
	}
	n, _ := strconv.Atoi(os.Getenv("PAYRUN_RSS_ROWS"))
	out, err := os.CreateTemp(t.TempDir(), "*.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	write := writeDetailsOnly
	if which == "bare" {
		write = writeBare
	}
	start := time.Now()
	if err := write(out, n); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	st, _ := out.Stat()
	fmt.Printf("RSSCHILD %s rows=%d elapsed_ms=%d vmhwm_kb=%d bytes=%d\n", which, n, elapsed.Milliseconds(), vmHWM(t), st.Size())
}

func vmHWM(t *testing.T) int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb
		}
	}
	return 0
}

type rssRun struct{ ms, kb, bytes int }

func runChild(t *testing.T, which string, n int) rssRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PAYRUN_RSS_CHILD="+which, "PAYRUN_RSS_ROWS="+strconv.Itoa(n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s child: %v\n%s", which, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "RSSCHILD "+which+" "); ok {
			var r rssRun
			var rows int
			if _, err := fmt.Sscanf(rest, "rows=%d elapsed_ms=%d vmhwm_kb=%d bytes=%d", &rows, &r.ms, &r.kb, &r.bytes); err != nil {
				t.Fatalf("parse %q: %v", line, err)
			}
			return r
		}
	}
	t.Fatalf("%s child printed no result:\n%s", which, out)
	return rssRun{}
}

// TestDetailsPeakRSS writes a Details sheet (1,000,000 rows with
// PAYRUN_BIG=1) with payrun's writer and with a bare StreamWriter, each in
// its own process, and checks peak RSS under 500 MB and time within 1.5x.
func TestDetailsPeakRSS(t *testing.T) {
	if os.Getenv("PAYRUN_BIG") != "1" {
		t.Skip("set PAYRUN_BIG=1 to measure the million-row workbook")
	}
	n := bigRows()
	bare := runChild(t, "bare", n)
	ours := runChild(t, "details", n)
	t.Logf("rows=%d bare: %d ms, peak RSS %d MB, %d bytes", n, bare.ms, bare.kb/1024, bare.bytes)
	t.Logf("rows=%d payrun: %d ms, peak RSS %d MB, %d bytes (%.2fx time)", n, ours.ms, ours.kb/1024, ours.bytes, float64(ours.ms)/float64(bare.ms))
	if ours.kb > 500*1024 {
		t.Errorf("peak RSS %d MB, over 500 MB", ours.kb/1024)
	}
	if ours.ms*2 > bare.ms*3 {
		t.Errorf("payrun's writer took %d ms, more than 1.5x the bare StreamWriter's %d ms", ours.ms, bare.ms)
	}
}

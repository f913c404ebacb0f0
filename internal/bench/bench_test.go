package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/bench"
)

// The stages of `payrun bench` as go test benchmarks, so that benchstat
// can compare runs:
//
//	PAYRUN_BENCH_ROWS=1000000 go test -run '^$' -bench IngestCSV -benchtime 1x ./internal/bench/

// benchSize reads a workload size from the environment (PAYRUN_BENCH_ROWS
// and friends), so that the same benchmark runs at the full size.
func benchSize(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive row count", name, v)
	}
	return n
}

// runSides times one stage side per iteration in a fresh directory and
// reports its throughput; inputs are generated before the timer starts.
func runSides(b *testing.B, unit string, side func(dir string) (bench.Side, error)) {
	b.Helper()
	var total, cpu time.Duration
	items := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := side(filepath.Join(b.TempDir(), strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		total += s.Elapsed
		cpu += s.CPU
		items += s.Items
	}
	if total > 0 {
		b.ReportMetric(float64(items)/total.Seconds(), unit+"/s")
	}
	if cpu > 0 && items > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(items), "cpu-µs/"+strings.TrimSuffix(unit, "s"))
	}
}

func csvFile(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "payouts.csv")
	if err := bench.WriteCSV(p, benchSize(b, "PAYRUN_BENCH_ROWS", 100_000)); err != nil {
		b.Fatal(err)
	}
	return p
}

func xlsxFile(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "payouts.xlsx")
	if err := bench.WriteXLSX(p, benchSize(b, "PAYRUN_BENCH_XLSX_ROWS", 20_000)); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkIngestCSV is Journal.Ingest of a generated valid CSV file
// (PAYRUN_BENCH_ROWS rows, default 100,000).
func BenchmarkIngestCSV(b *testing.B) {
	p := csvFile(b)
	runSides(b, "rows", func(dir string) (bench.Side, error) { return bench.IngestOurs(p, dir) })
}

// BenchmarkIngestCSVBaseline is encoding/csv plus bbolt writes of the same
// records as JSON in 1,000-record transactions.
func BenchmarkIngestCSVBaseline(b *testing.B) {
	p := csvFile(b)
	fill := oursFill(b, p)
	runSides(b, "rows", func(dir string) (bench.Side, error) { return bench.IngestBaseline(p, dir, fill) })
}

// BenchmarkIngestXLSX is Journal.Ingest of a generated XLSX file
// (PAYRUN_BENCH_XLSX_ROWS rows, default 20,000).
func BenchmarkIngestXLSX(b *testing.B) {
	p := xlsxFile(b)
	runSides(b, "rows", func(dir string) (bench.Side, error) { return bench.IngestOurs(p, dir) })
}

// BenchmarkIngestXLSXBaseline is excelize Rows() plus the same bbolt writes.
func BenchmarkIngestXLSXBaseline(b *testing.B) {
	p := xlsxFile(b)
	fill := oursFill(b, p)
	runSides(b, "rows", func(dir string) (bench.Side, error) { return bench.IngestBaseline(p, dir, fill) })
}

// BenchmarkDispatch is the dispatcher with its journal sending
// PAYRUN_BENCH_PAYOUTS payouts (default 2,000) to an unthrottled
// in-process TeemoPay sandbox.
func BenchmarkDispatch(b *testing.B) {
	n := benchSize(b, "PAYRUN_BENCH_PAYOUTS", 2_000)
	runSides(b, "payouts", func(dir string) (bench.Side, error) { return bench.DispatchOurs(context.Background(), dir, n) })
}

// BenchmarkBareLoop sends the same signed requests with the TeemoPay
// client from bench.Concurrency goroutines, no journal.
func BenchmarkBareLoop(b *testing.B) {
	n := benchSize(b, "PAYRUN_BENCH_PAYOUTS", 2_000)
	runSides(b, "payouts", func(dir string) (bench.Side, error) { return bench.DispatchBaseline(context.Background(), dir, n) })
}

// oursFill is the fill at which the journal writes the items of the file
// at p, for its baseline to write at.
func oursFill(b *testing.B, p string) float64 {
	dir := b.TempDir()
	if _, err := bench.IngestOurs(p, dir); err != nil {
		b.Fatal(err)
	}
	fill, err := bench.IngestFill(dir)
	if err != nil {
		b.Fatal(err)
	}
	return fill
}

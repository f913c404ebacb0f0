package batch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchRows is the size of the generated benchmark file.
const benchRows = 100_000

// writeBenchCSV writes a file of n valid rows cycling through the
// template's examples, each with its own payout_id.
func writeBenchCSV(b *testing.B, n int) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench.csv")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, strings.Join(CanonicalColumns, ","))
	for i := 0; i < n; i++ {
		r := templateRows[i%len(templateRows)]
		r.PayoutID = fmt.Sprintf("B-%09d", i)
		for j, c := range CanonicalColumns {
			if j > 0 {
				w.WriteByte(',')
			}
			v := r.Get(c)
			if strings.ContainsAny(v, ",\"\n") {
				v = `"` + strings.ReplaceAll(v, `"`, `""`) + `"`
			}
			w.WriteString(v)
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkReadCSV reads a 100,000-row file: decoding, sniffing, gocsv.
func BenchmarkReadCSV(b *testing.B) {
	p := writeBenchCSV(b, benchRows)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rd, err := OpenFile(p, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		rd.Close()
		if n != benchRows {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkValidate reads and validates a 100,000-row file, duplicate
// check included.
func BenchmarkValidate(b *testing.B) {
	p := writeBenchCSV(b, benchRows)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.ValidRows != benchRows {
			b.Fatalf("%d valid rows: %v", rep.ValidRows, rep.Errors[:1])
		}
	}
	b.ReportMetric(float64(benchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

package pgjournal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/bench"
	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
)

// The goals on PostgreSQL, at full size:
//
//	PAYRUN_BENCH_ROWS=1000000 go test -run '^$' -bench 'Ingest' -benchtime 1x ./journal/pgjournal/
//	go test -run '^$' -bench 'Webhook' -benchtime 1x ./journal/pgjournal/
//
// (PAYRUN_TEST_POSTGRES names the server; each run gets a new database.)

func benchSize(b *testing.B, name string, def int) int {
	b.Helper()
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive count", name, v)
		}
		return n
	}
	return def
}

func csvFile(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "payouts.csv")
	if err := bench.WriteCSV(p, benchSize(b, "PAYRUN_BENCH_ROWS", 100_000)); err != nil {
		b.Fatal(err)
	}
	return p
}

// runIngest times one side per iteration on a new database.
func runIngest(b *testing.B, side func(path, dsn string) (bench.Side, error)) {
	p := csvFile(b)
	var total time.Duration
	rows := 0
	for range b.N {
		dsn := pgtest.New(b, pgjournal.Migrate)
		s, err := side(p, dsn)
		if err != nil {
			b.Fatal(err)
		}
		total += s.Elapsed
		rows += s.Items
	}
	b.ReportMetric(float64(rows)/total.Seconds(), "rows/s")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/run")
}

// BenchmarkIngestPostgres is Journal.Ingest of a valid CSV file
// (PAYRUN_BENCH_ROWS rows, default 100,000) into PostgreSQL.
func BenchmarkIngestPostgres(b *testing.B) {
	runIngest(b, func(p, dsn string) (bench.Side, error) { return bench.IngestPostgres(bg, p, dsn) })
}

// BenchmarkIngestPostgresCopyBaseline is one bare COPY of the same rows
// into a table of payrun_items's shape.
func BenchmarkIngestPostgresCopyBaseline(b *testing.B) {
	runIngest(b, func(p, dsn string) (bench.Side, error) { return bench.IngestCopyBaseline(bg, p, dsn) })
}

// BenchmarkWebhookPostgres delivers PAYRUN_BENCH_WEBHOOKS signed callbacks
// (default 20,000) to the receiver over PostgreSQL, 64 and 128 at a time.
func BenchmarkWebhookPostgres(b *testing.B) {
	n := benchSize(b, "PAYRUN_BENCH_WEBHOOKS", 20_000)
	for _, width := range []int{64, 128} {
		b.Run(strconv.Itoa(width), func(b *testing.B) {
			for range b.N {
				dsn := pgtest.New(b, pgjournal.Migrate)
				r, err := bench.WebhookPostgres(bg, b.TempDir(), dsn, n, width)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(r.Items)/r.Elapsed.Seconds(), "webhooks/s")
				b.ReportMetric(float64(r.P50.Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(r.P99.Microseconds())/1000, "p99-ms")
				b.ReportMetric(r.Tail.Seconds(), "drain-s")
			}
		})
	}
}

// BenchmarkApplyPostgres is the dispatcher's writes without a provider:
// PAYRUN_BENCH_PAYOUTS payouts (default 5,000), 16 at a time, each moved
// queued+sending in one Apply, then submitted with the provider's ids
// (two transactions a payout, as a send is).
func BenchmarkApplyPostgres(b *testing.B) {
	n := benchSize(b, "PAYRUN_BENCH_PAYOUTS", 5000)
	for range b.N {
		j, err := pgjournal.Open(bg, pgtest.New(b, pgjournal.Migrate), pgjournal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		items := make([]journal.Item, n)
		for i := range items {
			items[i] = journaltest.ValidItem(fmt.Sprintf("P-%06d", i), "teemopay", 1000)
		}
		journaltest.Import(b, j, "B1", items...)
		next := make(chan string)
		var wg sync.WaitGroup
		start := time.Now()
		for range 16 {
			wg.Go(func() {
				for id := range next {
					if err := j.Apply(bg, journal.Change{PayoutID: id, To: journal.Queued}, journal.Change{PayoutID: id, To: journal.Sending, From: journal.Queued}); err != nil {
						b.Error(err)
					}
					st := &providers.Status{Outcome: providers.Processing, Refs: providers.Refs{ProviderID: "T" + id}}
					if err := j.Apply(bg, journal.Change{PayoutID: id, To: journal.Submitted, Status: st, From: journal.Sending}); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, it := range items {
			next <- it.PayoutID
		}
		close(next)
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "payouts/s")
		j.Close()
	}
}

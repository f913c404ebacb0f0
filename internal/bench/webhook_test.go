package bench

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
)

// BenchmarkWebhook runs the webhook stage's two sides at several widths
// (deliveries in flight) over the same signed callbacks: ours (the whole
// receiver, fsync'd journal; webhooks/s are acknowledgements, tail-ms the
// Applier's work left after the last of them, applied/s both together),
// the bare ParseWebhook, the journal's part of ours alone (Persist of the
// same events, verified beforehand), and ParseWebhook behind the same
// in-process HTTP handling as ours. The callbacks are
// signed once, outside the timings (profile with -cpuprofile and
// pprof -ignore=webhookSetup). PAYRUN_WEBHOOKS sets how many (default
// 5,000), PAYRUN_WEBHOOK_WIDTH one width instead of 16, 64 and 128.
// PAYRUN_WEBHOOK_NOSYNC=1 opens ours' journal without fsync, to see what
// the sync before each acknowledgement costs (a diagnosis: production
// always syncs).
func BenchmarkWebhook(b *testing.B) {
	n := 5_000
	if v, err := strconv.Atoi(os.Getenv("PAYRUN_WEBHOOKS")); err == nil && v > 0 {
		n = v
	}
	at := time.Now()
	prov, items, hooks, err := webhookSetup(b.TempDir(), n, at)
	if err != nil {
		b.Fatal(err)
	}
	noSync := os.Getenv("PAYRUN_WEBHOOK_NOSYNC") == "1"
	widths := []int{16, 64, 128}
	if v, err := strconv.Atoi(os.Getenv("PAYRUN_WEBHOOK_WIDTH")); err == nil && v > 0 {
		widths = []int{v}
	}
	for _, width := range widths {
		b.Run(fmt.Sprintf("ours-%d", width), func(b *testing.B) {
			for b.Loop() {
				s, err := webhookReceive(b.TempDir(), prov, items, hooks, at, width, batch.Options{NoSync: noSync})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(s.PerSecond(), "webhooks/s")
				b.ReportMetric(float64(s.CPU.Microseconds())/float64(s.Items), "cpu-µs/webhook")
				b.ReportMetric(float64(s.Tail.Microseconds())/1000, "tail-ms")
				b.ReportMetric(float64(s.Items)/(s.Elapsed+s.Tail).Seconds(), "applied/s")
			}
		})
		sides := []struct {
			name string
			run  func(b *testing.B) (Side, error)
		}{
			{"base", func(*testing.B) (Side, error) { return webhookVerify(prov, hooks, at, width) }},
			{"persist", func(b *testing.B) (Side, error) { return webhookPersist(b.TempDir(), prov, items, hooks, at, width) }},
			{"base-http", func(*testing.B) (Side, error) { return webhookVerifyHTTP(prov, hooks, at, width) }},
		}
		for _, side := range sides {
			b.Run(fmt.Sprintf("%s-%d", side.name, width), func(b *testing.B) {
				for b.Loop() {
					s, err := side.run(b)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(s.PerSecond(), "webhooks/s")
					b.ReportMetric(float64(s.CPU.Microseconds())/float64(s.Items), "cpu-µs/webhook")
				}
			})
		}
	}
}

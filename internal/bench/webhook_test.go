package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/teemopay"
	"github.com/payrun/payrun/reconcile"
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
			var all Side
			for b.Loop() {
				s, err := webhookReceive(b.TempDir(), prov, items, hooks, at, width, boltjournal.Options{NoSync: noSync})
				if err != nil {
					b.Fatal(err)
				}
				all = all.plus(s)
			}
			reportWebhooks(b, all)
			b.ReportMetric(float64(all.Tail.Microseconds())/1000/float64(b.N), "tail-ms")
			b.ReportMetric(float64(all.Items)/(all.Elapsed+all.Tail).Seconds(), "applied/s")
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
				var all Side
				for b.Loop() {
					s, err := side.run(b)
					if err != nil {
						b.Fatal(err)
					}
					all = all.plus(s)
				}
				reportWebhooks(b, all)
			})
		}
	}
}

// plus adds t's timed work to s: the benchmarks report every storm of a
// run together, not the last one.
func (s Side) plus(t Side) Side {
	s.Elapsed, s.Items, s.CPU, s.Tail = s.Elapsed+t.Elapsed, s.Items+t.Items, s.CPU+t.CPU, s.Tail+t.Tail
	return s
}

// reportWebhooks reports the rate and the CPU per webhook of all.
func reportWebhooks(b *testing.B, all Side) {
	b.ReportMetric(all.PerSecond(), "webhooks/s")
	b.ReportMetric(float64(all.CPU.Microseconds())/float64(all.Items), "cpu-µs/webhook")
}

// webhookVerifyHTTP is the baseline with the same in-process HTTP handling
// as ours: each callback is a request through a handler that reads the
// body (capped), verifies it with ParseWebhook and writes the provider's
// acknowledgement, and nothing else. It is not the baseline (bare
// ParseWebhook), only a second reading of it: what of ours is HTTP.
func webhookVerifyHTTP(prov providers.Provider, hooks []webhook, at time.Time, width int) (Side, error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, reconcile.DefaultMaxBody))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		res, err := prov.ParseWebhook(providers.WebhookRequest{Header: r.Header, Body: body, Received: at})
		if err != nil || len(res.Events) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		res.Ack.Write(w)
	})
	start, cpu := time.Now(), cpuTime()
	err := each(len(hooks), width, func(i int) error {
		var rec ackRecorder
		h.ServeHTTP(&rec, hooks[i].request())
		if rec.code != http.StatusOK {
			return fmt.Errorf("webhook %d: %d %q", i, rec.code, rec.body)
		}
		return nil
	})
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: len(hooks), CPU: cpuTime() - cpu}, nil
}

// webhookPersist is the journal's part of ours alone: the hooks verified
// and turned into receipts as the receiver does (not timed), then persisted
// width at a time into a fresh journal under dir holding items (timed), as
// the receiver persists them before acknowledging, and nothing else. Beside
// the baseline it shows how ours' cost divides: the two use the same cores,
// so ours takes about as long as the two one after the other.
func webhookPersist(dir string, prov providers.Provider, items []journal.Item, hooks []webhook, at time.Time, width int) (Side, error) {
	ctx := context.Background()
	recs := make([]journal.Receipt, len(hooks))
	for i, h := range hooks {
		res, err := prov.ParseWebhook(providers.WebhookRequest{Header: h.header, Body: h.body, Received: at})
		if err != nil {
			return Side{}, fmt.Errorf("webhook %d: %w", i, err)
		}
		recs[i] = reconcile.NewReceipt(teemopay.Name, res, h.body, at)
	}
	j, err := webhookJournal(dir, items, at, boltjournal.Options{})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	runtime.GC()
	start, cpu := time.Now(), cpuTime()
	err = each(len(recs), width, func(i int) error {
		replay, fresh, err := j.Persist(ctx, recs[i])
		if err == nil && (replay || fresh != 1) {
			err = fmt.Errorf("webhook %d: replay %v, %d fresh events", i, replay, fresh)
		}
		return err
	})
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: len(recs), CPU: cpuTime() - cpu}, nil
}

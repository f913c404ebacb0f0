package reconcile

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
)

// signedWebhooks returns a Monnet client and n signed payout
// notifications about items m-0 .. m-999.
func signedWebhooks(b *testing.B, n int) (providers.Provider, [][]byte, []string) {
	b.Helper()
	p, creds, err := monnetClient(b.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	var sigs []string
	for i := range n {
		body := monnetNotification(creds.MerchantID, fmt.Sprint(90000+i%1000), fmt.Sprintf("m-%d", i%1000), "SUCCESS", "PROCESSED",
			fmt.Sprint(i))
		sig, err := monnet.SignNotification(creds.NotifierKey, creds.MerchantID, []byte(body))
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, []byte(body))
		sigs = append(sigs, sig)
	}
	return p, bodies, sigs
}

// webhookJournal returns a journal holding items m-0 .. m-999, submitted.
func webhookJournal(b *testing.B, sync bool) journal.Journal {
	j, err := boltjournal.Open(filepath.Join(b.TempDir(), "journal.db"), boltjournal.Options{NoSync: !sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { j.Close() })
	var its []journal.Item
	for i := range 1000 {
		it := journaltest.ValidItem(fmt.Sprintf("m-%d", i), "monnet", 1500)
		it.State = journal.Submitted
		its = append(its, it)
	}
	journaltest.Import(b, j, "bench", its...)
	return j
}

// BenchmarkWebhook compares a notification through the whole receiver
// (verify, persist and queue, acknowledge; fsync'd journal, and without
// fsync; the Applier applies meanwhile) with the bare signature
// verification of the same notifications, webhookParallelism concurrent
// deliveries per core (a webhook storm).
func BenchmarkWebhook(b *testing.B) {
	const pool = 8192
	p, bodies, sigs := signedWebhooks(b, pool)
	for _, mode := range []string{"verify-only", "receiver", "receiver-nosync"} {
		b.Run(mode, func(b *testing.B) {
			j := webhookJournal(b, mode == "receiver")
			recv := NewReceiver(j, map[string]providers.Provider{"monnet": p}, ReceiverOptions{})
			_ = recv.Start(context.Background())
			b.Cleanup(recv.Stop)
			var next atomic.Int64
			b.SetParallelism(webhookParallelism)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1)-1) % pool
					h := http.Header{}
					h.Set("verification", sigs[i])
					if mode == "verify-only" {
						if _, err := p.ParseWebhook(providers.WebhookRequest{Header: h, Body: bodies[i], Received: time.Now()}); err != nil {
							b.Error(err)
						}
						continue
					}
					req := httptest.NewRequest(http.MethodPost, "/webhooks/monnet", bytes.NewReader(bodies[i]))
					req.Header = h
					req.SetPathValue("provider", "monnet")
					w := httptest.NewRecorder()
					recv.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Errorf("answer %d %s", w.Code, w.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "webhooks/s")
		})
	}
}

// matchRows is the size of BenchmarkMatch: 50,000 rows, or 1,000,000 with
// PAYRUN_BIG=1.
func matchRows() int {
	if os.Getenv("PAYRUN_BIG") == "1" {
		return 1_000_000
	}
	return 50_000
}

// BenchmarkMatch compares Match over one batch (keeping the lines) and
// MatchLines (handing them over) with a bare hash join of the same keys
// read the same way (input rows against provider facts by
// payout_id, no categories, no lines), in the same run.
func BenchmarkMatch(b *testing.B) {
	n := matchRows()
	j, err := boltjournal.Open(filepath.Join(b.TempDir(), "journal.db"), boltjournal.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	states := []journal.State{journal.Succeeded, journal.Succeeded, journal.Succeeded, journal.Failed, journal.Submitted, journal.Reversed}
	items := make([]journal.Item, 0, n)
	for i := range n {
		it := journaltest.ValidItem(fmt.Sprintf("p-%07d", i), "teemopay", int64(1000+i%9000))
		it.Row = i + 2
		it.State = states[i%len(states)]
		it.Refs = providers.Refs{PayoutID: it.PayoutID, Method: it.Payout.Method, ProviderID: fmt.Sprintf("TF%010d", i)}
		amt := it.Payout.Amount
		if i%97 == 0 {
			amt.Minor++
		}
		it.Last = providers.Status{Outcome: providers.Succeeded, Refs: it.Refs, Amount: amt, Fee: 100, RawStatus: "2"}
		items = append(items, it)
	}
	if err := j.Import(ctx, journal.Batch{ID: "big", File: "big.csv", Rows: n}, items); err != nil {
		b.Fatal(err)
	}
	items = nil
	now := time.Now()
	b.Run("match", func(b *testing.B) {
		resetPeakRSS()
		for b.Loop() {
			res, err := Match(ctx, j, Scope{BatchID: "big"}, now, MatchOptions{})
			if err != nil || len(res.Lines) != n || !res.Balanced() {
				b.Fatalf("lines %d balanced %v err %v", len(res.Lines), res != nil && res.Balanced(), err)
			}
			runtime.KeepAlive(res)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		reportRSS(b)
	})
	b.Run("match-lines", func(b *testing.B) {
		resetPeakRSS()
		for b.Loop() {
			lines := 0
			res, err := MatchLines(ctx, j, Scope{BatchID: "big"}, now, MatchOptions{}, func(Line) error { lines++; return nil })
			if err != nil || lines != n || res.LineCount != n || !res.Balanced() {
				b.Fatalf("lines %d balanced %v err %v", lines, res != nil && res.Balanced(), err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		reportRSS(b)
	})
	b.Run("bare-join", func(b *testing.B) {
		resetPeakRSS()
		for b.Loop() {
			if got := bareJoin(b, j, "big"); got != n {
				b.Fatalf("joined %d, want %d", got, n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		reportRSS(b)
	})
}

// bareJoin reads the batch the way Match does and joins input rows with
// provider facts on payout_id: the floor any matcher over this journal pays.
func bareJoin(b *testing.B, j journal.Journal, id string) int {
	type fact struct {
		amount money.Money
		out    providers.Outcome
	}
	type input struct {
		id     string
		amount money.Money
	}
	facts := map[string]fact{}
	var inputs []input
	err := j.BatchItems(ctx, id, func(it journal.Item) bool {
		facts[it.Last.Refs.PayoutID] = fact{it.Last.Amount, it.Last.Outcome}
		inputs = append(inputs, input{it.PayoutID, it.Payout.Amount})
		return true
	})
	if err != nil {
		b.Fatal(err)
	}
	joined := 0
	for _, in := range inputs {
		if f, ok := facts[in.id]; ok && f.out != "" {
			joined++
		}
	}
	return joined
}

// resetPeakRSS resets the kernel's peak RSS of this process (Linux).
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// reportRSS reports the peak resident set since resetPeakRSS, and the
// anonymous (heap) and file-backed (the journal's mmap) parts now.
func reportRSS(b *testing.B) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[0], 64)
		switch k {
		case "VmHWM":
			b.ReportMetric(kb/1024, "peakRSS-MB")
		case "RssAnon":
			b.ReportMetric(kb/1024, "anonRSS-MB")
		case "RssFile":
			b.ReportMetric(kb/1024, "fileRSS-MB")
		}
	}
}

// webhookParallelism is how many deliveries per core are in flight.
const webhookParallelism = 128

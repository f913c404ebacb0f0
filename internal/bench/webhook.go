package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"github.com/payrun/payrun/providers/teemopay"
	teemosandbox "github.com/payrun/payrun/providers/teemopay/sandbox"
	"github.com/payrun/payrun/reconcile"
)

// WebhookConcurrency is how many callbacks the webhook stage has in flight,
// on both sides. A provider delivers its callbacks in parallel, over many
// connections, when a batch settles; the intake log's groups are what
// turn many deliveries into one fsync, so a handful in flight measures the
// disk's latency rather than the receiver.
const WebhookConcurrency = 128

// webhook is one signed callback as TeemoPay delivers it.
type webhook struct {
	header http.Header
	body   []byte
}

// callbackURL is where the webhook stage delivers: the receiver's route.
var callbackURL = &url.URL{Path: "/webhooks/teemopay"}

// request returns w as the request a server hands its handler: a parsed
// request with its body to read. (httptest.NewRequest would parse w from
// its wire form through a fresh 4 KB reader each time, which a server does
// once per connection: a third of the stage's allocations, not the
// receiver's.)
func (w webhook) request() *http.Request {
	return &http.Request{Method: http.MethodPost, URL: callbackURL, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.header, Body: io.NopCloser(bytes.NewReader(w.body)), ContentLength: int64(len(w.body)),
		Host: "payrun.example", RemoteAddr: "192.0.2.1:1234", RequestURI: callbackURL.Path}
}

// ackRecorder is the ResponseWriter the webhook stage hands a handler: it
// keeps the status and the body, which is all an acknowledgement is.
// (httptest.ResponseRecorder also snapshots the headers and buffers the
// body, which is the recorder's cost, not the handler's.)
type ackRecorder struct {
	header http.Header
	code   int
	body   []byte
}

func (r *ackRecorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

func (r *ackRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *ackRecorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.body = append(r.body, p...)
	return len(p), nil
}

// webhookSetup makes a TeemoPay client (fresh credentials under dir), n
// payouts that TeemoPay is processing, and one signed SUCCESS callback for
// each, signed with the platform key as the sandbox signs them. None of
// this is timed.
func webhookSetup(dir string, n int, at time.Time) (providers.Provider, []journal.Item, []webhook, error) {
	creds, err := teemosandbox.NewCredentials()
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := creds.WriteFiles(dir, "http://127.0.0.1:9") // never called
	if err != nil {
		return nil, nil, nil, err
	}
	reg, err := providers.Lookup(all.Registrations(), teemopay.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	prov, err := reg.New(cfg, providers.Deps{Now: func() time.Time { return at }})
	if err != nil {
		return nil, nil, nil, err
	}
	items, err := teemoItems("W", n, journal.Submitted)
	if err != nil {
		return nil, nil, nil, err
	}
	hooks := make([]webhook, n)
	complete := at.In(teemopay.Lima()).Format(teemopay.CompleteTimeLayout)
	err = each(n, runtime.GOMAXPROCS(0), func(i int) error {
		it := &items[i]
		it.State = journal.Submitted
		it.Refs = providers.Refs{PayoutID: it.PayoutID, Method: it.Payout.Method, ProviderID: "T" + it.PayoutID}
		it.Last = providers.Status{Outcome: providers.Processing, Refs: it.Refs, RawStatus: "PROCESSING"}
		amount := teemopay.Text(it.Payout.Amount.Decimal())
		body, err := json.Marshal(teemopay.Callback{MerchantOrderNo: it.PayoutID, TradeNo: it.Refs.ProviderID,
			Amount: amount, ServiceAmount: "1.50", Status: teemopay.StatusSuccess, CompleteTime: complete})
		if err != nil {
			return err
		}
		nonce, err := teemopay.NewNonce()
		if err != nil {
			return err
		}
		if body, err = teemopay.SignBody(creds.PlatformKey, body, nonce); err != nil {
			return err
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set(teemopay.HeaderTimestamp, strconv.FormatInt(at.UnixMilli(), 10))
		h.Set(teemopay.HeaderNonce, nonce)
		h.Set(teemopay.HeaderCountry, "PE")
		h.Set(teemopay.HeaderCallbackAppCode, creds.AppCode)
		hooks[i] = webhook{header: h, body: body}
		return nil
	})
	return prov, items, hooks, err
}

// each runs fn(i) for i in [0, n) from width goroutines and returns the
// first error.
func each(n, width int, fn func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range width {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// WebhookRounds is the webhook stage. It signs n callbacks once (not
// timed), then measures, rounds times in this process and alternating
// which goes first, the two sides over them:
//
//   - ours delivers them to reconcile.Receiver (its ServeHTTP,
//     WebhookConcurrency at a time) over a fresh journal holding the n
//     payouts: verification, the raw event persisted and fsync'd before
//     each acknowledgement. The receiver's Applier applies the events
//     meanwhile and after; what it has left when the last acknowledgement
//     goes out is timed apart (Side.Tail), and every payout must be paid
//     in the journal at the end.
//   - the baseline verifies them with the provider's bare ParseWebhook
//     (signature, timestamp, decode), as many at a time, and nothing else.
//
// It returns the round whose ratio (ours/baseline time) is the median:
// ours, with that round's baseline in Base, and every round's ratio in
// Extra ("round1" ...). A round is under a second on a shared machine,
// where a neighbour's burst can move one side of one round by a fifth;
// the median of paired rounds is what the two sides cost.
func WebhookRounds(ctx context.Context, dir string, n, rounds int) (Side, error) {
	at := time.Now()
	prov, items, hooks, err := webhookSetup(dir, n, at)
	if err != nil {
		return Side{}, err
	}
	type round struct{ ours, base Side }
	all := make([]round, rounds)
	for i := range all {
		if err := ctx.Err(); err != nil {
			return Side{}, err
		}
		ours := func() error {
			rdir := filepath.Join(dir, fmt.Sprintf("round%d", i+1))
			if err := os.MkdirAll(rdir, 0o700); err != nil {
				return err
			}
			defer os.RemoveAll(rdir)
			var err error
			all[i].ours, err = webhookReceive(rdir, prov, items, hooks, at, WebhookConcurrency, boltjournal.Options{})
			return err
		}
		base := func() (err error) {
			all[i].base, err = webhookVerify(prov, hooks, at, WebhookConcurrency)
			return err
		}
		first, second := ours, base
		if i%2 == 1 {
			first, second = base, ours
		}
		for _, side := range []func() error{first, second} {
			runtime.GC()
			if err := side(); err != nil {
				return Side{}, err
			}
		}
	}
	ratio := func(r round) float64 { return r.ours.Elapsed.Seconds() / r.base.Elapsed.Seconds() }
	extra := make(map[string]float64, rounds)
	for i, r := range all {
		extra[fmt.Sprintf("round%d", i+1)] = ratio(r)
	}
	slices.SortFunc(all, func(a, b round) int { return cmp.Compare(ratio(a), ratio(b)) })
	mid := all[len(all)/2]
	for k, v := range mid.ours.Extra {
		extra[k] = v
	}
	mid.ours.Base, mid.ours.Extra = &mid.base, extra
	return mid.ours, nil
}

// webhookBatch is the batch that holds the webhook stage's payouts.
const webhookBatch = "B-bench-webhooks"

// webhookJournal opens a fresh journal under dir with o, its clock set to
// at, and imports items into webhookBatch.
func webhookJournal(dir string, items []journal.Item, at time.Time, o boltjournal.Options) (journal.Journal, error) {
	ctx := context.Background()
	o.Now = func() time.Time { return at }
	j, err := boltjournal.Open(filepath.Join(dir, "journal.db"), o)
	if err != nil {
		return nil, err
	}
	if err := j.Import(ctx, journal.Batch{ID: webhookBatch, File: "webhooks.csv", Rows: len(items), Valid: len(items)}, items); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// webhookReceive is ours after the setup: a fresh journal under dir
// opened with o (its clock set to at), holding items, and hooks delivered
// width at a time (only this is timed).
func webhookReceive(dir string, prov providers.Provider, items []journal.Item, hooks []webhook, at time.Time, width int, o boltjournal.Options) (Side, error) {
	ctx := context.Background()
	n := len(hooks)
	j, err := webhookJournal(dir, items, at, o)
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	rc := reconcile.NewReceiver(j, map[string]providers.Provider{teemopay.Name: prov},
		reconcile.ReceiverOptions{Now: func() time.Time { return at }})
	if err := rc.Start(ctx); err != nil {
		return Side{}, err
	}
	defer rc.Stop()
	// The setup's garbage is collected before the storm, as it is before
	// the baseline's.
	runtime.GC()
	start, cpu := time.Now(), cpuTime()
	err = each(n, width, func(i int) error {
		var rec ackRecorder
		rc.ServeHTTP(&rec, hooks[i].request())
		if rec.code != http.StatusOK || strings.TrimSpace(string(rec.body)) != teemopay.AckBody {
			return fmt.Errorf("webhook %d: %d %q", i, rec.code, rec.body)
		}
		return nil
	})
	elapsed, cpu := time.Since(start), cpuTime()-cpu
	if err != nil {
		return Side{}, err
	}
	// Everything acknowledged is applied by the receiver's Applier, which
	// has been at it during the storm; what is left is timed apart.
	drainStart, drainCPU := time.Now(), cpuTime()
	err = rc.Drain(context.Background())
	drained, drainCPU := time.Since(drainStart), cpuTime()-drainCPU
	if err != nil {
		return Side{}, err
	}
	paid := 0
	if err := j.BatchItems(ctx, webhookBatch, func(it journal.Item) bool {
		if it.State == journal.Succeeded {
			paid++
		}
		return true
	}); err != nil {
		return Side{}, err
	}
	if paid != n {
		return Side{}, fmt.Errorf("webhooks: %d of %d payouts succeeded in the journal", paid, n)
	}
	// The figure is acknowledged and applied: a webhook's work is done
	// when its payout has changed, not when the provider was answered.
	// The acknowledgements alone are kept in Extra.
	return Side{Elapsed: elapsed + drained, Items: n, CPU: cpu + drainCPU, Tail: drained, TailCPU: drainCPU,
		Extra: map[string]float64{"ack_s": elapsed.Seconds(), "ack_cpu_s": cpu.Seconds()}}, nil
}

// webhookVerify is the baseline after the setup (only this is timed).
func webhookVerify(prov providers.Provider, hooks []webhook, at time.Time, width int) (Side, error) {
	start, cpu := time.Now(), cpuTime()
	err := each(len(hooks), width, func(i int) error {
		res, err := prov.ParseWebhook(providers.WebhookRequest{Header: hooks[i].header, Body: hooks[i].body, Received: at})
		if err == nil && len(res.Events) != 1 {
			err = fmt.Errorf("webhook %d: %d events", i, len(res.Events))
		}
		return err
	})
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: len(hooks), CPU: cpuTime() - cpu}, nil
}

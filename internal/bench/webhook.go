package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"github.com/payrun/payrun/providers/teemopay"
	teemosandbox "github.com/payrun/payrun/providers/teemopay/sandbox"
	"github.com/payrun/payrun/reconcile"
)

// webhook is one signed callback as TeemoPay delivers it.
type webhook struct {
	header http.Header
	body   []byte
}

// webhookSetup makes a TeemoPay client (fresh credentials under dir), n
// payouts that TeemoPay is processing, and one signed SUCCESS callback for
// each, signed with the platform key as the sandbox signs them. None of
// this is timed.
func webhookSetup(dir string, n int, at time.Time) (providers.Provider, []batch.Item, []webhook, error) {
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
	items, err := teemoItems("W", n, batch.Submitted)
	if err != nil {
		return nil, nil, nil, err
	}
	hooks := make([]webhook, n)
	complete := at.In(teemopay.Lima()).Format(teemopay.CompleteTimeLayout)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				it := &items[i]
				it.State = batch.Submitted
				it.Refs = providers.Refs{PayoutID: it.PayoutID, Method: it.Payout.Method, ProviderID: "T" + it.PayoutID}
				it.Last = providers.Status{Outcome: providers.Processing, Refs: it.Refs, RawStatus: "PROCESSING"}
				amount := teemopay.Text(it.Payout.Amount.Decimal())
				body, err := json.Marshal(teemopay.Callback{MerchantOrderNo: it.PayoutID, TradeNo: it.Refs.ProviderID,
					Amount: amount, ServiceAmount: "1.50", Status: teemopay.StatusSuccess, CompleteTime: complete})
				var nonce string
				if err == nil {
					nonce, err = teemopay.NewNonce()
				}
				if err == nil {
					body, err = teemopay.SignBody(creds.PlatformKey, body, nonce)
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				h := http.Header{}
				h.Set("Content-Type", "application/json")
				h.Set(teemopay.HeaderTimestamp, strconv.FormatInt(at.UnixMilli(), 10))
				h.Set(teemopay.HeaderNonce, nonce)
				h.Set(teemopay.HeaderCountry, "PE")
				h.Set(teemopay.HeaderCallbackAppCode, creds.AppCode)
				hooks[i] = webhook{header: h, body: body}
			}
		})
	}
	wg.Wait()
	return prov, items, hooks, firstErr
}

// each runs fn(i) for i in [0, n) from Concurrency goroutines and returns
// the first error.
func each(n int, fn func(i int) error) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range Concurrency {
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

// WebhookOurs delivers n signed callbacks to reconcile.Receiver (its
// ServeHTTP, Concurrency at a time) over a journal holding the n payouts:
// verification, the raw event and the nonce persisted before the
// acknowledgement, the state change applied, all fsync'd.
func WebhookOurs(_ context.Context, dir string, n int) (Side, error) {
	at := time.Now()
	prov, items, hooks, err := webhookSetup(dir, n, at)
	if err != nil {
		return Side{}, err
	}
	j, err := batch.Open(filepath.Join(dir, "journal.db"), batch.Options{Now: func() time.Time { return at }})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	if err := j.Import(batch.Batch{ID: "B-bench-webhooks", File: "webhooks.csv", Rows: n, Valid: n}, items); err != nil {
		return Side{}, err
	}
	rc := reconcile.NewReceiver(j, map[string]providers.Provider{teemopay.Name: prov},
		reconcile.ReceiverOptions{Now: func() time.Time { return at }})
	start := time.Now()
	err = each(n, func(i int) error {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/teemopay", bytes.NewReader(hooks[i].body))
		req.Header = hooks[i].header
		rec := httptest.NewRecorder()
		rc.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != teemopay.AckBody {
			return fmt.Errorf("webhook %d: %d %q", i, rec.Code, rec.Body.String())
		}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return Side{}, err
	}
	paid := 0
	if err := j.Items("B-bench-webhooks", func(it batch.Item) bool {
		if it.State == batch.Succeeded {
			paid++
		}
		return true
	}); err != nil {
		return Side{}, err
	}
	if paid != n {
		return Side{}, fmt.Errorf("webhooks: %d of %d payouts succeeded in the journal", paid, n)
	}
	return Side{Elapsed: elapsed, Items: n}, nil
}

// WebhookBaseline verifies the same callbacks with the provider's bare
// ParseWebhook (signature, timestamp, decode), Concurrency at a time,
// and nothing else.
func WebhookBaseline(_ context.Context, dir string, n int) (Side, error) {
	at := time.Now()
	prov, _, hooks, err := webhookSetup(dir, n, at)
	if err != nil {
		return Side{}, err
	}
	start := time.Now()
	err = each(n, func(i int) error {
		res, err := prov.ParseWebhook(providers.WebhookRequest{Header: hooks[i].header, Body: hooks[i].body, Received: at})
		if err == nil && len(res.Events) != 1 {
			err = fmt.Errorf("webhook %d: %d events", i, len(res.Events))
		}
		return err
	})
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: n}, nil
}

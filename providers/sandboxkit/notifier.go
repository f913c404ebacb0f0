package sandboxkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Webhook is one notification to deliver.
type Webhook struct {
	URL string
	// Build returns the headers and body of one delivery. It is called
	// once per copy (a duplicated webhook is two sends, each signed as the
	// provider signs a send), at the copy's first attempt; every retry of
	// that copy repeats its headers and bytes, as a sender that retries a
	// failed HTTP request does (TeemoPay's callbacks keep their first
	// nonce, timestamp and sign).
	Build func(attempt int) (http.Header, []byte)
	// Accepted says whether the receiver's answer ends the retries (nil:
	// any 2xx). TeemoPay wants the plain text SUCCESS.
	Accepted func(status int, body []byte) bool
}

// RetryPolicy is how a provider retries a notification that was not
// acknowledged.
type RetryPolicy struct {
	// Backoff returns the wait before attempt n (n >= 1).
	Backoff func(n int) time.Duration
	// GiveUpAfter stops retrying this long (sandbox time) after the first
	// attempt; zero retries for MaxAttempts.
	GiveUpAfter time.Duration
	MaxAttempts int
}

// DefaultRetry doubles from 1 s up to 15 min, for 20 attempts.
var DefaultRetry = RetryPolicy{
	Backoff: func(n int) time.Duration {
		d := time.Second << min(n-1, 10)
		return min(d, 15*time.Minute)
	},
	MaxAttempts: 20,
}

// Delivery records one attempt, for tests.
type Delivery struct {
	URL     string
	Attempt int
	Status  int // 0: transport error or dropped by a fault
	Dropped bool
	// Accepted says the receiver acknowledged it as the provider expects
	// (the provider will not send it again); Header and Body are what was
	// sent.
	Accepted bool
	Header   http.Header
	Body     []byte
	At       time.Time
}

// Notifier delivers webhooks on the sandbox clock with the provider's retry
// policy and the webhook faults.
type Notifier struct {
	kit    *Kit
	http   *http.Client
	Policy RetryPolicy

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	deliveries []Delivery
	inflight   atomic.Int64
}

func newNotifier(k *Kit, hc *http.Client) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{kit: k, http: hc, Policy: DefaultRetry, ctx: ctx, cancel: cancel}
}

func (n *Notifier) close() {
	n.cancel()
	n.wg.Wait()
}

// Send schedules a webhook, applying the drop, duplicate, delay and reorder
// faults. A dropped webhook is never delivered (as if the provider lost it).
func (n *Notifier) Send(w Webhook) {
	if w.URL == "" {
		return
	}
	f := n.kit.Faults()
	if n.kit.Chance(f.WebhookDropRate) {
		n.record(Delivery{URL: w.URL, Dropped: true, At: n.kit.Clock.Now()})
		return
	}
	copies := 1
	if n.kit.Chance(f.WebhookDuplicateRate) {
		copies = 2
	}
	for i := 0; i < copies; i++ {
		delay := f.WebhookDelay
		if f.WebhookReorder && f.WebhookDelay > 0 {
			delay = time.Duration(n.kit.Intn(int(f.WebhookDelay)) + 1)
		} else if f.WebhookReorder {
			delay = time.Duration(n.kit.Intn(int(200*time.Millisecond)) + 1)
		}
		first := n.kit.Clock.Now()
		n.inflight.Add(1)
		c := &sendCopy{w: w}
		n.kit.Clock.After(delay, func() { n.attempt(c, 1, first) })
	}
}

// Idle reports whether no delivery is scheduled or running.
func (n *Notifier) Idle() bool { return n.inflight.Load() == 0 }

// Deliveries returns the attempts made so far.
func (n *Notifier) Deliveries() []Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Delivery(nil), n.deliveries...)
}

func (n *Notifier) record(d Delivery) {
	n.mu.Lock()
	n.deliveries = append(n.deliveries, d)
	n.mu.Unlock()
}

// sendCopy is one copy of a webhook; its request is built at its first
// attempt and repeated by its retries.
type sendCopy struct {
	w      Webhook
	header http.Header
	body   []byte
}

// attempt runs on the clock goroutine; the HTTP call runs on its own
// goroutine so that one slow receiver does not stall the sandbox.
func (n *Notifier) attempt(c *sendCopy, a int, first time.Time) {
	w := c.w
	select {
	case <-n.ctx.Done():
		n.inflight.Add(-1)
		return
	default:
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if a == 1 {
			c.header, c.body = w.Build(a)
		}
		h, body := c.header.Clone(), c.body
		status, respBody := n.post(w.URL, h, body)
		ok := status >= 200 && status < 300
		if w.Accepted != nil {
			ok = w.Accepted(status, respBody)
		}
		n.record(Delivery{URL: w.URL, Attempt: a, Status: status, Accepted: ok, Header: h, Body: body, At: n.kit.Clock.Now()})
		if ok {
			n.inflight.Add(-1)
			return
		}
		p := n.Policy
		next := n.kit.Clock.Now().Add(p.Backoff(a))
		if (p.GiveUpAfter > 0 && next.Sub(first) > p.GiveUpAfter) || (p.GiveUpAfter == 0 && a >= p.MaxAttempts) {
			n.inflight.Add(-1)
			return
		}
		n.kit.Clock.At(next, func() { n.attempt(c, a+1, first) })
	}()
}

func (n *Notifier) post(url string, h http.Header, body []byte) (int, []byte) {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, b
}

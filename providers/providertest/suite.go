package providertest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// waitFor bounds every wait of the suite (sandbox delays are milliseconds).
const waitFor = 10 * time.Second

// Sink is the suite's webhook receiver: it keeps every request as it
// arrived and answers with the Ack that the provider's ParseWebhook returns
// (400 when verification fails).
type Sink struct {
	srv *httptest.Server

	mu       sync.Mutex
	provider providers.Provider
	reqs     []providers.WebhookRequest
	changed  chan struct{}
}

// NewSink starts a sink; it is closed when the test ends.
func NewSink(t *testing.T) *Sink {
	s := &Sink{changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is where the sandbox should send webhooks.
func (s *Sink) URL() string { return s.srv.URL + "/webhooks" }

func (s *Sink) setProvider(p providers.Provider) {
	s.mu.Lock()
	s.provider = p
	s.mu.Unlock()
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	req := providers.WebhookRequest{Header: r.Header.Clone(), Body: body, Received: time.Now()}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	p := s.provider
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if p == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	res, err := p.ParseWebhook(req)
	if err != nil {
		http.Error(w, "verification failed", http.StatusBadRequest)
		return
	}
	if res.Ack.ContentType != "" {
		w.Header().Set("Content-Type", res.Ack.ContentType)
	}
	code := res.Ack.StatusCode
	if code == 0 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_, _ = w.Write(res.Ack.Body)
}

// Requests returns the requests received so far.
func (s *Sink) Requests() []providers.WebhookRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]providers.WebhookRequest(nil), s.reqs...)
}

// received is one verified event with the request that carried it.
type received struct {
	req   providers.WebhookRequest
	event providers.Event
}

// waitEvents waits until match accepts at least n verified events, and
// returns those it accepted (with their requests).
func (s *Sink) waitEvents(t *testing.T, p providers.Provider, n int, match func(providers.Event) bool) []received {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		reqs := append([]providers.WebhookRequest(nil), s.reqs...)
		changed := s.changed
		s.mu.Unlock()
		var got []received
		for _, r := range reqs {
			res, err := p.ParseWebhook(r)
			if err != nil {
				continue
			}
			for _, ev := range res.Events {
				if match(ev) {
					got = append(got, received{r, ev})
				}
			}
		}
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waited %v for %d matching webhook event(s), have %d (of %d requests)", waitFor, n, len(got), len(reqs))
		}
	}
}

// setup builds a harness with its own sink.
func setup(t *testing.T, f Factory) (Harness, *Sink) {
	t.Helper()
	sink := NewSink(t)
	h := f(t, sink.URL())
	if h.Provider == nil || h.Kit == nil || h.NewPayout == nil || h.Forge == nil {
		t.Fatal("harness needs Provider, Kit, NewPayout and Forge")
	}
	sink.setProvider(h.Provider)
	return h, sink
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// finalFor matches the final, non-duplicate-notice event of a payout.
func finalFor(id string) func(providers.Event) bool {
	return func(ev providers.Event) bool {
		return ev.Status.Refs.PayoutID == id && !ev.DuplicateNotice && ev.Status.Outcome.Final()
	}
}

// pay submits a payout and drives it to its final state (confirming or
// playing the beneficiary where the product needs it); it returns the
// submit status and the final webhook event.
func pay(t *testing.T, h Harness, sink *Sink, id string) (providers.Status, received) {
	t.Helper()
	ctx := ctxFor(t)
	st, err := h.Provider.Submit(ctx, h.NewPayout(id))
	if err != nil {
		t.Fatalf("submit %s: %v", id, err)
	}
	if st.Refs.PayoutID != id {
		t.Errorf("submit status refs %+v, want payout id %s", st.Refs, id)
	}
	st = confirmIfNeeded(ctx, t, h, st)
	if st.Outcome == providers.AwaitingBeneficiary {
		if h.Beneficiary == nil {
			t.Fatalf("%s waits for the beneficiary but the harness has no Beneficiary", id)
		}
		if st.URL == "" {
			t.Errorf("awaiting beneficiary without a URL")
		}
		h.Beneficiary(t, st)
	}
	got := sink.waitEvents(t, h.Provider, 1, finalFor(id))
	return st, got[0]
}

func ledgerCount(h Harness, ref string) (entries, paid int) {
	for _, e := range h.Kit.Ledger.Entries() {
		if e.Reference == ref {
			entries++
		}
	}
	return entries, h.Kit.Ledger.PaidByReference()[ref]
}

// Run runs the conformance suite. Each subtest builds a fresh harness.
func Run(t *testing.T, f Factory) {
	t.Run("signature", func(t *testing.T) {
		h, _ := setup(t, f)
		ctx := ctxFor(t)
		if _, err := h.Provider.Submit(ctx, h.NewPayout("sig-ok-1")); err != nil {
			t.Fatalf("genuine request refused: %v", err)
		}
		if h.BadClient == nil {
			t.Skip("harness has no BadClient")
		}
		_, err := h.BadClient.Submit(ctx, h.NewPayout("sig-bad-1"))
		if !errors.Is(err, providers.ErrAuth) {
			t.Fatalf("badly signed request: err = %v, want ErrAuth", err)
		}
		if n, _ := ledgerCount(h, "sig-bad-1"); n != 0 {
			t.Errorf("badly signed request created %d ledger entries", n)
		}
	})

	t.Run("every_request_paced", func(t *testing.T) {
		// The dispatcher places each request in its provider's rate
		// window when it leaves (providers.Pace): a request sent without
		// asking would leave unaccounted for.
		h, _ := setup(t, f)
		var paced atomic.Int64
		ctx := providers.WithPacer(ctxFor(t), func(context.Context) error { paced.Add(1); return nil })
		before := h.Kit.APICalls()
		st, err := h.Provider.Submit(ctx, h.NewPayout("paced-1"))
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		confirmIfNeeded(ctx, t, h, st)
		if _, err := h.Provider.Lookup(ctx, st.Refs); err != nil && !errors.Is(err, providers.ErrUnsupported) {
			t.Fatalf("lookup: %v", err)
		}
		if sent := h.Kit.APICalls() - before; sent == 0 || int64(sent) != paced.Load() {
			t.Errorf("%d requests reached the sandbox, %d asked the pacer first", sent, paced.Load())
		}
	})

	t.Run("final_state_by_webhook_and_lookup", func(t *testing.T) {
		h, sink := setup(t, f)
		st, got := pay(t, h, sink, "final-1")
		if got.event.Status.Outcome != providers.Succeeded {
			t.Fatalf("webhook outcome %s (%s %s), want succeeded", got.event.Status.Outcome, got.event.Status.RawStatus, got.event.Status.Code)
		}
		refs := st.Refs
		if refs.ProviderID == "" {
			refs.ProviderID = got.event.Status.Refs.ProviderID
		}
		if refs.SessionID == "" {
			refs.SessionID = got.event.Status.Refs.SessionID
		}
		looked, err := h.Provider.Lookup(ctxFor(t), refs)
		if err != nil {
			t.Fatalf("lookup %+v: %v", refs, err)
		}
		if looked.Outcome != providers.Succeeded {
			t.Errorf("lookup outcome %s (%s), want succeeded", looked.Outcome, looked.RawStatus)
		}
		if want := h.NewPayout("final-1").Amount; looked.Amount.Minor != 0 && looked.Amount != want {
			t.Errorf("lookup amount %v, want %v", looked.Amount, want)
		}
		if _, paid := ledgerCount(h, "final-1"); paid != 1 {
			t.Errorf("ledger: paid %d times, want 1", paid)
		}
	})

	t.Run("duplicate_submission", func(t *testing.T) {
		h, _ := setup(t, f)
		if h.NoDuplicateCheck {
			t.Skip("provider does not deduplicate this product")
		}
		ctx := ctxFor(t)
		p := h.NewPayout("dup-1")
		if _, err := h.Provider.Submit(ctx, p); err != nil {
			t.Fatalf("first submit: %v", err)
		}
		_, err := h.Provider.Submit(ctx, p)
		if !errors.Is(err, providers.ErrDuplicate) {
			t.Fatalf("second submit: err = %v, want ErrDuplicate", err)
		}
		if providers.IsRetryable(err) || providers.IsInDoubt(err) {
			t.Errorf("duplicate classified retryable or in doubt: %v", err)
		}
		if n, _ := ledgerCount(h, "dup-1"); n != 1 {
			t.Errorf("ledger holds %d entries for dup-1, want 1", n)
		}
	})

	t.Run("rate_limited", func(t *testing.T) {
		h, _ := setup(t, f)
		h.Kit.SetFaults(sandboxkit.Faults{RateLimitPerSecond: 1})
		ctx := ctxFor(t)
		for i := 0; ; i++ {
			if i == 5 {
				t.Fatal("no 429 after 5 requests at a limit of 1/s")
			}
			_, err := h.Provider.Submit(ctx, h.NewPayout("rl-"+string(rune('a'+i))))
			if err == nil {
				continue
			}
			if !errors.Is(err, providers.ErrRateLimited) {
				t.Fatalf("err = %v, want ErrRateLimited", err)
			}
			if !providers.IsRetryable(err) || providers.RetryAfter(err) <= 0 {
				t.Errorf("rate limit: retryable %v, RetryAfter %v; want retryable with a wait", providers.IsRetryable(err), providers.RetryAfter(err))
			}
			break
		}
	})

	t.Run("dropped_response_in_doubt", func(t *testing.T) {
		h, _ := setup(t, f)
		h.Kit.SetFaults(sandboxkit.Faults{DropResponseEvery: 1})
		ctx := ctxFor(t)
		p := h.NewPayout("drop-1")
		_, err := h.Provider.Submit(ctx, p)
		if !providers.IsInDoubt(err) {
			t.Fatalf("dropped response: err = %v, want in doubt", err)
		}
		for _, k := range []error{providers.ErrRejected, providers.ErrDuplicate, providers.ErrRateLimited, providers.ErrUnavailable} {
			if errors.Is(err, k) {
				t.Errorf("dropped response also classified %v", k)
			}
		}
		if n, _ := ledgerCount(h, "drop-1"); n != 1 {
			t.Errorf("ledger holds %d entries for drop-1, want 1 (processed, answer lost)", n)
		}
		h.Kit.SetFaults(sandboxkit.Faults{})
		if h.Provider.Capabilities().DuplicateRefused && !h.NoDuplicateCheck {
			if _, err := h.Provider.Submit(ctx, p); !errors.Is(err, providers.ErrDuplicate) {
				t.Errorf("resend after in-doubt: err = %v, want ErrDuplicate (existence check)", err)
			}
			if n, _ := ledgerCount(h, "drop-1"); n != 1 {
				t.Errorf("resend created a second payout (%d entries)", n)
			}
		}
	})

	t.Run("forged_and_tampered_webhooks", func(t *testing.T) {
		h, sink := setup(t, f)
		_, got := pay(t, h, sink, "forge-1")
		genuine := got.req
		if _, err := h.Provider.ParseWebhook(genuine); err != nil {
			t.Fatalf("genuine webhook refused: %v", err)
		}
		forged := h.Forge(t, clone(genuine))
		if _, err := h.Provider.ParseWebhook(forged); !errors.Is(err, providers.ErrSignature) {
			t.Errorf("forged webhook: err = %v, want ErrSignature", err)
		}
		tamper := h.Tamper
		if tamper == nil {
			tamper = flipDigit
		}
		if _, err := h.Provider.ParseWebhook(tamper(clone(genuine))); !errors.Is(err, providers.ErrSignature) {
			t.Errorf("tampered webhook: err = %v, want ErrSignature", err)
		}
	})

	t.Run("duplicated_webhook_same_event", func(t *testing.T) {
		h, sink := setup(t, f)
		h.Kit.SetFaults(sandboxkit.Faults{WebhookDuplicateRate: 1})
		_, _ = pay(t, h, sink, "dupwh-1")
		got := sink.waitEvents(t, h.Provider, 2, finalFor("dupwh-1"))
		if got[0].event.ID == "" || got[0].event.ID != got[1].event.ID {
			t.Errorf("duplicated delivery yields event ids %q and %q, want one", got[0].event.ID, got[1].event.ID)
		}
	})
}

func clone(r providers.WebhookRequest) providers.WebhookRequest {
	return providers.WebhookRequest{Header: r.Header.Clone(), Body: append([]byte(nil), r.Body...), Received: r.Received}
}

// flipDigit changes the first digit of the body: an amount, an id, a state.
func flipDigit(r providers.WebhookRequest) providers.WebhookRequest {
	for i, b := range r.Body {
		if b >= '0' && b <= '9' {
			r.Body[i] = '0' + (b-'0'+1)%10
			break
		}
	}
	return r
}

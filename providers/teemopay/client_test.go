package teemopay_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/providers/teemopay"
	"github.com/payrun/payrun/providers/teemopay/sandbox"
)

// bundle is a client wired to a sandbox over loopback, and a webhook
// receiver that verifies callbacks with the client and hands over events.
type bundle struct {
	client *teemopay.Client
	sb     *sandbox.Sandbox
	kit    *sandboxkit.Kit
	srv    *httptest.Server
	cfg    providers.Config
	events chan providers.Event
	hook   *receiver
}

type receiver struct {
	mu      sync.Mutex
	replays map[string]bool
	nonces  []string
	stamps  []string
	refuse  int // answer this many deliveries with something other than SUCCESS
}

// Credentials are generated once: 1024-bit keys are cheap, but not free.
var sharedCreds = sync.OnceValues(sandbox.NewCredentials)

func setup(t *testing.T, o sandbox.Options) *bundle {
	t.Helper()
	b := &bundle{events: make(chan providers.Event, 64), hook: &receiver{replays: map[string]bool{}}}
	hookSrv := httptest.NewServer(http.HandlerFunc(b.receive))
	t.Cleanup(hookSrv.Close)
	o.WebhookURL = hookSrv.URL
	b.sb, b.srv, b.cfg = startSandbox(t, o)
	b.kit = b.sb.Kit()
	b.client = newClient(t, b.cfg, b.kit.Clock.Now)
	return b
}

// startSandbox serves a sandbox on loopback and returns it with a client
// configuration pointing at it.
func startSandbox(t *testing.T, o sandbox.Options) (*sandbox.Sandbox, *httptest.Server, providers.Config) {
	t.Helper()
	if o.ProcessingDelay == 0 {
		o.ProcessingDelay = 20 * time.Millisecond
	}
	if o.Credentials.MerchantKey == nil {
		creds, err := sharedCreds()
		if err != nil {
			t.Fatal(err)
		}
		o.Credentials = creds
	}
	sb := sandbox.New(o)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close)
	cfg, err := o.Credentials.WriteFiles(t.TempDir(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return sb, srv, cfg
}

func newClient(t *testing.T, cfg providers.Config, now func() time.Time) *teemopay.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := teemopay.New(cfg, providers.Deps{HTTP: &http.Client{Transport: tr, Timeout: 5 * time.Second}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// receive is payrun's webhook receiver in miniature: verify, refuse
// replayed nonces, pass the events on, answer the provider's Ack. A
// delivery it is told to refuse is answered before anything is kept (a
// receiver that failed before persisting), so its retry is no replay.
func (b *bundle) receive(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	res, err := b.client.ParseWebhook(providers.WebhookRequest{Header: r.Header, Body: body, Received: b.kit.Clock.Now()})
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	b.hook.mu.Lock()
	b.hook.nonces = append(b.hook.nonces, r.Header.Get("nonce"))
	b.hook.stamps = append(b.hook.stamps, r.Header.Get("timestamp"))
	refuse := b.hook.refuse > 0
	if refuse {
		b.hook.refuse--
	}
	seen := !refuse && b.hook.replays[res.ReplayKey]
	if !refuse {
		b.hook.replays[res.ReplayKey] = true
	}
	b.hook.mu.Unlock()
	if seen {
		http.Error(w, "replayed", http.StatusConflict)
		return
	}
	for _, ev := range res.Events {
		b.events <- ev
	}
	if refuse {
		_, _ = io.WriteString(w, "OK") // not what TeemoPay wants: it retries
		return
	}
	w.Header().Set("Content-Type", res.Ack.ContentType)
	w.WriteHeader(res.Ack.StatusCode)
	_, _ = w.Write(res.Ack.Body)
}

// waitEvent waits for the next event about payout id.
func (b *bundle) waitEvent(t *testing.T, id string) providers.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-b.events:
			if ev.Status.Refs.PayoutID == id {
				return ev
			}
		case <-deadline:
			t.Fatalf("no callback for %s", id)
		}
	}
}

func payout(id string) providers.Payout {
	return providers.Payout{
		ID: id, Method: providers.BankTransfer, Country: "PE",
		Amount: money.Money{Minor: 150050, Currency: "PEN"},
		Beneficiary: providers.Beneficiary{
			Name: "Ana", LastName: "Quispe", DocumentType: "DNI", DocumentNumber: "01234567",
			BankCode: "002", AccountType: "savings", AccountNumber: "19312345678901", CCI: "00219300123456789012",
		},
	}
}

func kindIs(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
}

func TestPayoutSucceeds(t *testing.T) {
	b := setup(t, sandbox.Options{})
	ctx := context.Background()
	st, err := b.client.Submit(ctx, payout("P-ok"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != providers.Processing || !strings.HasPrefix(st.Refs.ProviderID, "TF") || st.Refs.PayoutID != "P-ok" || st.Amount.Minor != 150050 {
		t.Fatalf("submit status %+v", st)
	}
	ev := b.waitEvent(t, "P-ok")
	if ev.Status.Outcome != providers.Succeeded || ev.Status.Refs.ProviderID != st.Refs.ProviderID || ev.Status.Fee != 750 || ev.Status.At.IsZero() {
		t.Fatalf("event %+v", ev)
	}
	got, err := b.client.Lookup(ctx, st.Refs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != providers.Succeeded || got.Fee != 750 || got.Amount != st.Amount || got.Refs != st.Refs || !got.At.Equal(ev.Status.At) {
		t.Fatalf("lookup %+v", got)
	}
	if paid := b.kit.Ledger.PaidByReference(); paid["P-ok"] != 1 || len(paid) != 1 {
		t.Fatalf("ledger paid %v", paid)
	}
}

func TestYapeWallet(t *testing.T) {
	b := setup(t, sandbox.Options{})
	p := payout("P-yape")
	p.Method = providers.Wallet
	p.Beneficiary = providers.Beneficiary{Name: "Luz", DocumentType: "CE", DocumentNumber: "001234567", BankCode: "037", Phone: "912345678"}
	if _, err := b.client.Submit(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if ev := b.waitEvent(t, "P-yape"); ev.Status.Outcome != providers.Succeeded {
		t.Fatalf("event %+v", ev)
	}
}

func TestLookupNeverCreated(t *testing.T) {
	b := setup(t, sandbox.Options{})
	_, err := b.client.Lookup(context.Background(), providers.Refs{PayoutID: "P-none"})
	kindIs(t, err, providers.ErrNotFound)
	_, err = b.client.Lookup(context.Background(), providers.Refs{ProviderID: "TF1"})
	kindIs(t, err, providers.ErrUnsupported)
}

func TestDuplicateRefused(t *testing.T) {
	b := setup(t, sandbox.Options{})
	ctx := context.Background()
	if _, err := b.client.Submit(ctx, payout("P-dup")); err != nil {
		t.Fatal(err)
	}
	_, err := b.client.Submit(ctx, payout("P-dup"))
	kindIs(t, err, providers.ErrDuplicate)
	b.waitEvent(t, "P-dup")
	if n := len(b.kit.Ledger.Entries()); n != 1 {
		t.Fatalf("%d ledger entries", n)
	}
}

func TestValidationRejected(t *testing.T) {
	b := setup(t, sandbox.Options{})
	p := payout("P-bad")
	p.Beneficiary.DocumentNumber = "1234567" // a DNI has 8 digits
	_, err := b.client.Submit(context.Background(), p)
	kindIs(t, err, providers.ErrRejected)
	if providers.Code(err) != "400" {
		t.Fatalf("code %q", providers.Code(err))
	}
	if len(b.kit.Ledger.Entries()) != 0 {
		t.Fatal("a rejected payout reached the ledger")
	}
}

func TestInsufficientBalance(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{InsufficientBalance: true})
	_, err := b.client.Submit(context.Background(), payout("P-poor"))
	kindIs(t, err, providers.ErrInsufficientFunds)
	if providers.Code(err) != "425" {
		t.Fatalf("code %q", providers.Code(err))
	}
	_, err = b.client.Lookup(context.Background(), providers.Refs{PayoutID: "P-poor"})
	kindIs(t, err, providers.ErrNotFound)
}

func TestRateLimited(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{RateLimitPerSecond: 1})
	ctx := context.Background()
	var err error
	for i := 0; i < 5 && err == nil; i++ {
		_, err = b.client.Lookup(ctx, providers.Refs{PayoutID: "P-x"})
		if errors.Is(err, providers.ErrNotFound) {
			err = nil
		}
	}
	kindIs(t, err, providers.ErrRateLimited)
	if ra := providers.RetryAfter(err); ra <= 0 || ra > time.Second {
		t.Fatalf("RetryAfter %v", ra)
	}
	if !providers.IsRetryable(err) {
		t.Fatal("rate limit not retryable")
	}
}

func TestUnavailable(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{Burst5xx: 1})
	_, err := b.client.Submit(context.Background(), payout("P-5xx"))
	kindIs(t, err, providers.ErrUnavailable)
	if !providers.IsRetryable(err) || len(b.kit.Ledger.Entries()) != 0 {
		t.Fatalf("retryable %v, ledger %v", providers.IsRetryable(err), b.kit.Ledger.Entries())
	}
	if _, err := b.client.Submit(context.Background(), payout("P-5xx")); err != nil {
		t.Fatalf("after the burst: %v", err)
	}
}

func TestDroppedResponseInDoubtThenResolved(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{DropResponseEvery: 1})
	ctx := context.Background()
	_, err := b.client.Submit(ctx, payout("P-lost"))
	if !providers.IsInDoubt(err) {
		t.Fatalf("err = %v, want in doubt", err)
	}
	b.kit.SetFaults(sandboxkit.Faults{})
	st, err := b.client.Lookup(ctx, providers.Refs{PayoutID: "P-lost"})
	if err != nil {
		t.Fatalf("resolving: %v", err)
	}
	if st.Refs.ProviderID == "" {
		t.Fatalf("lookup %+v", st)
	}
	b.waitEvent(t, "P-lost")
	if paid := b.kit.Ledger.PaidByReference(); paid["P-lost"] != 1 {
		t.Fatalf("paid %v", paid)
	}
}

func TestRuleTimeoutInDoubt(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{{RefContains: "slow", Outcome: "timeout"}}})
	_, err := b.client.Submit(context.Background(), payout("P-slow"))
	if !providers.IsInDoubt(err) {
		t.Fatalf("err = %v, want in doubt", err)
	}
	if _, err := b.client.Lookup(context.Background(), providers.Refs{PayoutID: "P-slow"}); err != nil {
		t.Fatal(err)
	}
}

func TestTransportFailureBeforeSending(t *testing.T) {
	b := setup(t, sandbox.Options{})
	cfg := b.cfg
	dead := httptest.NewServer(http.NotFoundHandler())
	cfg.BaseURL = dead.URL
	dead.Close() // nothing listens: the request never leaves
	c := newClient(t, cfg, nil)
	_, err := c.Submit(context.Background(), payout("P-dead"))
	kindIs(t, err, providers.ErrUnavailable)
}

func TestFailureCodes(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{
		{RefContains: "card", Outcome: "fail", Code: "1000"},
		{RefContains: "chan", Outcome: "fail", Code: "1002"},
		{RefContains: "now", Outcome: "reject", Code: "9999"},
	}})
	ctx := context.Background()
	for id, code := range map[string]string{"P-card": "1000", "P-chan": "1002"} {
		if _, err := b.client.Submit(ctx, payout(id)); err != nil {
			t.Fatal(err)
		}
		ev := b.waitEvent(t, id)
		if ev.Status.Outcome != providers.Failed || ev.Status.Code != code || ev.Status.Message == "" {
			t.Fatalf("%s: event %+v", id, ev)
		}
		st, err := b.client.Lookup(ctx, providers.Refs{PayoutID: id})
		if err != nil || st.Outcome != providers.Failed || st.Code != code {
			t.Fatalf("%s: lookup %+v, %v", id, st, err)
		}
	}
	st, err := b.client.Submit(ctx, payout("P-now"))
	if err != nil || st.Outcome != providers.Failed {
		t.Fatalf("reject at create: %+v, %v", st, err)
	}
	if paid := b.kit.Ledger.PaidByReference(); len(paid) != 0 {
		t.Fatalf("failed payouts paid: %v", paid)
	}
}

func TestReversalAfterSuccess(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.kit.SetFaults(sandboxkit.Faults{ReverseAfterSuccessRate: 1})
	if _, err := b.client.Submit(context.Background(), payout("P-rev")); err != nil {
		t.Fatal(err)
	}
	first, second := b.waitEvent(t, "P-rev"), b.waitEvent(t, "P-rev")
	if first.Status.Outcome != providers.Succeeded || second.Status.Outcome != providers.Reversed || first.ID == second.ID {
		t.Fatalf("events %+v then %+v", first, second)
	}
	st, err := b.client.Lookup(context.Background(), providers.Refs{PayoutID: "P-rev"})
	if err != nil || st.Outcome != providers.Reversed {
		t.Fatalf("lookup %+v, %v", st, err)
	}
	if e := b.kit.Ledger.Entries(); len(e) != 1 || e[0].State != "reversed" || e[0].Executions != 1 {
		t.Fatalf("ledger %+v", e)
	}
}

// TeemoPay retries a callback until it reads SUCCESS. A retry is the same
// HTTP request sent again: the first attempt's body, sign, nonce and
// timestamp. The ±30 s window is TeemoPay's rule for our requests, not for
// its callbacks: a retry minutes after its timestamp must verify, and every
// attempt must yield the same event ID.
func TestCallbackRetriedUntilSuccess(t *testing.T) {
	b := setup(t, sandbox.Options{})
	b.hook.refuse = 2
	if _, err := b.client.Submit(context.Background(), payout("P-retry")); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for n := 0; n < 3; {
		select {
		case ev := <-b.events:
			ids[ev.ID] = true
			n++
		case <-tick.C:
			b.kit.Clock.Advance(20 * time.Second) // retries come round, well past 30 s
		case <-deadline:
			t.Fatalf("%d of 3 deliveries verified", n)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("retries gave %d event IDs", len(ids))
	}
	eventually(t, "the notifier stops after SUCCESS", b.kit.Notifier.Idle)
	b.hook.mu.Lock()
	defer b.hook.mu.Unlock()
	if len(b.hook.nonces) != 3 || b.hook.nonces[0] != b.hook.nonces[2] || b.hook.stamps[0] != b.hook.stamps[2] {
		t.Fatalf("deliveries carried nonces %v and timestamps %v: want 3, each the first attempt's", b.hook.nonces, b.hook.stamps)
	}
	first, _ := strconv.ParseInt(b.hook.stamps[0], 10, 64)
	if age := b.kit.Clock.Now().Sub(time.UnixMilli(first)); age <= 30*time.Second {
		t.Fatalf("the last retry arrived %v after its timestamp; the test needs more than 30 s", age)
	}
}

func TestAuthRefused(t *testing.T) {
	b := setup(t, sandbox.Options{})
	other, err := sandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := other.WriteFiles(t.TempDir(), b.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey.MerchantID = b.cfg.MerchantID
	wrongApp := b.cfg
	wrongApp.MerchantID = "SOMEONE-ELSE"
	skewed := func() time.Time { return b.kit.Clock.Now().Add(-time.Minute) }
	for name, c := range map[string]*teemopay.Client{
		"wrong key":      newClient(t, wrongKey, b.kit.Clock.Now),
		"wrong app_code": newClient(t, wrongApp, b.kit.Clock.Now),
		"clock skew":     newClient(t, b.cfg, skewed),
	} {
		_, err := c.Submit(context.Background(), payout("P-auth"))
		if !errors.Is(err, providers.ErrAuth) {
			t.Errorf("%s: err = %v, want ErrAuth", name, err)
		}
	}
	if len(b.kit.Ledger.Entries()) != 0 {
		t.Fatal("an unauthenticated payout reached the ledger")
	}
}

// A captured request sent again (same nonce, same sign) is refused.
func TestNonceReplayRefused(t *testing.T) {
	b := setup(t, sandbox.Options{})
	creds := b.sb.Credentials()
	nonce, _ := teemopay.NewNonce()
	body, err := teemopay.SignBody(creds.MerchantKey, []byte(`{"merchantOrderNo":"P-none"}`), nonce)
	if err != nil {
		t.Fatal(err)
	}
	send := func() string {
		req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/api/pay/payout/query/v1", bytes.NewReader(body))
		req.Header.Set("app_code", creds.AppCode)
		req.Header.Set("country", "PE")
		req.Header.Set("nonce", nonce)
		req.Header.Set("timestamp", strconv.FormatInt(b.kit.Clock.Now().UnixMilli(), 10))
		resp, err := b.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}
	if got := send(); !strings.Contains(got, `"code":400`) || !strings.Contains(got, "Order not found") {
		t.Fatalf("first: %s", got)
	}
	if got := send(); !strings.Contains(got, `"code":403`) {
		t.Fatalf("replay: %s", got)
	}
}

func TestWebhookRefusals(t *testing.T) {
	b := setup(t, sandbox.Options{})
	now := time.Now()
	genuine := signedCallback(t, b.sb.Credentials().PlatformKey, now)
	if _, err := b.client.ParseWebhook(genuine); err != nil {
		t.Fatalf("genuine: %v", err)
	}
	res, _ := b.client.ParseWebhook(genuine)
	if res.ReplayKey != "teemopay:"+genuine.Header.Get("nonce") || string(res.Ack.Body) != "SUCCESS" || !strings.HasPrefix(res.Ack.ContentType, "text/plain") {
		t.Fatalf("result %+v", res)
	}
	tampered := genuine
	tampered.Body = bytes.Replace(genuine.Body, []byte(`"1000.00"`), []byte(`"9000.00"`), 1)
	_, err := b.client.ParseWebhook(tampered)
	kindIs(t, err, providers.ErrSignature)

	other, _ := sandbox.NewCredentials()
	_, err = b.client.ParseWebhook(signedCallback(t, other.PlatformKey, now))
	kindIs(t, err, providers.ErrSignature)

	renonced := genuine
	renonced.Header = genuine.Header.Clone()
	renonced.Header.Set("nonce", strings.Repeat("0", 32))
	_, err = b.client.ParseWebhook(renonced)
	kindIs(t, err, providers.ErrSignature)

	// A callback retried long after its timestamp is still TeemoPay's:
	// the window is for our requests; replays are refused by nonce.
	late := genuine
	late.Received = now.Add(time.Hour)
	if _, err := b.client.ParseWebhook(late); err != nil {
		t.Fatalf("callback an hour after its timestamp: %v", err)
	}
}

func TestCredentialFiles(t *testing.T) {
	creds, err := sharedCreds()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg, err := creds.WriteFiles(dir, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{cfg.PrivateKey, cfg.ProviderPublicKey} {
		if !strings.HasPrefix(ref, "file:") {
			t.Fatalf("ref %q", ref)
		}
		fi, err := os.Stat(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", ref, fi.Mode().Perm())
		}
	}
	if cfg.MerchantID != creds.AppCode || cfg.BaseURL != "http://127.0.0.1:1" {
		t.Fatalf("config %+v", cfg)
	}
}

// signedCallback is a success callback for P-hook signed with key, sent at.
func signedCallback(t *testing.T, key *rsa.PrivateKey, at time.Time) providers.WebhookRequest {
	t.Helper()
	nonce, err := teemopay.NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	body, err := teemopay.SignBody(key, []byte(`{"merchantOrderNo":"P-hook","tradeNo":"TF1","status":2,"amount":"1000.00","serviceAmount":"5.00","completeTime":"2025-05-01 00:00:00"}`), nonce)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("nonce", nonce)
	h.Set("timestamp", strconv.FormatInt(at.UnixMilli(), 10))
	h.Set("country", "PE")
	return providers.WebhookRequest{Header: h, Body: body, Received: at}
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

package bank131_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	"github.com/payrun/payrun/providers/sandboxkit"
)

func forEach(t *testing.T, f func(t *testing.T, e *env)) {
	for _, name := range names {
		t.Run(name, func(t *testing.T) { f(t, setup(t, name)) })
	}
}

func TestRegistrations(t *testing.T) {
	for _, reg := range []providers.Registration{bank131.Bank131Registration(), bank131.SmartGlocalRegistration()} {
		t.Run(reg.Name, func(t *testing.T) {
			e := setup(t, reg.Name)
			p, err := reg.New(e.cfg, providers.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			caps := p.Capabilities()
			_, card := reg.Rules.Methods[providers.CardToken]
			_, bank := reg.Rules.Methods[providers.BankTransfer]
			if p.Name() != reg.Name || !providers.TwoPhase(p) || !caps.DuplicateRefused || caps.LookupByReference || !card || bank {
				t.Errorf("%s: name %q caps %+v", reg.Name, p.Name(), caps)
			}
			noURL := e.cfg
			noURL.BaseURL = ""
			if _, err := reg.New(noURL, providers.Deps{}); err == nil || !strings.Contains(err.Error(), "base_url") {
				t.Errorf("missing base_url: %v", err)
			}
			literal := e.cfg
			literal.PrivateKey = "-----BEGIN PRIVATE KEY-----"
			if _, err := reg.New(literal, providers.Deps{}); !errors.Is(err, providers.ErrLiteralSecret) {
				t.Errorf("literal private key: %v, want ErrLiteralSecret", err)
			}
			v3 := e.cfg
			v3.Extra = map[string]string{"api_version": "v3"}
			if _, err := reg.New(v3, providers.Deps{}); err == nil {
				t.Error("api_version v3 accepted")
			}
		})
	}
}

func TestCredentialsWriteFiles(t *testing.T) {
	creds := credentials(t, bank131.NameBank131)
	dir := t.TempDir()
	cfg, err := creds.WriteFiles(dir, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MerchantID != creds.Project || !strings.HasPrefix(cfg.PrivateKey, "file:") || !strings.HasPrefix(cfg.ProviderPublicKey, "file:") {
		t.Errorf("config %+v", cfg)
	}
	for _, ref := range []string{cfg.PrivateKey, cfg.ProviderPublicKey} {
		fi, err := os.Stat(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", ref, fi.Mode().Perm())
		}
	}
}

func TestPayoutConfirmedPaysOnce(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		p := payout("P-100", currency(e.name))
		st, err := e.client.Submit(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Outcome != providers.Processing || !strings.HasPrefix(st.Refs.SessionID, "ps_") || !strings.HasPrefix(st.Refs.ProviderID, "po_") || st.Refs.PayoutID != p.ID {
			t.Fatalf("submit: %+v", st)
		}
		ev := e.waitEvent(t, p.ID, "ready_to_confirm")
		last4, err := e.client.TokenInfo(t.Context(), p.Beneficiary.CardToken)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status.Outcome != providers.AwaitingConfirmation || ev.Status.Amount != p.Amount ||
			ev.Status.Recipient != "card *"+last4+" (visa) Ivan Petrov" {
			t.Errorf("ready_to_confirm event: %+v", ev.Status)
		}
		ready, err := e.client.Lookup(t.Context(), st.Refs)
		if err != nil || ready.Outcome != providers.AwaitingConfirmation || ready.RawStatus != "in_progress/pending/confirm" || ready.Amount != p.Amount {
			t.Fatalf("lookup at ready_to_confirm: %+v %v", ready, err)
		}
		if s := e.ledgerState(t, p.ID); s != "pending" || e.paid(p.ID) != 0 {
			t.Fatalf("before confirm: ledger %s, paid %d", s, e.paid(p.ID))
		}
		if _, err := e.client.Confirm(t.Context(), ready.Refs); err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.Succeeded)
		fin := e.waitEvent(t, p.ID, "payment_finished")
		if fin.Status.Outcome != providers.Succeeded {
			t.Errorf("payment_finished: %+v", fin.Status)
		}
		again, err := e.client.Confirm(t.Context(), ready.Refs)
		if err != nil || again.Outcome != providers.Succeeded {
			t.Errorf("repeated confirm: %+v %v", again, err)
		}
		if e.paid(p.ID) != 1 || e.ledgerState(t, p.ID) != "paid" {
			t.Errorf("paid %d times, state %s", e.paid(p.ID), e.ledgerState(t, p.ID))
		}
	})
}

func TestCancelMovesNoMoney(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		p := payout("P-200", currency(e.name))
		st, err := e.client.Submit(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation)
		got, err := e.client.Cancel(t.Context(), st.Refs, "amount does not match")
		if err != nil || got.Outcome != providers.Cancelled {
			t.Fatalf("cancel: %+v %v", got, err)
		}
		if _, err := e.client.Cancel(t.Context(), st.Refs, "again"); err != nil {
			t.Errorf("repeated cancel: %v", err)
		}
		if _, err := e.client.Confirm(t.Context(), st.Refs); !errors.Is(err, providers.ErrRejected) {
			t.Errorf("confirm after cancel: %v, want ErrRejected", err)
		}
		e.sb.Kit().Clock.Advance(time.Hour)
		if e.paid(p.ID) != 0 || e.ledgerState(t, p.ID) != "cancelled" {
			t.Errorf("after cancel: paid %d, state %s", e.paid(p.ID), e.ledgerState(t, p.ID))
		}
	})
}

func TestDuplicateSubmitRefused(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		p := payout("P-300", currency(e.name))
		st, err := e.client.Submit(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		dup, err := e.client.Submit(t.Context(), p)
		if !errors.Is(err, providers.ErrDuplicate) || providers.Code(err) != "idempotency_key_already_exists" || dup.Refs.SessionID != "" {
			t.Fatalf("duplicate: %+v %v", dup, err)
		}
		if n := len(e.sb.Sessions()); n != 1 {
			t.Fatalf("%d sessions after a refused duplicate, want 1", n)
		}
		// A later attempt, after the first session was proven harmless,
		// uses a fresh key and is accepted.
		if _, err := e.client.Cancel(t.Context(), st.Refs, "superseded"); err != nil {
			t.Fatal(err)
		}
		p.Attempt = 1
		st2, err := e.client.Submit(t.Context(), p)
		if err != nil || st2.Refs.SessionID == st.Refs.SessionID {
			t.Fatalf("attempt 1: %+v %v", st2, err)
		}
		e.waitOutcome(t, st2.Refs, providers.AwaitingConfirmation)
		if _, err := e.client.Confirm(t.Context(), st2.Refs); err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st2.Refs, providers.Succeeded)
		if e.paid(p.ID) != 1 {
			t.Errorf("paid %d times, want 1", e.paid(p.ID))
		}
	})
}

// A start whose response is lost still returns the session id, so that the
// session is journaled and later confirmed or cancelled.
func TestStartInDoubtCarriesSession(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.sb.Kit().SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{{RefContains: "LOST", Outcome: "timeout"}}})
		p := payout("P-LOST-1", currency(e.name))
		st, err := e.client.Submit(t.Context(), p)
		if !providers.IsInDoubt(err) {
			t.Fatalf("submit: %v, want in doubt", err)
		}
		if e.client.InitPayout() {
			// One call: its answer, the session's id, is what was lost.
			// The session can never move money without payrun's confirm,
			// which only a journaled session gets.
			if st.Refs.SessionID != "" {
				t.Fatalf("init/payout lost its answer but named a session: %+v", st)
			}
			if n := len(e.sb.Sessions()); n != 1 {
				t.Fatalf("%d sessions, want the one whose answer was lost", n)
			}
			if e.paid(p.ID) != 0 {
				t.Errorf("an unconfirmed session paid")
			}
			return
		}
		if !strings.HasPrefix(st.Refs.SessionID, "ps_") || st.Refs.PayoutID != p.ID {
			t.Fatalf("in-doubt submit lost the session: %+v", st)
		}
		ready := e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation)
		if ready.Amount != p.Amount {
			t.Errorf("amount %+v", ready.Amount)
		}
		if _, err := e.client.Confirm(t.Context(), ready.Refs); err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.Succeeded)
		if e.paid(p.ID) != 1 {
			t.Errorf("paid %d", e.paid(p.ID))
		}
	})
}

func TestErrors(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		cur := currency(e.name)

		// A key the provider does not know: refused as authentication.
		other := e.cfg
		other.PrivateKey = "file:testdata/merchant_key.pem"
		if _, err := newClient(t, e.name, other).Submit(ctx, payout("P-E1", cur)); !errors.Is(err, providers.ErrAuth) || providers.Code(err) != "invalid_signature" {
			t.Errorf("wrong key: %v", err)
		}
		wrongProject := e.cfg
		wrongProject.MerchantID = "someone_else"
		if _, err := newClient(t, e.name, wrongProject).Lookup(ctx, providers.Refs{SessionID: "ps_1"}); !errors.Is(err, providers.ErrAuth) {
			t.Errorf("wrong project: %v", err)
		}

		bad := payout("P-E2", cur)
		bad.Beneficiary.CardToken = "not-a-token"
		st, err := e.client.Submit(ctx, bad)
		if !errors.Is(err, providers.ErrRejected) || providers.Code(err) != "invalid_card" || (st.Refs.SessionID == "") != e.client.InitPayout() {
			t.Errorf("bad token: %+v %v", st, err)
		}
		if _, err := e.client.Submit(ctx, payout("P-E3", "PEN")); !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("PEN: %v", err)
		}
		wallet := payout("P-E4", cur)
		wallet.Method = providers.Wallet
		if _, err := e.client.Submit(ctx, wallet); !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("wallet: %v", err)
		}
		if _, err := e.client.Lookup(ctx, providers.Refs{PayoutID: "P-E5"}); !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("lookup without session: %v", err)
		}
		if _, err := e.client.Lookup(ctx, providers.Refs{SessionID: "ps_999999999"}); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("lookup unknown session: %v", err)
		}

		e.sb.Kit().SetFaults(sandboxkit.Faults{InsufficientBalance: true})
		st, err = e.client.Submit(ctx, payout("P-E6", cur))
		if !errors.Is(err, providers.ErrInsufficientFunds) || (st.Refs.SessionID == "") != e.client.InitPayout() {
			t.Errorf("insufficient balance: %+v %v", st, err)
		}

		e.sb.Kit().SetFaults(sandboxkit.Faults{Burst5xx: 1})
		st, err = e.client.Submit(ctx, payout("P-E7", cur))
		if !errors.Is(err, providers.ErrUnavailable) || !providers.IsRetryable(err) || st.Refs.SessionID != "" {
			t.Errorf("503: %+v %v", st, err)
		}

		e.sb.Kit().SetFaults(sandboxkit.Faults{RateLimitPerSecond: 1})
		var rl error
		for i := 0; i < 3 && rl == nil; i++ {
			_, err := e.client.Lookup(ctx, providers.Refs{SessionID: "ps_1"})
			if errors.Is(err, providers.ErrRateLimited) {
				rl = err
			}
		}
		if rl == nil || providers.RetryAfter(rl) <= 0 || providers.Code(rl) != "too_many_requests" {
			t.Errorf("rate limit: %v (retry after %v)", rl, providers.RetryAfter(rl))
		}

		e.sb.Kit().SetFaults(sandboxkit.Faults{DropResponseEvery: 1})
		st, err = e.client.Submit(ctx, payout("P-E8", cur))
		if !providers.IsInDoubt(err) || st.Refs.SessionID != "" {
			t.Errorf("create response dropped: %+v %v", st, err)
		}
		e.sb.Kit().SetFaults(sandboxkit.Faults{})
		if _, err := e.client.Submit(ctx, payout("P-E8", cur)); !errors.Is(err, providers.ErrDuplicate) {
			t.Errorf("resend after in-doubt create: %v, want ErrDuplicate", err)
		}
	})
}

func TestFailureAndSessionError(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.sb.Kit().SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{
			{RefContains: "FAIL", Outcome: "fail", Code: "card_blocked", Message: "card is blocked"},
			{RefContains: "STUCK", Outcome: "error"},
		}})
		cur := currency(e.name)
		p := payout("P-FAIL-1", cur)
		st, err := e.client.Submit(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation)
		if _, err := e.client.Confirm(t.Context(), st.Refs); err != nil {
			t.Fatal(err)
		}
		failed := e.waitOutcome(t, st.Refs, providers.Failed)
		if failed.Code != "card_blocked" || e.paid(p.ID) != 0 || e.ledgerState(t, p.ID) != "failed" {
			t.Errorf("failed: %+v, paid %d", failed, e.paid(p.ID))
		}
		if ev := e.waitEvent(t, p.ID, "payment_finished"); ev.Status.Outcome != providers.Failed {
			t.Errorf("payment_finished: %+v", ev.Status)
		}

		stuck := payout("P-STUCK-1", cur)
		st, err = e.client.Submit(t.Context(), stuck)
		if err != nil {
			t.Fatal(err)
		}
		var got providers.Status
		eventually(t, "session error", func() bool {
			got, err = e.client.Lookup(t.Context(), st.Refs)
			return err == nil && got.RawStatus == "error"
		})
		if got.Outcome != providers.Processing || !strings.Contains(got.Message, "support") {
			t.Errorf("session error: %+v", got)
		}
	})
}

// Bank 131 reports a refund by webhook; Smart Glocal refunds manually
// without one, and only the status query shows it.
func TestReversal(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.sb.Kit().SetFaults(sandboxkit.Faults{ReverseAfterSuccessRate: 1})
		p := payout("P-REV-1", currency(e.name))
		st, err := e.client.Submit(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation)
		if _, err := e.client.Confirm(t.Context(), st.Refs); err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.Reversed)
		if e.ledgerState(t, p.ID) != "reversed" || e.paid(p.ID) != 1 {
			t.Errorf("ledger %s paid %d", e.ledgerState(t, p.ID), e.paid(p.ID))
		}
		if e.name == bank131.NameBank131 {
			if ev := e.waitEvent(t, p.ID, "payment_refunded"); ev.Status.Outcome != providers.Reversed {
				t.Errorf("payment_refunded: %+v", ev.Status)
			}
			return
		}
		eventually(t, "webhooks delivered", e.sb.Kit().Notifier.Idle)
		if evs := e.hooks.find(p.ID, "payment_refunded"); len(evs) != 0 {
			t.Errorf("smartglocal sent a refund webhook: %+v", evs)
		}
	})
}

func TestTokensAndCards(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		resp, err := http.Post(e.srv.URL+"/_sandbox/tokens", "application/json", strings.NewReader(`{"number":"4111 1111 1111 1111"}`))
		if err != nil {
			t.Fatal(err)
		}
		var minted struct{ Token, Last4 string }
		err = json.NewDecoder(resp.Body).Decode(&minted)
		resp.Body.Close()
		if err != nil || minted.Last4 != "1111" || len(minted.Token) != 64 {
			t.Fatalf("mint: %+v %v", minted, err)
		}
		last4, err := e.client.TokenInfo(t.Context(), minted.Token)
		if err != nil || last4 != "1111" {
			t.Errorf("token/info: %q %v", last4, err)
		}
		p := payout("P-TOK-1", currency(e.name))
		p.Beneficiary.CardToken = minted.Token
		st, err := e.client.Submit(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		if ready := e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation); !strings.HasPrefix(ready.Recipient, "card *1111 (visa)") {
			t.Errorf("recipient %q", ready.Recipient)
		}

		const pan = "5555555555554444"
		if _, err := e.client.SubmitCard(t.Context(), payout("P-PAN-1", currency(e.name)), pan); !errors.Is(err, providers.ErrUnsupported) {
			t.Errorf("card number without PCI: %v", err)
		}
		pci := e.cfg
		pci.PCICertified = true
		pc := newClient(t, e.name, pci)
		if _, err := pc.SubmitCard(t.Context(), payout("P-PAN-2", currency(e.name)), "5555-5555"); err == nil || strings.Contains(err.Error(), "5555-5555") {
			t.Errorf("malformed card number: %v", err)
		}
		st, err = pc.SubmitCard(t.Context(), payout("P-PAN-3", currency(e.name)), pan)
		if err != nil {
			t.Fatal(err)
		}
		if ready := e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation); !strings.HasPrefix(ready.Recipient, "card *4444 (mastercard)") {
			t.Errorf("recipient %q", ready.Recipient)
		}
	})
}

func TestWebhookForgedAndDuplicated(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		e.sb.Kit().SetFaults(sandboxkit.Faults{WebhookDuplicateRate: 1})
		p := payout("P-DUPHOOK-1", currency(e.name))
		if _, err := e.client.Submit(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		eventually(t, "two deliveries", func() bool { return len(e.hooks.find(p.ID, "ready_to_confirm")) == 2 })
		evs := e.hooks.find(p.ID, "ready_to_confirm")
		if evs[0].ID != evs[1].ID {
			t.Errorf("duplicated delivery yields ids %s and %s", evs[0].ID, evs[1].ID)
		}

		// The same body signed with a key that is not the provider's.
		body, _ := json.Marshal(map[string]any{"type": "payment_finished", "session": map[string]any{"id": "ps_1", "status": "accepted",
			"payments": []map[string]any{{"id": "po_1", "status": "succeeded", "metadata": p.ID}}}})
		forged := signWith(t, "testdata/merchant_key.pem", body)
		h := http.Header{}
		h.Set("X-PARTNER-SIGN", forged)
		if _, err := e.client.ParseWebhook(providers.WebhookRequest{Header: h, Body: body}); !errors.Is(err, providers.ErrSignature) {
			t.Errorf("forged webhook: %v", err)
		}
		resp, err := http.Post(e.srv.URL+"/api/v1/session/status", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			Status string
			Error  struct{ Code string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || ans.Status != "error" || ans.Error.Code != "invalid_project" {
			t.Errorf("unsigned request: HTTP %d %+v", resp.StatusCode, ans)
		}
	})
}

func signWith(t *testing.T, keyFile string, body []byte) string {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	k, err := bank131.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := bank131.Sign(k, body)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Webhooks that are not acknowledged are retried at growing intervals;
// Smart Glocal gives up 30 minutes after the first attempt, Bank 131 keeps
// going.
func TestWebhookRetries(t *testing.T) {
	attempts := map[string]int{}
	forEach(t, func(t *testing.T, e *env) {
		e.hooks.setFailing(true)
		p := payout("P-RETRY-1", currency(e.name))
		if _, err := e.client.Submit(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		n := e.sb.Kit().Notifier
		eventually(t, "first attempt", func() bool { return len(n.Deliveries()) > 0 })
		for i := 0; i < 40 && !n.Idle(); i++ {
			before := len(n.Deliveries())
			e.sb.Kit().Clock.Advance(16 * time.Minute)
			eventually(t, "next attempt or give-up", func() bool { return len(n.Deliveries()) > before || n.Idle() })
		}
		if !n.Idle() {
			t.Fatal("notifier still retrying after 40 steps of 16 min")
		}
		ds := n.Deliveries()
		for _, d := range ds {
			if d.Status != http.StatusInternalServerError {
				t.Errorf("delivery %+v", d)
			}
		}
		attempts[e.name] = len(ds)
	})
	t.Logf("webhook attempts before giving up: %v", attempts)
	if attempts[bank131.NameSmartGlocal] >= attempts[bank131.NameBank131] || attempts[bank131.NameBank131] != sandboxkit.DefaultRetry.MaxAttempts {
		t.Errorf("attempts %v: smartglocal must give up (30 min) long before bank131 (%d attempts)", attempts, sandboxkit.DefaultRetry.MaxAttempts)
	}
}

// lostStart loses every start of a payout on its way to the provider,
// after the client wrote it, as when the server closed an idle keep-alive
// connection the request was written to: the client sees EOF after
// writing (in doubt), the provider never saw the request.
type lostStart struct{ base http.RoundTripper }

func (l lostStart) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/session/start/payout") {
		if trace := httptrace.ContextClientTrace(r.Context()); trace != nil && trace.WroteRequest != nil {
			trace.WroteRequest(httptrace.WroteRequestInfo{})
		}
		return nil, io.EOF
	}
	return l.base.RoundTrip(r)
}

// TestLookupOfASessionWithoutPayout: the session was made but the start
// never arrived. The submission is in doubt; the lookup says the session
// holds no payout (ErrNoPayout), which the resolver reads as safe for a
// fresh session, not as a payout in progress to be polled for ever.
func TestLookupOfASessionWithoutPayout(t *testing.T) {
	e := setup(t, bank131.NameBank131)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := bank131.New(e.cfg, providers.Deps{HTTP: &http.Client{Transport: lostStart{tr}, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	p := payout("P-NOSTART-1", currency(e.name))
	st, err := c.Submit(t.Context(), p)
	if !providers.IsInDoubt(err) || st.Refs.SessionID == "" {
		t.Fatalf("submit: %+v, %v; want in doubt with the session", st, err)
	}
	_, err = c.Lookup(t.Context(), st.Refs)
	if !errors.Is(err, providers.ErrNoPayout) {
		t.Fatalf("lookup of a session whose start was lost: %v, want ErrNoPayout", err)
	}
	if e.paid(p.ID) != 0 {
		t.Errorf("a session without a start paid")
	}
}

// TestResolverGivesALostStartAFreshSession: a payout whose start was lost
// is in doubt with a session that holds no payout. The resolver does not
// take it for a payout in progress (it would be polled for ever): it
// starts a fresh session, which pays the row once.
func TestResolverGivesALostStartAFreshSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := setup(t, bank131.NameBank131)
	j := testjournal.Open(t, nil)
	const id = "P-RESTART-1"
	journaltest.Import(t, j, "B1", journaltest.ValidItem(id, bank131.NameBank131, 125050))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	lossy, err := bank131.New(e.cfg, providers.Deps{HTTP: &http.Client{Transport: lostStart{tr}, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	opts := dispatch.DispatchOptions{BackoffBase: time.Millisecond}
	first := dispatch.NewDispatcher(j, map[string]providers.Provider{bank131.NameBank131: lossy}, opts)
	if _, err := first.Run(ctx, []string{"B1"}, nil); err != nil {
		t.Fatal(err)
	}
	lost, err := j.Item(ctx, id)
	if err != nil || lost.State != journal.InDoubt || lost.Refs.SessionID == "" {
		t.Fatalf("after the lost start: %+v, %v; want in doubt with its session", lost, err)
	}

	d := dispatch.NewDispatcher(j, map[string]providers.Provider{bank131.NameBank131: e.client}, opts)
	if err := d.ResolveInDoubt(ctx); err != nil {
		t.Fatal(err)
	}
	d.WaitSettled()
	got, err := j.Item(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.State == journal.InDoubt || got.State == journal.Submitted && got.Refs.SessionID == lost.Refs.SessionID {
		t.Fatalf("resolved to %s with session %s (the lost one %s)", got.State, got.Refs.SessionID, lost.Refs.SessionID)
	}
	if got.Attempt != lost.Attempt+1 || got.Refs.SessionID == lost.Refs.SessionID {
		t.Errorf("attempt %d session %s, want a fresh session (attempt %d, not %s)", got.Attempt, got.Refs.SessionID, lost.Attempt+1, lost.Refs.SessionID)
	}
	// Its ready_to_confirm, as a webhook or a poll would bring it.
	ready := e.waitOutcome(t, got.Refs, providers.AwaitingConfirmation)
	if err := dispatch.Settle(ctx, j, e.client, ready, "webhook"); err != nil {
		t.Fatal(err)
	}
	for e.paid(id) != 1 {
		if ctx.Err() != nil {
			t.Fatalf("paid %d times, want once", e.paid(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

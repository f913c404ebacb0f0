package monnet_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// events collects verified events from a webhook receiver backed by the client.
type events struct {
	mu      sync.Mutex
	got     []providers.Event
	errs    int
	changed chan struct{}
}

func setup(t *testing.T) (*env, *events) {
	t.Helper()
	ev := &events{changed: make(chan struct{})}
	var e *env
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := e.client.ParseWebhook(providers.WebhookRequest{Header: r.Header, Body: body, Received: time.Now()})
		ev.mu.Lock()
		if err != nil {
			ev.errs++
		} else {
			ev.got = append(ev.got, res.Events...)
		}
		close(ev.changed)
		ev.changed = make(chan struct{})
		ev.mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(res.Ack.StatusCode)
	}))
	t.Cleanup(recv.Close)
	e = newEnv(t, recv.URL)
	return e, ev
}

// wait returns the first event matching, or fails after a deadline.
func (ev *events) wait(t *testing.T, match func(providers.Event) bool) providers.Event {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		ev.mu.Lock()
		for _, e := range ev.got {
			if match(e) {
				ev.mu.Unlock()
				return e
			}
		}
		ch := ev.changed
		ev.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no matching event; have %+v", ev.got)
		}
	}
}

func outcomeOf(id string, o providers.Outcome) func(providers.Event) bool {
	return func(e providers.Event) bool {
		return e.Status.Refs.PayoutID == id && e.Status.Outcome == o && !e.DuplicateNotice
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestValidationCodes(t *testing.T) {
	e, _ := setup(t)
	bank := payoutFor(providers.BankTransfer)
	wallet := payoutFor(providers.Wallet)
	tests := []struct {
		name string
		p    func() providers.Payout
		code string
	}{
		{"dni length", func() providers.Payout { p := bank("v1"); p.Beneficiary.DocumentNumber = "1234567"; return p }, "1201"},
		{"ruc length", func() providers.Payout {
			p := bank("v2")
			p.Beneficiary.DocumentType, p.Beneficiary.DocumentNumber = "RUC", "2062993288"
			return p
		}, "1204"},
		{"orderId over 20", func() providers.Payout { return bank("ORDER-123456789012345") }, "1031"},
		{"cci length", func() providers.Payout { p := bank("v3"); p.Beneficiary.CCI = "002430005842902044"; return p }, "1209"},
		{"cci prefix", func() providers.Payout { p := bank("v4"); p.Beneficiary.CCI = "00343000584290204477"; return p }, "1216"},
		{"bank limit", func() providers.Payout { p := bank("v5"); p.Amount = pen(30_000_01); return p }, "1224"},
		{"fraud limit", func() providers.Payout { p := bank("v6"); p.Amount = pen(25_000_01); return p }, "3005"},
		{"wallet limit", func() providers.Payout {
			p := wallet("v7")
			p.Beneficiary.BankCode, p.Amount = "040", pen(500_01)
			return p
		}, "1227"},
		{"wallet phone", func() providers.Payout { p := wallet("v8"); p.Beneficiary.Phone = "887654321"; return p }, "1226"},
		{"wallet currency", func() providers.Payout { p := wallet("v9"); p.Amount.Currency = "USD"; return p }, "1228"},
		{"yape needs wallet type", func() providers.Payout { p := bank("v10"); p.Beneficiary.BankCode = "037"; return p }, "1241"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.Submit(ctx(t), tt.p())
			if !errors.Is(err, providers.ErrRejected) || providers.Code(err) != tt.code {
				t.Fatalf("err = %v, want rejected with code %s", err, tt.code)
			}
		})
	}
	if n := len(e.sb.Kit().Ledger.Entries()); n != 0 {
		t.Errorf("rejected requests left %d ledger entries", n)
	}
}

func TestDuplicateNotificationLeavesOriginal(t *testing.T) {
	e, ev := setup(t)
	p := payoutFor(providers.BankTransfer)("dup-orig")
	st, err := e.client.Submit(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Submit(ctx(t), p); !errors.Is(err, providers.ErrDuplicate) || providers.Code(err) != "2005" {
		t.Fatalf("resend: %v", err)
	}
	dup := ev.wait(t, func(x providers.Event) bool { return x.DuplicateNotice })
	if dup.Status.Refs.PayoutID != "dup-orig" || dup.Status.Refs.ProviderID == st.Refs.ProviderID || dup.Status.Code != "2005" {
		t.Errorf("duplicate notice %+v (original Id %s)", dup.Status, st.Refs.ProviderID)
	}
	ok := ev.wait(t, outcomeOf("dup-orig", providers.Succeeded))
	if ok.Status.Refs.ProviderID != st.Refs.ProviderID {
		t.Errorf("success for Id %s, want %s", ok.Status.Refs.ProviderID, st.Refs.ProviderID)
	}
	if paid := e.sb.Kit().Ledger.PaidByReference()["dup-orig"]; paid != 1 {
		t.Errorf("paid %d times", paid)
	}
}

func TestReversalAfterSuccess(t *testing.T) {
	e, ev := setup(t)
	e.sb.Kit().SetFaults(sandboxkit.Faults{ReverseAfterSuccessRate: 1})
	st, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("rev-1"))
	if err != nil {
		t.Fatal(err)
	}
	ev.wait(t, outcomeOf("rev-1", providers.Succeeded))
	ev.wait(t, outcomeOf("rev-1", providers.Reversed))
	got, err := e.client.Lookup(ctx(t), st.Refs)
	if err != nil || got.Outcome != providers.Reversed || got.RawStatus != "REJECTED/REVERSED" {
		t.Fatalf("lookup %+v, %v", got, err)
	}
	if es := e.sb.Kit().Ledger.Entries(); es[0].State != "reversed" || es[0].Executions != 1 {
		t.Errorf("ledger %+v", es)
	}
}

func TestInsufficientBalance(t *testing.T) {
	e, ev := setup(t)
	e.sb.Kit().SetFaults(sandboxkit.Faults{InsufficientBalance: true})
	st, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("nb-1"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != providers.Processing || st.RawStatus != "PENDING/PENDING_BALANCE" {
		t.Errorf("submit %+v", st)
	}
	got := ev.wait(t, outcomeOf("nb-1", providers.Failed))
	if got.Status.Code != "NO_BALANCE" {
		t.Errorf("failure code %q", got.Status.Code)
	}
	if es := e.sb.Kit().Ledger.Entries(); es[0].State != "failed" || es[0].Executions != 0 {
		t.Errorf("ledger %+v", es)
	}
}

func TestRuleForcesFailureAndTimeout(t *testing.T) {
	e, ev := setup(t)
	e.sb.Kit().SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{
		{RefContains: "bad", Outcome: "fail", Code: "4001", Message: "Bank Rejection - Beneficiary is not the Account Owner"},
		{RefContains: "lost", Outcome: "timeout"},
	}})
	st, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("bad-1"))
	if err != nil {
		t.Fatal(err)
	}
	got := ev.wait(t, outcomeOf("bad-1", providers.Failed))
	if got.Status.Code != "4001" || got.Status.RawStatus != "REJECTED/REJECTED_BANK" {
		t.Errorf("event %+v", got.Status)
	}
	if l, err := e.client.Lookup(ctx(t), st.Refs); err != nil || l.Outcome != providers.Failed || l.Code != "4001" {
		t.Errorf("lookup %+v %v", l, err)
	}
	if _, err := e.client.Submit(ctx(t), payoutFor(providers.Wallet)("lost-1")); !providers.IsInDoubt(err) {
		t.Errorf("timeout rule: %v, want in doubt", err)
	}
	if refs := e.sb.Kit().Ledger.References(); len(refs) != 2 {
		t.Errorf("ledger references %v", refs)
	}
}

func TestTransportFaults(t *testing.T) {
	e, _ := setup(t)
	e.sb.Kit().SetFaults(sandboxkit.Faults{Burst5xx: 1})
	if _, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("u-1")); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("503: %v, want unavailable", err)
	}
	if _, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("u-1")); err != nil {
		t.Errorf("after the burst: %v", err)
	}
}

func TestLookupNeedsID(t *testing.T) {
	e, _ := setup(t)
	_, err := e.client.Lookup(ctx(t), providers.Refs{PayoutID: "x", Method: providers.BankTransfer})
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("lookup without Id: %v", err)
	}
	if _, err := e.client.Lookup(ctx(t), providers.Refs{PayoutID: "x", ProviderID: "999"}); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("unknown Id: %v", err)
	}
	if _, err := e.client.Lookup(ctx(t), providers.Refs{PayoutID: "nope", Method: providers.PaymentLink}); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("unknown payin: %v", err)
	}
}

func TestCardPushExpires(t *testing.T) {
	e, ev := setup(t)
	st, err := e.client.Submit(ctx(t), payoutFor(providers.CardPush)("card-exp"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Outcome != providers.AwaitingBeneficiary || !strings.Contains(st.URL, "/_sandbox/cardpush/") {
		t.Fatalf("submit %+v", st)
	}
	e.sb.Kit().Clock.Advance(16 * time.Minute)
	got := ev.wait(t, outcomeOf("card-exp", providers.Expired))
	if l, err := e.client.Lookup(ctx(t), got.Status.Refs); err != nil || l.Outcome != providers.Expired {
		t.Errorf("lookup %+v %v", l, err)
	}
	resp, err := e.srv.Client().Post(st.URL+"/complete", "application/json", strings.NewReader(`{"pan":"4111111111111111","expiry":"2030-12"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("completing an expired iframe: %s", resp.Status)
	}
	if es := e.sb.Kit().Ledger.Entries(); es[0].State != "expired" {
		t.Errorf("ledger %+v", es)
	}
}

func TestCardPushRefusesNonVisa(t *testing.T) {
	e, _ := setup(t)
	st, err := e.client.Submit(ctx(t), payoutFor(providers.CardPush)("card-mc"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Post(st.URL+"/complete", "application/json", strings.NewReader(`{"pan":"5555555555554444","expiry":"2030-12"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("mastercard: %s", resp.Status)
	}
}

func TestPayinExpiresAndLooksUpByReference(t *testing.T) {
	e, ev := setup(t)
	p := payoutFor(providers.PaymentLink)("link-exp")
	p.Amount = pen(30_00)
	st, err := e.client.Submit(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.client.Lookup(ctx(t), providers.Refs{PayoutID: "link-exp", Method: providers.PaymentLink})
	if err != nil || l.Outcome != providers.AwaitingBeneficiary || l.Refs.ProviderID == "" {
		t.Fatalf("lookup %+v %v", l, err)
	}
	e.sb.Kit().Clock.Advance(31 * time.Minute)
	got := ev.wait(t, outcomeOf("link-exp", providers.Expired))
	// The notification carries "30.0" (one decimal), hashed as received.
	if got.Status.Amount != pen(30_00) {
		t.Errorf("notified amount %v", got.Status.Amount)
	}
	resp, err := e.srv.Client().Post(st.URL+"/pay", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("paying an expired link: %s", resp.Status)
	}
	if paid := e.sb.Kit().Ledger.PaidByReference()["link-exp"]; paid != 0 {
		t.Errorf("expired link paid %d times", paid)
	}
}

// TestPayinNotificationNeedsVerification: a Payin notification with a
// wrong payinVerification is refused; one with none (Monnet's own sample)
// is not believed either, but returned unverified, naming the link to ask
// about; an unsigned payout notification is refused.
func TestPayinNotificationNeedsVerification(t *testing.T) {
	e, _ := setup(t)
	body := `{"payinStateID":"5","payinState":"Autorizado","payinMerchantID":"674","payinAmount":"30.0","payinCurrency":"PEN","payinMerchantOperationNumber":"2-2657443175","payinMethod":"Cash","payinVerification":""}`
	res, err := e.client.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: []byte(body)})
	if err != nil || !res.Unverified || len(res.Events) != 1 || res.Events[0].Status.Refs.PayoutID != "2-2657443175" || res.Events[0].Status.Outcome.Final() {
		t.Errorf("empty payinVerification: %+v, %v; want an unverified event naming the link, with no outcome", res, err)
	}
	wrong := strings.Replace(body, `"payinVerification":""`, `"payinVerification":"`+strings.Repeat("ab", 64)+`"`, 1)
	if _, err := e.client.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: []byte(wrong)}); !errors.Is(err, providers.ErrSignature) {
		t.Errorf("wrong payinVerification: %v", err)
	}
	_, err = e.client.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: []byte(`{"payout":{"id":"1"},"output":{"stage":"SUCCESS"}}`)})
	if !errors.Is(err, providers.ErrSignature) {
		t.Errorf("unsigned payout notification: %v", err)
	}
}

// TestUnsignedPayinNotificationConfirmedByLookup: with notifications sent
// as Monnet's samples show them (payinVerification ""), a paid link is
// settled by what the status query says, and a forged unsigned
// notification claiming payment for an unpaid link changes nothing.
func TestUnsignedPayinNotificationConfirmedByLookup(t *testing.T) {
	e, _ := setup(t)
	e.sb.Kit().SetFaults(sandboxkit.Faults{UnsignedNotifications: true})
	var (
		mu     sync.Mutex
		bodies [][]byte
	)
	got := make(chan struct{}, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		got <- struct{}{}
	}))
	t.Cleanup(recv.Close)
	e.sb.SetWebhookURL(recv.URL)
	paid, unpaid := payoutFor(providers.PaymentLink)("link-paid"), payoutFor(providers.PaymentLink)("link-unpaid")
	st, err := e.client.Submit(ctx(t), paid)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Submit(ctx(t), unpaid); err != nil {
		t.Fatal(err)
	}
	e.beneficiary(t, st)
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
	mu.Lock()
	body := bodies[0]
	mu.Unlock()
	res, err := e.client.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: body})
	if err != nil || !res.Unverified {
		t.Fatalf("unsigned notification: %+v, %v; want unverified", res, err)
	}
	conf, err := providers.ConfirmByLookup(ctx(t), e.client, res)
	if err != nil || conf.Unverified || len(conf.Events) != 1 || conf.Events[0].Status.Outcome != providers.Succeeded ||
		conf.Events[0].Status.Refs.PayoutID != "link-paid" || conf.Events[0].Status.Amount != paid.Amount {
		t.Fatalf("confirmed %+v, %v; want link-paid succeeded, by the status query", conf, err)
	}
	forged := strings.Replace(string(body), `"link-paid"`, `"link-unpaid"`, 1)
	res, err = e.client.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: []byte(forged)})
	if err != nil {
		t.Fatal(err)
	}
	conf, err = providers.ConfirmByLookup(ctx(t), e.client, res)
	if err != nil || conf.Events[0].Status.Outcome != providers.AwaitingBeneficiary {
		t.Fatalf("forged claim of payment: %+v, %v; want the link still awaiting the payer", conf, err)
	}
	unknown := strings.Replace(string(body), `"link-paid"`, `"link-never"`, 1)
	res, _ = e.client.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: []byte(unknown)})
	if _, err := providers.ConfirmByLookup(ctx(t), e.client, res); !errors.Is(err, providers.ErrSignature) {
		t.Errorf("notification about a link Monnet does not know: %v, want ErrSignature", err)
	}
}

func TestBalance(t *testing.T) {
	e, ev := setup(t)
	before, err := e.client.Balance(ctx(t))
	if err != nil || len(before) != 2 {
		t.Fatalf("balance %+v %v", before, err)
	}
	if _, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("bal-1")); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, outcomeOf("bal-1", providers.Succeeded))
	after, err := e.client.Balance(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if before[0].Available.Currency != "PEN" || before[0].Available.Minor-after[0].Available.Minor != 150_50 {
		t.Errorf("balance %v -> %v", before[0], after[0])
	}
}

// A lookup whose answer is lost reaches the provider once: Go's transport
// would send the GET again by itself on the reused connection, outside
// payrun's budget (the million-row night counted four such requests).
func TestLostLookupAnswerIsNotSentAgain(t *testing.T) {
	e, _ := setup(t)
	st, err := e.client.Submit(ctx(t), payoutFor(providers.BankTransfer)("u-lost-answer"))
	if err != nil {
		t.Fatal(err)
	}
	kit := e.sb.Kit()
	kit.SetFaults(sandboxkit.Faults{DropResponseEvery: kit.APICalls() + 1})
	before := kit.APICalls()
	if _, err := e.client.Lookup(ctx(t), st.Refs); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("lookup whose answer was lost: %v, want unavailable", err)
	}
	if n := kit.APICalls() - before; n != 1 {
		t.Errorf("the sandbox saw %d requests for one lookup, want 1", n)
	}
	kit.SetFaults(sandboxkit.Faults{})
	if _, err := e.client.Lookup(ctx(t), st.Refs); err != nil {
		t.Errorf("the next lookup: %v", err)
	}
}

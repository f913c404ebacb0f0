package monnet_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
	"github.com/payrun/payrun/providers/monnet/sandbox"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestDuplicateIn2xxIsNotAFailure: a real host may answer a resent orderId
// with a 2xx status whose body says REJECTED/2005. That is "this order
// exists" (ErrDuplicate, the earlier payout stands), never a final failure,
// and the refused duplicate's own Id is not taken for the payout's.
func TestDuplicateIn2xxIsNotAFailure(t *testing.T) {
	for _, m := range []providers.Method{providers.BankTransfer, providers.Wallet, providers.CardPush} {
		t.Run(string(m), func(t *testing.T) {
			e, ev := setup(t)
			e.sb.Kit().SetFaults(sandboxkit.Faults{DuplicateAnsweredOK: true})
			p := payoutFor(m)("dup2xx-1")
			first, err := e.client.Submit(ctx(t), p)
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.client.Submit(ctx(t), p)
			if !errors.Is(err, providers.ErrDuplicate) || providers.Code(err) != "2005" {
				t.Fatalf("resend answered 2xx REJECTED/2005: status %+v, err %v; want ErrDuplicate (code 2005)", st, err)
			}
			if st.Outcome.Final() || st.Refs.ProviderID != "" {
				t.Errorf("duplicate answer gave status %+v: want no outcome and no Id", st)
			}
			dup := ev.wait(t, func(x providers.Event) bool { return x.DuplicateNotice })
			if dup.Status.Refs.ProviderID == "" || dup.Status.Refs.ProviderID == first.Refs.ProviderID {
				t.Fatalf("duplicate notice %+v", dup.Status)
			}
			// The refused duplicate's record says nothing about the payout:
			// looking it up never settles anything.
			if got, err := e.client.Lookup(ctx(t), providers.Refs{PayoutID: p.ID, Method: m, ProviderID: dup.Status.Refs.ProviderID}); err == nil || got.Outcome.Final() {
				t.Errorf("lookup of the refused duplicate's Id: %+v, %v; want an error, never a final status", got, err)
			}
			if n := len(e.sb.Kit().Ledger.Entries()); n != 1 {
				t.Errorf("ledger holds %d entries, want 1", n)
			}
		})
	}
}

// TestConformanceDuplicateAnsweredOK runs the conformance suite with the
// sandbox answering every resend with a 2xx REJECTED/2005 body: the resend
// that proves existence after a dropped answer must still read as
// ErrDuplicate.
func TestConformanceDuplicateAnsweredOK(t *testing.T) {
	for _, m := range []providers.Method{providers.BankTransfer, providers.CardPush} {
		t.Run(string(m), func(t *testing.T) {
			runConformance(t, m, func(o *sandbox.Options) { o.DuplicateAnsweredOK = true })
		})
	}
}

// TestUnclearCreateAnswersAreInDoubt: only a new payout (IN_PROGRESS,
// PENDING, SUCCESS about our orderId, with an Id) or a clear refusal
// (REJECTED with a code) is believed; anything else leaves the payout in
// doubt, without an Id, to be resolved by asking or by resending the same
// orderId, never failed.
func TestUnclearCreateAnswersAreInDoubt(t *testing.T) {
	const ok = `{"payout":{"Id":77,"country":"PER","amount":15050,"currency":"PEN","orderId":"u-1"},"output":{"stage":"IN_PROGRESS","status":"CREATED","statusChangeDateTime":"2024-05-29T13:16:57.267524Z"}}`
	tests := []struct {
		name   string
		status int
		body   string
		want   error // nil: believed
		final  bool
	}{
		{"new payout", 201, ok, nil, false},
		{"clear refusal", 201, strings.TrimSuffix(strings.Replace(ok, `"stage":"IN_PROGRESS","status":"CREATED"`, `"stage":"REJECTED","status":"REJECTED_BANK"`, 1), "}") +
			`,"errors":[{"code":"4001","message":"Bank Rejection"}]}`, nil, true},
		{"duplicate without errors array", 200, `{"code":"2005","message":["[orderId] Duplicated"]}`, providers.ErrDuplicate, false},
		{"another orderId", 201, strings.Replace(ok, `"u-1"`, `"u-2"`, 1), providers.ErrInDoubt, false},
		{"no orderId", 201, strings.Replace(ok, `,"orderId":"u-1"`, ``, 1), providers.ErrInDoubt, false},
		{"no Id", 201, strings.Replace(ok, `"Id":77,`, ``, 1), providers.ErrInDoubt, false},
		{"REJECTED without a code", 201, strings.Replace(ok, `"stage":"IN_PROGRESS","status":"CREATED"`, `"stage":"REJECTED","status":"BUSSINESS_ERROR"`, 1), providers.ErrInDoubt, false},
		{"REVERSED at birth", 201, strings.Replace(ok, `"stage":"IN_PROGRESS","status":"CREATED"`, `"stage":"REJECTED","status":"REVERSED"`, 1), providers.ErrInDoubt, false},
		{"unknown stage", 201, strings.Replace(ok, `"IN_PROGRESS"`, `"QUEUED"`, 1), providers.ErrInDoubt, false},
		{"empty object", 200, `{}`, providers.ErrInDoubt, false},
		{"not JSON", 200, `<html>ok</html>`, providers.ErrInDoubt, false},
		{"409 without a code", 409, `conflict`, providers.ErrInDoubt, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			k := testKeys(t)
			cfg, err := k.creds.WriteFiles(t.TempDir(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			c, err := monnet.New(cfg, providers.Deps{HTTP: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			p := payoutFor(providers.BankTransfer)("u-1")
			st, err := c.Submit(ctx(t), p)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("err = %v, want the answer believed", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("status %+v, err %v; want %v", st, err, tt.want)
			case tt.want != nil && (st.Outcome.Final() || st.Refs.ProviderID != ""):
				t.Fatalf("%v with status %+v: want no outcome and no Id", err, st)
			case tt.want == nil && st.Outcome.Final() != tt.final:
				t.Fatalf("status %+v, final %v", st, tt.final)
			}
			if errors.Is(err, providers.ErrInDoubt) && (errors.Is(err, providers.ErrRejected) || providers.IsRetryable(err)) {
				t.Errorf("in doubt and also rejected or retryable: %v", err)
			}
		})
	}
}

// TestPayinCardMethodsRefusedAtStart: Monnet's Payin V3 document requires
// the payer's card in every card payment request; payrun never holds one,
// so a configuration that would send card payments (the TCTD of the
// documents' example, or the PCI proxy's URL) is refused by New with a
// message that says why, instead of requests Monnet must refuse.
func TestPayinCardMethodsRefusedAtStart(t *testing.T) {
	k := testKeys(t)
	dir := t.TempDir()
	base, err := k.creds.WriteFiles(dir, "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := monnet.New(base, providers.Deps{}); err != nil {
		t.Fatalf("sandbox configuration (payin_method BankTransfer): %v", err)
	}
	tests := []struct {
		name string
		edit func(map[string]string)
		want string
	}{
		{"card method", func(x map[string]string) { x["payin_method"] = "TCTD" }, "payinPan"},
		{"credit card", func(x map[string]string) { x["payin_method"] = "TC" }, "payinCvv"},
		{"no method", func(x map[string]string) { delete(x, "payin_method") }, "payin_method is required"},
		{"unknown method", func(x map[string]string) { x["payin_method"] = "Bitcoin" }, "not a Monnet payin method"},
		{"PCI proxy", func(x map[string]string) {
			x["payin_base_url"] = "https://sandbox.pci-proxy.com/v1/push/7efeb612e5dda6f1"
		}, "PCI proxy"},
		{"http redirect", func(x map[string]string) { x["payin_ok_url"] = "http://merchant.example/ok" }, "payin_ok_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Extra = map[string]string{}
			for k, v := range base.Extra {
				cfg.Extra[k] = v
			}
			tt.edit(cfg.Extra)
			_, err := monnet.New(cfg, providers.Deps{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a configuration error naming %q", err, tt.want)
			}
		})
	}
	// Without payin_base_url there are no payment links, and no error.
	cfg := base
	cfg.Extra = map[string]string{"payin_method": "TCTD"}
	if _, err := monnet.New(cfg, providers.Deps{}); err != nil {
		t.Errorf("no Payin configured: %v", err)
	}
}

// TestPayinNeedsThePayersContact: the four customer fields Monnet says
// must never be empty are checked before anything is sent.
func TestPayinNeedsThePayersContact(t *testing.T) {
	e, _ := setup(t)
	p := payoutFor(providers.PaymentLink)("link-noemail")
	p.Beneficiary.Email = ""
	if _, err := e.client.Submit(ctx(t), p); !errors.Is(err, providers.ErrRejected) || !strings.Contains(err.Error(), "email") {
		t.Fatalf("payment link without email: %v, want a rejection naming the email", err)
	}
	if n := len(e.sb.Kit().Ledger.Entries()); n != 0 {
		t.Errorf("%d ledger entries", n)
	}
}

// TestCardPushAbandoned: with an "abandon" rule the beneficiary never opens
// the iframe and Monnet never says so: no notification ever comes, and
// only a deadline of payrun's own can end the row.
func TestCardPushAbandoned(t *testing.T) {
	e, _ := setup(t)
	var hits atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(hook.Close)
	e.sb.SetWebhookURL(hook.URL)
	e.sb.Kit().SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{{RefContains: "gone", Outcome: "abandon"}}})
	st, err := e.client.Submit(ctx(t), payoutFor(providers.CardPush)("card-gone"))
	if err != nil || st.Outcome != providers.AwaitingBeneficiary {
		t.Fatalf("submit %+v, %v", st, err)
	}
	e.sb.Kit().Clock.Advance(24 * time.Hour)
	// The expiry ran (the ledger says so) and nothing was scheduled.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for es := e.sb.Kit().Ledger.Entries(); len(es) != 1 || es[0].State != "expired" || !e.sb.Kit().Notifier.Idle(); es = e.sb.Kit().Ledger.Entries() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("the iframe never expired: ledger %+v", es)
		}
	}
	if d := e.sb.Kit().Notifier.Deliveries(); len(d) != 0 || hits.Load() != 0 {
		t.Fatalf("%d deliveries (%d received) for an abandoned card push, want none", len(d), hits.Load())
	}
	if es := e.sb.Kit().Ledger.Entries(); es[0].Executions != 0 {
		t.Errorf("ledger %+v", es)
	}
	resp, err := e.srv.Client().Post(st.URL+"/complete", "application/json", strings.NewReader(`{"pan":"4111111111111111","expiry":"2030-12"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("the beneficiary of an abandoned card push completed it: %s", resp.Status)
	}
}

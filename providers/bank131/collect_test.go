package bank131_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	"github.com/payrun/payrun/providers/bank131/sandbox"
)

// countingTransport records the API methods a client calls.
type countingTransport struct {
	mu    sync.Mutex
	calls []string
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.calls = append(c.calls, r.URL.Path[strings.Index(r.URL.Path, "/api/v1/")+len("/api/v1/"):])
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// A card_token payout without a token is a collection: Submit asks only
// for the widget's public token and waits for the beneficiary; nothing
// that can move money is sent. The hash the widget then issues pays as
// any token, with each client's number of calls: Smart Glocal one
// (session/init/payout), Bank 131 two (session/create, session/start/payout).
func TestCollectionThenPayout(t *testing.T) {
	forEach(t, func(t *testing.T, e *env) {
		ct := &countingTransport{}
		c, err := bank131.NewNamed(e.name, e.cfg, providers.Deps{HTTP: &http.Client{Transport: ct, Timeout: 5 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		p := payout("COL-1", currency(e.name))
		p.Beneficiary.CardToken = ""
		p.Beneficiary.Email = "ivan@example.com"
		if !bank131.IsCollection(p) {
			t.Fatal("a card_token payout without a token is not a collection")
		}
		st, err := c.Submit(t.Context(), p)
		if err != nil || st.Outcome != providers.AwaitingBeneficiary || st.Refs.ProviderID == "" || st.Refs.SessionID != "" {
			t.Fatalf("collection: %+v %v", st, err)
		}
		if got := strings.Join(ct.calls, ","); got != "token" {
			t.Fatalf("collection called %s, want token only", got)
		}
		if c.LinkLifetime(providers.CardToken) != bank131.DefaultWidgetTokenLifetime || c.LinkLifetime(providers.CardPush) != 0 {
			t.Errorf("link lifetime %s", c.LinkLifetime(providers.CardToken))
		}
		if !strings.HasSuffix(c.WidgetURL(), "/widget/tokenize.js") {
			t.Errorf("widget url %q", c.WidgetURL())
		}
		if len(e.sb.Sessions()) != 0 || e.sb.PublicTokens() != 1 {
			t.Errorf("sessions %d, public tokens %d", len(e.sb.Sessions()), e.sb.PublicTokens())
		}
		// The beneficiary types a card into the widget.
		body, _ := json.Marshal(map[string]string{"public_token": st.Refs.ProviderID, "number": "4000 0000 0000 0002",
			"expiration_date": "11/38", "cardholder_name": "Ivan Petrov", "security_code": "321"})
		resp, err := http.Post(e.srv.URL+"/widget/tokenize", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var w struct {
			Card struct {
				NumberHash string `json:"number_hash"`
			} `json:"card"`
		}
		err = json.NewDecoder(resp.Body).Decode(&w)
		resp.Body.Close()
		if err != nil || len(w.Card.NumberHash) != 64 {
			t.Fatalf("widget: %v %+v", err, w)
		}
		if last4, err := c.CheckCardHash(t.Context(), w.Card.NumberHash); err != nil || last4 != "0002" {
			t.Fatalf("token/info: %q %v", last4, err)
		}
		ct.calls = nil
		p.Beneficiary.CardToken = w.Card.NumberHash
		st, err = c.Submit(t.Context(), p)
		if err != nil || st.Refs.SessionID == "" {
			t.Fatalf("payout: %+v %v", st, err)
		}
		want := "session/create,session/start/payout"
		if c.InitPayout() {
			want = "session/init/payout"
		}
		if got := strings.Join(ct.calls, ","); got != want {
			t.Errorf("%s payout called %s, want %s", e.name, got, want)
		}
		if (e.name == bank131.NameSmartGlocal) != c.InitPayout() {
			t.Errorf("%s: InitPayout %v", e.name, c.InitPayout())
		}
		ready := e.waitOutcome(t, st.Refs, providers.AwaitingConfirmation)
		if !strings.HasPrefix(ready.Recipient, "card *0002") {
			t.Errorf("recipient %q", ready.Recipient)
		}
		if _, err := c.Confirm(t.Context(), ready.Refs); err != nil {
			t.Fatal(err)
		}
		e.waitOutcome(t, st.Refs, providers.Succeeded)
		if e.paid(p.ID) != 1 {
			t.Errorf("paid %d", e.paid(p.ID))
		}
	})
}

// The widget refuses an expired or unknown public token and a bad card;
// the client's options are checked at construction.
func TestCollectionRefusals(t *testing.T) {
	e := setup(t, bank131.NameBank131)
	post := func(v map[string]string) int {
		body, _ := json.Marshal(v)
		resp, err := http.Post(e.srv.URL+"/widget/tokenize", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tok, err := e.client.PublicToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	card := map[string]string{"public_token": tok, "number": "4242424242424242", "expiration_date": "12/39", "cardholder_name": "A B", "security_code": "123"}
	bad := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range card {
			m[a] = b
		}
		m[k] = v
		return m
	}
	for name, in := range map[string]map[string]string{
		"luhn": bad("number", "4242424242424241"), "expiry": bad("expiration_date", "13/30"), "past": bad("expiration_date", "01/20"),
		"holder": bad("cardholder_name", " "), "cvc": bad("security_code", "12"), "unknown token": bad("public_token", "nope"),
	} {
		if code := post(in); code != http.StatusBadRequest {
			t.Errorf("%s: %d", name, code)
		}
	}
	e.sb.Kit().Clock.Advance(sandbox.DefaultWidgetTokenLifetime + time.Second)
	if code := post(card); code != http.StatusBadRequest {
		t.Errorf("expired public token accepted: %d", code)
	}
	for _, extra := range []map[string]string{{"widget_url": "ftp://x"}, {"widget_token_lifetime": "-1h"}, {"init_payout": "maybe"}} {
		cfg := e.cfg
		cfg.Extra = map[string]string{}
		for k, v := range e.cfg.Extra {
			cfg.Extra[k] = v
		}
		for k, v := range extra {
			cfg.Extra[k] = v
		}
		if _, err := bank131.NewNamed(bank131.NameBank131, cfg, providers.Deps{}); err == nil {
			t.Errorf("extra %v accepted", extra)
		}
	}
	noWidget := e.cfg
	noWidget.Extra = map[string]string{"api_version": "v1"}
	c, err := bank131.NewNamed(bank131.NameBank131, noWidget, providers.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	p := payout("COL-2", "RUB")
	p.Beneficiary.CardToken = ""
	if _, err := c.Submit(t.Context(), p); err == nil || !strings.Contains(err.Error(), "widget_url") {
		t.Errorf("collection without a widget: %v", err)
	}
}

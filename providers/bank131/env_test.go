package bank131_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	"github.com/payrun/payrun/providers/bank131/sandbox"
)

// RSA 2048 key generation is slow: one set of credentials per instance
// name, per test binary.
var (
	credsOnce   sync.Once
	credsByName map[string]sandbox.Credentials
	credsErr    error
)

func credentials(t testing.TB, name string) sandbox.Credentials {
	t.Helper()
	credsOnce.Do(func() {
		credsByName = map[string]sandbox.Credentials{}
		for _, n := range []string{bank131.NameBank131, bank131.NameSmartGlocal} {
			c, err := sandbox.NewCredentials()
			if err != nil {
				credsErr = err
				return
			}
			credsByName[n] = c
		}
	})
	if credsErr != nil {
		t.Fatal(credsErr)
	}
	return credsByName[name]
}

var names = []string{bank131.NameBank131, bank131.NameSmartGlocal}

// env is one client wired to one sandbox instance over loopback HTTP, with
// a webhook receiver that verifies through the client.
type env struct {
	name   string
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *bank131.Client
	cfg    providers.Config
	hooks  *receiver
}

func setup(t *testing.T, name string) *env {
	t.Helper()
	hooks := &receiver{}
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)
	creds := credentials(t, name)
	sb := sandbox.New(sandbox.Options{Name: name, WebhookURL: hookSrv.URL + "/hooks", Seed: 7, ProcessingDelay: 10 * time.Millisecond, Credentials: creds})
	srv := newServer(t, sb)
	cfg, err := creds.WriteFiles(t.TempDir(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, name, cfg)
	hooks.set(c)
	return &env{name: name, sb: sb, srv: srv, client: c, cfg: cfg, hooks: hooks}
}

// newServer serves a sandbox on loopback; both close when the test ends.
func newServer(t *testing.T, sb *sandbox.Sandbox) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	return srv
}

func newClient(t *testing.T, name string, cfg providers.Config) *bank131.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := bank131.NewNamed(name, cfg, providers.Deps{HTTP: &http.Client{Transport: tr, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// token is a well-formed widget token (number_hash) for a payout.
func token(id string) string {
	sum := sha256.Sum256([]byte("card for " + id))
	return hex.EncodeToString(sum[:])
}

func payout(id string, cur string) providers.Payout {
	return providers.Payout{
		ID: id, Method: providers.CardToken, Country: "RU",
		Amount:      money.Money{Minor: 125050, Currency: cur},
		Beneficiary: providers.Beneficiary{Name: "Ivan", LastName: "Petrov", CardToken: token(id)},
	}
}

func currency(name string) string {
	if name == bank131.NameSmartGlocal {
		return "EUR"
	}
	return "RUB"
}

// eventually polls cond every few milliseconds until it holds, failing
// after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// receiver plays payrun's webhook endpoint: it verifies through the client
// and answers with the client's Ack, or with failStatus while failing.
type receiver struct {
	mu        sync.Mutex
	client    *bank131.Client
	events    []providers.Event
	refused   int
	failing   bool
	delivered int
}

func (r *receiver) set(c *bank131.Client) {
	r.mu.Lock()
	r.client = c
	r.mu.Unlock()
}

func (r *receiver) setFailing(f bool) {
	r.mu.Lock()
	r.failing = f
	r.mu.Unlock()
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered++
	if r.failing {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	res, err := r.client.ParseWebhook(providers.WebhookRequest{Header: req.Header.Clone(), Body: body, Received: time.Now()})
	if err != nil {
		r.refused++
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	r.events = append(r.events, res.Events...)
	w.Header().Set("Content-Type", res.Ack.ContentType)
	w.WriteHeader(res.Ack.StatusCode)
	_, _ = w.Write(res.Ack.Body)
}

func (r *receiver) all() []providers.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]providers.Event(nil), r.events...)
}

func (r *receiver) find(payoutID, typ string) []providers.Event {
	var out []providers.Event
	for _, e := range r.all() {
		if e.Status.Refs.PayoutID == payoutID && e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func (e *env) waitEvent(t *testing.T, payoutID, typ string) providers.Event {
	t.Helper()
	var ev providers.Event
	eventually(t, typ+" webhook for "+payoutID, func() bool {
		if evs := e.hooks.find(payoutID, typ); len(evs) > 0 {
			ev = evs[0]
			return true
		}
		return false
	})
	return ev
}

func (e *env) waitOutcome(t *testing.T, refs providers.Refs, want providers.Outcome) providers.Status {
	t.Helper()
	var st providers.Status
	eventually(t, string(want)+" for "+refs.PayoutID, func() bool {
		var err error
		st, err = e.client.Lookup(t.Context(), refs)
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		return st.Outcome == want
	})
	return st
}

func (e *env) paid(ref string) int { return e.sb.Kit().Ledger.PaidByReference()[ref] }

func (e *env) ledgerState(t *testing.T, ref string) string {
	t.Helper()
	var states []string
	for _, en := range e.sb.Kit().Ledger.Entries() {
		if en.Reference == ref {
			states = append(states, en.State)
		}
	}
	if len(states) != 1 {
		t.Fatalf("ledger entries for %s: %v, want exactly one", ref, states)
	}
	return states[0]
}

package monnet_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
	"github.com/payrun/payrun/providers/monnet/sandbox"
	"github.com/payrun/payrun/providers/providertest"
)

// Keys are generated once per test binary: RSA generation is the slow part.
var keys = sync.OnceValues(func() (keySet, error) {
	creds, err := sandbox.NewCredentials()
	if err != nil {
		return keySet{}, err
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	return keySet{creds, forger}, err
})

type keySet struct {
	creds  sandbox.Credentials
	forger *rsa.PrivateKey
}

func testKeys(t *testing.T) keySet {
	t.Helper()
	k, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// env is a sandbox on loopback with a client wired to it.
type env struct {
	sb     *sandbox.Sandbox
	srv    *httptest.Server
	client *monnet.Client
	cfg    providers.Config
	keys   keySet
}

func newEnv(t *testing.T, webhookURL string, opts ...func(*sandbox.Options)) *env {
	t.Helper()
	k := testKeys(t)
	o := sandbox.Options{Credentials: k.creds, WebhookURL: webhookURL, ProcessingDelay: 20 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	sb := sandbox.New(o)
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		sb.Close()
		srv.Close()
	})
	cfg, err := k.creds.WriteFiles(t.TempDir(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := monnet.New(cfg, providers.Deps{HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{sb: sb, srv: srv, client: c, cfg: cfg, keys: k}
}

// badClient is the client with a wrong HMAC secret and Payin key.
func (e *env) badClient(t *testing.T) *monnet.Client {
	t.Helper()
	dir := t.TempDir()
	cfg := e.cfg
	cfg.Extra = map[string]string{}
	for k, v := range e.cfg.Extra {
		cfg.Extra[k] = v
	}
	for _, name := range []string{"secret", "payin"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("not-the-key"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg.APISecret = "file:" + filepath.Join(dir, "secret")
	cfg.Extra["payin_key"] = "file:" + filepath.Join(dir, "payin")
	c, err := monnet.New(cfg, providers.Deps{HTTP: e.srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pen(minor int64) money.Money { return money.Money{Minor: minor, Currency: "PEN"} }

// payoutFor returns a payout the sandbox accepts and pays, per method.
func payoutFor(m providers.Method) func(id string) providers.Payout {
	return func(id string) providers.Payout {
		p := providers.Payout{ID: id, Method: m, Country: "PE", Amount: pen(150_50), Description: "Payout " + id,
			Beneficiary: providers.Beneficiary{Name: "Sergio", LastName: "Quispe", Email: "sergio@example.com", Phone: "987654321",
				DocumentType: "DNI", DocumentNumber: "12345678"}}
		switch m {
		case providers.BankTransfer:
			p.Beneficiary.BankCode, p.Beneficiary.AccountType, p.Beneficiary.CCI = "002", "savings", "00243000584290204477"
		case providers.Wallet:
			p.Beneficiary.BankCode = "037"
		case providers.CardPush:
			p.Beneficiary.DocumentType, p.Beneficiary.DocumentNumber = "RUC", "20629932888"
		}
		return p
	}
}

func post(t *testing.T, c *http.Client, url, contentType string, body []byte) {
	t.Helper()
	resp, err := c.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// beneficiary plays the card holder (card push) or the payer (payment link).
func (e *env) beneficiary(t *testing.T, st providers.Status) {
	t.Helper()
	switch st.Refs.Method {
	case providers.CardPush:
		post(t, e.srv.Client(), st.URL+"/complete", "application/json", []byte(`{"pan":"4111111111111111","expiry":"2030-12"}`))
	case providers.PaymentLink:
		post(t, e.srv.Client(), st.URL+"/pay", "application/json", nil)
	default:
		t.Fatalf("no beneficiary step for %s", st.Refs.Method)
	}
}

// forge signs a genuine notification with keys that are not Monnet's.
func (e *env) forge(t *testing.T, r providers.WebhookRequest) providers.WebhookRequest {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal(r.Body, &n); err != nil {
		t.Fatal(err)
	}
	if _, payin := n["payinMerchantOperationNumber"]; payin {
		str := func(k string) string { s, _ := n[k].(string); return s }
		sum := sha512.Sum512([]byte(str("payinMerchantID") + str("payinMerchantOperationNumber") + str("payinAmount") + str("payinCurrency") + "guessed-key"))
		n["payinVerification"] = hex.EncodeToString(sum[:])
		b, _ := json.Marshal(n)
		r.Body = b
		return r
	}
	sig, err := monnet.SignNotification(e.keys.forger, e.cfg.MerchantID, r.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("verification", sig)
	return r
}

func TestConformance(t *testing.T) {
	for _, m := range []providers.Method{providers.BankTransfer, providers.Wallet, providers.CardPush, providers.PaymentLink} {
		t.Run(string(m), func(t *testing.T) { runConformance(t, m) })
	}
}

// runConformance runs the suite for one product against a sandbox built
// with opts.
func runConformance(t *testing.T, m providers.Method, opts ...func(*sandbox.Options)) {
	providertest.Run(t, func(t *testing.T, callbackURL string) providertest.Harness {
		e := newEnv(t, callbackURL, opts...)
		h := providertest.Harness{
			Provider:  e.client,
			BadClient: e.badClient(t),
			Kit:       e.sb.Kit(),
			NewPayout: payoutFor(m),
			Forge:     e.forge,
		}
		if m == providers.CardPush || m == providers.PaymentLink {
			h.Beneficiary = e.beneficiary
		}
		// A payment link sent again is not a plain duplicate: only the
		// answer to its creation carries its URL, so a repeat of a link
		// that waits for its payer is in doubt (a new link follows its
		// expiry), and TestLostPaymentLinkAnswer checks it.
		h.NoDuplicateCheck = m == providers.PaymentLink
		return h
	})
}

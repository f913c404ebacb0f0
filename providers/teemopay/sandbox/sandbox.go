package sandbox

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// Options configure a sandbox.
type Options struct {
	// WebhookURL receives callbacks of payouts created without callbackUrl
	// (TeemoPay's merchant default).
	WebhookURL string
	// Seed makes the probabilistic faults repeatable.
	Seed uint64
	// ProcessingDelay is how long a payout stays processing (sandbox time)
	// before its final state; zero means DefaultProcessingDelay. The
	// ProcessingDelay fault knob, when set, wins.
	ProcessingDelay time.Duration
	// Credentials are the merchant's; zero generates fresh ones.
	Credentials Credentials
}

// DefaultProcessingDelay is how long a payout processes by default.
const DefaultProcessingDelay = time.Second

// Window is TeemoPay's tolerance for request timestamps, and NonceTTL how
// long a nonce may not be used again.
const (
	Window   = 30 * time.Second
	NonceTTL = 24 * time.Hour
)

// Sandbox is TeemoPay's stand-in: the payout API (create, query) with its
// signature, timestamp and nonce checks and validation, payouts that
// settle over sandbox time, signed callbacks retried until SUCCESS, a
// ledger and the fault knobs. Sandbox-only endpoints live under /_sandbox/.
type Sandbox struct {
	kit         *sandboxkit.Kit
	creds       Credentials
	merchantPub *rsa.PublicKey
	delay       time.Duration
	handler     http.Handler

	mu         sync.Mutex
	webhookURL string
	orders     map[string]*order // by merchantOrderNo
	nonces     map[string]time.Time
	nonceOrder []seenNonce
	seq        int
}

type seenNonce struct {
	nonce string
	at    time.Time
}

// New starts a sandbox. Close it when done.
func New(o Options) *Sandbox {
	creds := o.Credentials
	if creds.MerchantKey == nil || creds.PlatformKey == nil {
		var err error
		if creds, err = NewCredentials(); err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
	}
	delay := o.ProcessingDelay
	if delay <= 0 {
		delay = DefaultProcessingDelay
	}
	s := &Sandbox{
		kit:         sandboxkit.New(sandboxkit.Options{Name: name, Seed: o.Seed}),
		creds:       creds,
		merchantPub: &creds.MerchantKey.PublicKey,
		delay:       delay,
		webhookURL:  o.WebhookURL,
		orders:      map[string]*order{},
		nonces:      map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathCreate, s.authenticated(s.create))
	mux.HandleFunc("POST "+pathQuery, s.authenticated(s.query))
	mux.Handle("/_sandbox/", s.kit.AdminHandler())
	mux.HandleFunc("GET /_sandbox/orders", s.listOrders)
	mux.HandleFunc("POST /_sandbox/callback", s.resendCallback)
	s.handler = s.kit.Wrap(mux, rateLimited, unavailable)
	return s
}

// ServeHTTP serves the API and the sandbox endpoints.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Kit returns the shared sandbox machinery (clock, ledger, faults, notifier).
func (s *Sandbox) Kit() *sandboxkit.Kit { return s.kit }

// Credentials returns the merchant's credentials.
func (s *Sandbox) Credentials() Credentials { return s.creds }

// SetWebhookURL changes the merchant's default callback URL.
func (s *Sandbox) SetWebhookURL(u string) {
	s.mu.Lock()
	s.webhookURL = u
	s.mu.Unlock()
}

// Close stops callbacks and scheduled work.
func (s *Sandbox) Close() { s.kit.Close() }

// rateLimited is TeemoPay's 429 as the sandbox answers it: an envelope
// with code 429 and a Retry-After header.
func rateLimited(w http.ResponseWriter, ra time.Duration) {
	secs := int((ra + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeEnvelope(w, http.StatusTooManyRequests, codeRateLimited, "Too many requests", nil)
}

// unavailable is an outage in front of the API: 503 before processing.
func unavailable(w http.ResponseWriter) {
	writeEnvelope(w, http.StatusServiceUnavailable, codeUnavailable, "Service unavailable", nil)
}

func writeEnvelope(w http.ResponseWriter, httpStatus, code int, msg string, data any) {
	env := struct {
		Code    int    `json:"code"`
		Msg     string `json:"msg"`
		TraceID string `json:"traceId"`
		Data    any    `json:"data"`
	}{code, msg, traceID(), data}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(env)
}

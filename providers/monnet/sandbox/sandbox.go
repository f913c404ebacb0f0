package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// Options configure a sandbox.
type Options struct {
	// WebhookURL receives every notification (Monnet configures one URL per
	// merchant, not per request).
	WebhookURL string
	// Seed makes probabilistic faults repeatable.
	Seed uint64
	// ProcessingDelay is how long a payout stays IN_PROGRESS (sandbox time);
	// zero means 50ms. Faults.ProcessingDelay overrides it when set.
	ProcessingDelay time.Duration
	// Credentials are the merchant's keys (NewCredentials).
	Credentials Credentials
	// DuplicateAnsweredOK makes the sandbox behave as if
	// Faults.DuplicateAnsweredOK were always on: every resent orderId is
	// answered 2xx with its REJECTED/2005 record.
	DuplicateAnsweredOK bool
}

// Sandbox is one Monnet merchant's view of Monnet. It is an http.Handler.
type Sandbox struct {
	kit     *sandboxkit.Kit
	creds   Credentials
	delay   time.Duration
	handler http.Handler
	dup2xx  bool

	mu       sync.Mutex
	webhook  string
	nextID   int64
	payouts  map[int64]*payout
	byOrder  map[string]int64
	byToken  map[string]int64
	payins   map[string]*payin
	balances map[string]int64
}

// New starts a sandbox; Close stops its clock and notifier.
func New(o Options) *Sandbox {
	s := &Sandbox{
		kit:      sandboxkit.New(sandboxkit.Options{Name: name, Seed: o.Seed}),
		creds:    o.Credentials,
		delay:    o.ProcessingDelay,
		dup2xx:   o.DuplicateAnsweredOK,
		webhook:  o.WebhookURL,
		nextID:   73000,
		payouts:  map[int64]*payout{},
		byOrder:  map[string]int64{},
		byToken:  map[string]int64{},
		payins:   map[string]*payin{},
		balances: map[string]int64{"PEN": 10_000_000_00, "USD": 1_000_000_00},
	}
	if s.delay <= 0 {
		s.delay = 50 * time.Millisecond
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/{merchantId}/payouts", s.authed(s.createPayout))
	mux.HandleFunc("GET /api/v1/{merchantId}/payouts/{id}", s.authed(s.getPayout))
	mux.HandleFunc("GET /api/v1/{merchantId}/balance", s.authed(s.getBalance))
	mux.HandleFunc("POST /api-payout-plus-real-time/{merchantId}", s.authed(s.createCardPush))
	mux.HandleFunc("POST /api-payin/v3/online-payments", s.createPayin)
	mux.HandleFunc("POST /ms-experience-payin/merchant/{merchantId}/operations", s.payinOperations)
	mux.HandleFunc("GET /_sandbox/cardpush/{token}", s.cardIframe)
	mux.HandleFunc("POST /_sandbox/cardpush/{token}/complete", s.cardComplete)
	mux.HandleFunc("GET /_sandbox/payin/{op}", s.payinPage)
	mux.HandleFunc("POST /_sandbox/payin/{op}/pay", s.payinPay)
	mux.HandleFunc("POST /_sandbox/balance", s.setBalance)
	mux.Handle("/_sandbox/", s.kit.AdminHandler())
	s.handler = s.kit.Wrap(mux, rateLimited, unavailable)
	return s
}

// ServeHTTP serves the API and the sandbox-only endpoints.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Kit returns the shared machinery: ledger, faults, clock, notifier.
func (s *Sandbox) Kit() *sandboxkit.Kit { return s.kit }

// SetWebhookURL changes where notifications go.
func (s *Sandbox) SetWebhookURL(u string) {
	s.mu.Lock()
	s.webhook = u
	s.mu.Unlock()
}

// Close stops deliveries and scheduled work.
func (s *Sandbox) Close() { s.kit.Close() }

func (s *Sandbox) webhookURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook
}

func (s *Sandbox) processingDelay() time.Duration {
	if d := s.kit.Faults().ProcessingDelay; d > 0 {
		return d
	}
	return s.delay
}

// newID returns the next numeric Id; s.mu held.
func (s *Sandbox) newID() int64 {
	s.nextID++
	return s.nextID
}

// rateLimited is Monnet's 429, in its error shape.
func rateLimited(w http.ResponseWriter, ra time.Duration) {
	secs := int((ra + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "429", "Too Many Requests")
}

func unavailable(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, "503", "Service Unavailable")
}

// writeError writes Monnet's API error shape: code plus an array of messages.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorAnswer{Code: code, Message: []string{msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authed checks Monnet's HMAC scheme: merchantId in the path, the
// monnet-api-key header, and timestamp and signature query parameters over
// METHOD:path?timestamp=ts:sha256(body). Monnet documents no timestamp
// window, so none is enforced.
func (s *Sandbox) authed(next func(http.ResponseWriter, *http.Request, []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "1032", "Missing field")
			return
		}
		q := r.URL.Query()
		ok := r.PathValue("merchantId") == s.creds.MerchantID &&
			r.Header.Get("monnet-api-key") == s.creds.APIKey &&
			validRequestSignature(s.creds.APISecret, r.Method, r.URL.EscapedPath(), q.Get("timestamp"), body, q.Get("signature"))
		if !ok {
			writeError(w, http.StatusUnauthorized, codeAuth, "Missing or invalid Authentication")
			return
		}
		next(w, r, body)
	}
}

// baseURL is the sandbox's own address as the client reached it, for
// iframe and payment link URLs.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Sandbox) setBalance(w http.ResponseWriter, r *http.Request) {
	cur := r.URL.Query().Get("currency")
	minor, err := strconv.ParseInt(r.URL.Query().Get("minor"), 10, 64)
	if cur == "" || err != nil || minor < 0 {
		http.Error(w, "balance: currency and minor (>= 0) are required", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.balances[cur] = minor
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int64{cur: minor})
}

// getBalance answers as the Get Balance page's schema says: an array of
// arrays of {country, currency, availableBalance, balance}, minor units.
func (s *Sandbox) getBalance(w http.ResponseWriter, r *http.Request, _ []byte) {
	s.mu.Lock()
	var items []balanceItem
	for _, cur := range []string{"PEN", "USD"} {
		items = append(items, balanceItem{Country: "PER", Currency: cur, AvailableBalance: s.balances[cur], Balance: s.balances[cur]})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, [][]balanceItem{items})
}

package sandbox

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// Options configure one sandbox instance.
type Options struct {
	// Name is "bank131" or "smartglocal"; it selects the retry policy of
	// webhooks and how a reversal is reported.
	Name string
	// WebhookURL receives the signed webhooks ("" sends none until
	// SetWebhookURL).
	WebhookURL string
	// Seed makes the probabilistic faults repeatable.
	Seed uint64
	// ProcessingDelay is the sandbox time between steps (start -> ready_to_confirm,
	// confirm -> payment_finished, success -> refund). Zero means 2 s;
	// Faults.ProcessingDelay overrides it when set.
	ProcessingDelay time.Duration
	// Credentials are the keys; the zero value generates fresh ones.
	Credentials Credentials
	// WidgetTokenLifetime is how long a public token from POST /token
	// opens the tokenization widget (sandbox time); zero means
	// DefaultWidgetTokenLifetime.
	WidgetTokenLifetime time.Duration
	// StrictTokens refuses card hashes the widget never issued (in
	// session/start/payout, session/init/payout and token/info), as the
	// real provider would; off, any well-formed hash stands for some card.
	StrictTokens bool
}

// DefaultWidgetTokenLifetime is the sandbox's public token lifetime when
// Options leave it unset.
const DefaultWidgetTokenLifetime = 24 * time.Hour

// DefaultProcessingDelay is used when neither Options nor Faults set one.
const DefaultProcessingDelay = 2 * time.Second

// Sandbox is the stand-in for Bank 131's or Smart Glocal's session API. It
// is an http.Handler serving /api/v1/... (and /api/v2/...) and the
// sandbox-only endpoints under /_sandbox/.
type Sandbox struct {
	name    string
	creds   Credentials
	kit     *sandboxkit.Kit
	handler http.Handler
	delay   time.Duration

	mu         sync.Mutex
	webhookURL string
	sessions   map[string]*sessionState
	order      []string
	idem       map[string]bool
	tokens     map[string]token
	seq        int
	base       int

	widgetLifetime time.Duration
	strictTokens   bool
	// publicTokens are the widget's public tokens, by token.
	publicTokens map[string]*publicToken
	widget       http.Handler
}

type token struct{ last4, brand string }

type sessionState struct {
	id         string
	status     string // created, in_progress, accepted, cancelled, error
	nextAction string
	created    time.Time
	updated    time.Time
	amount     *amountJSON
	metadata   json.RawMessage
	payment    *paymentState
	confirmed  bool
}

type paymentState struct {
	id           string
	status       string // in_progress, pending, succeeded, failed
	created      time.Time
	updated      time.Time
	reference    string // the merchant reference in the ledger
	customerRef  string
	metadata     json.RawMessage
	last4, brand string
	fullName     string
	amount       amountJSON
	err          *errorJSON
	refund       *refundJSON
	rule         sandboxkit.Rule
	hasRule      bool
}

// New returns a sandbox. Close it when done.
func New(o Options) *Sandbox {
	name := o.Name
	if name == "" {
		name = "bank131"
	}
	creds := o.Credentials
	if !creds.valid() {
		var err error
		if creds, err = NewCredentials(); err != nil {
			panic("bank131 sandbox: " + err.Error())
		}
	}
	delay := o.ProcessingDelay
	if delay <= 0 {
		delay = DefaultProcessingDelay
	}
	s := &Sandbox{
		name:       name,
		creds:      creds,
		kit:        sandboxkit.New(sandboxkit.Options{Name: name, Seed: o.Seed}),
		delay:      delay,
		webhookURL: o.WebhookURL,
		sessions:   map[string]*sessionState{},
		idem:       map[string]bool{},
		tokens:     map[string]token{},

		widgetLifetime: o.WidgetTokenLifetime,
		strictTokens:   o.StrictTokens,
		publicTokens:   map[string]*publicToken{},
	}
	if s.widgetLifetime <= 0 {
		s.widgetLifetime = DefaultWidgetTokenLifetime
	}
	s.base = 10000 + s.kit.Intn(90000)*10
	s.kit.Notifier.Policy = retryPolicy(name)

	mux := http.NewServeMux()
	for _, m := range []struct {
		path string
		h    func(*http.Request, []byte) (int, any, bool)
	}{
		{"token", s.issueToken},
		{"session/init/payout", s.initPayout},
		{"session/create", s.create},
		{"session/start/payout", s.startPayout},
		{"session/confirm", s.confirm},
		{"session/cancel", s.cancel},
		{"session/status", s.status},
		{"token/info", s.tokenInfo},
	} {
		h := m.h
		mux.HandleFunc("POST /api/{version}/"+m.path, func(w http.ResponseWriter, r *http.Request) { s.serveAPI(w, r, h) })
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errAnswer("not_found", "no such method"))
	})
	mux.HandleFunc("POST /_sandbox/tokens", s.mintHandler)
	mux.HandleFunc("GET /_sandbox/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Sessions())
	})
	mux.Handle("/_sandbox/", s.kit.AdminHandler())
	s.handler = s.kit.Wrap(mux, write429, write5xx)
	s.widget = s.widgetHandler()
	return s
}

// retryPolicy: Bank 131 resends "at increasing intervals until answered";
// Smart Glocal retries with growing intervals of at most 15 minutes and
// gives up 30 minutes after the first attempt (PROVIDERS.md 4.3).
func retryPolicy(name string) sandboxkit.RetryPolicy {
	p := sandboxkit.DefaultRetry
	if name == "smartglocal" {
		p = sandboxkit.RetryPolicy{
			Backoff: func(n int) time.Duration {
				return min(time.Second<<min(n-1, 10), 15*time.Minute)
			},
			GiveUpAfter: 30 * time.Minute,
		}
	}
	return p
}

// ServeHTTP serves the session API and /_sandbox/, and the tokenization
// widget under /widget/: the widget stands in for the provider's own
// script host, so the API's transport faults do not apply to it.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/widget/") {
		s.widget.ServeHTTP(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

// Kit returns the shared machinery: ledger, faults, clock, notifier.
func (s *Sandbox) Kit() *sandboxkit.Kit { return s.kit }

// Credentials returns the instance's keys.
func (s *Sandbox) Credentials() Credentials { return s.creds }

// Name returns "bank131" or "smartglocal".
func (s *Sandbox) Name() string { return s.name }

// SetWebhookURL changes where webhooks go.
func (s *Sandbox) SetWebhookURL(u string) {
	s.mu.Lock()
	s.webhookURL = u
	s.mu.Unlock()
}

// Close stops scheduled work and webhook deliveries.
func (s *Sandbox) Close() { s.kit.Close() }

// SessionInfo is a session as the sandbox-only listing shows it.
type SessionInfo struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	NextAction    string `json:"next_action,omitempty"`
	PaymentID     string `json:"payment_id,omitempty"`
	PaymentStatus string `json:"payment_status,omitempty"`
	Reference     string `json:"reference,omitempty"`
}

// Sessions lists every session in creation order.
func (s *Sandbox) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionInfo, 0, len(s.order))
	for _, id := range s.order {
		ss := s.sessions[id]
		si := SessionInfo{ID: ss.id, Status: ss.status, NextAction: ss.nextAction, Reference: reference(ss.metadata)}
		if p := ss.payment; p != nil {
			si.PaymentID, si.PaymentStatus, si.Reference = p.id, p.status, p.reference
		}
		out = append(out, si)
	}
	return out
}

func (s *Sandbox) processingDelay() time.Duration {
	if d := s.kit.Faults().ProcessingDelay; d > 0 {
		return d
	}
	return s.delay
}

// serveAPI authenticates a request as the provider does, runs the method
// and answers. A method's third result asks for the response to be dropped
// after processing (the "timeout" outcome rule).
func (s *Sandbox) serveAPI(w http.ResponseWriter, r *http.Request, h func(*http.Request, []byte) (int, any, bool)) {
	if v := r.PathValue("version"); v != "v1" && v != "v2" {
		writeJSON(w, http.StatusNotFound, errAnswer("not_found", "unknown API version "+v))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errAnswer("invalid_request", "body too large or unreadable"))
		return
	}
	if r.Header.Get("X-PARTNER-PROJECT") != s.creds.Project {
		writeJSON(w, http.StatusUnauthorized, errAnswer("invalid_project", "unknown X-PARTNER-PROJECT"))
		return
	}
	if !verify(&s.creds.MerchantKey.PublicKey, body, r.Header.Get("X-PARTNER-SIGN")) {
		writeJSON(w, http.StatusForbidden, errAnswer("invalid_signature", "X-PARTNER-SIGN does not match the request body"))
		return
	}
	code, out, drop := h(r, body)
	if drop {
		sandboxkit.DropConnection(w)
		return
	}
	writeJSON(w, code, out)
}

// idempotent runs f unless key was used by a request that was processed;
// a key is remembered only when f succeeds, so a refused request may be
// corrected and sent again with the same key. Callers hold s.mu.
func (s *Sandbox) idempotent(r *http.Request, f func() (int, any, bool)) (int, any, bool) {
	key := r.Header.Get("X-PARTNER-IDEMPOTENCY-KEY")
	if key != "" && s.idem[key] {
		return http.StatusBadRequest, errAnswer("idempotency_key_already_exists", "a request with this idempotency key is already in progress or processed"), false
	}
	code, out, drop := f()
	if key != "" && code < 300 {
		s.idem[key] = true
	}
	return code, out, drop
}

func (s *Sandbox) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_%d", prefix, s.base+s.seq)
}

func errAnswer(code, desc string) errorAnswer {
	return errorAnswer{Status: "error", Error: errorJSON{Code: code, Description: desc}}
}

func bad(code, desc string) (int, any, bool) {
	return http.StatusBadRequest, errAnswer(code, desc), false
}

func ok(ss *sessionState) (int, any, bool) {
	w := ss.wire()
	return http.StatusOK, okJSON{Status: "ok", Session: &w}, false
}

// decode reads a request body: member names case-sensitively (the
// documents spell them in snake_case), members it does not know ignored.
func decode(body []byte, v any) bool { return jsonv2.Unmarshal(body, v) == nil }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func write429(w http.ResponseWriter, ra time.Duration) {
	secs := int((ra + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", fmt.Sprint(max(secs, 1)))
	writeJSON(w, http.StatusTooManyRequests, errAnswer("too_many_requests", "request rate limit exceeded"))
}

func write5xx(w http.ResponseWriter) {
	writeJSON(w, http.StatusServiceUnavailable, errAnswer("service_unavailable", "service temporarily unavailable"))
}

func sign(key *rsa.PrivateKey, body []byte) string {
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		panic("bank131 sandbox: sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func verify(key *rsa.PublicKey, body []byte, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(raw) == 0 {
		return false
	}
	sum := sha256.Sum256(body)
	return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], raw) == nil
}

const timeFormat = "2006-01-02T15:04:05.000000Z"

func ts(t time.Time) string { return t.UTC().Format(timeFormat) }

func (ss *sessionState) wire() sessionJSON {
	w := sessionJSON{
		ID: ss.id, Status: ss.status, CreatedAt: ts(ss.created), UpdatedAt: ts(ss.updated),
		NextAction: ss.nextAction, AmountDetails: ss.amount, Metadata: ss.metadata,
	}
	if p := ss.payment; p != nil {
		pw := paymentJSON{
			ID: p.id, Status: p.status, CreatedAt: ts(p.created), UpdatedAt: ts(p.updated),
			PaymentMethod: methodJSON{Type: "card", Card: &cardJSON{Last4: p.last4, Brand: p.brand}},
			AmountDetails: p.amount, Metadata: p.metadata, Error: p.err,
		}
		if p.customerRef != "" {
			pw.Customer = &customerJSON{Reference: p.customerRef}
		}
		if p.fullName != "" {
			pw.ParticipantDetails = &participantsJSON{Recipient: &personJSON{FullName: p.fullName}}
		}
		if p.refund != nil {
			pw.Refunds = []refundJSON{*p.refund}
		}
		w.Payments = []paymentJSON{pw}
	}
	return w
}

package collect

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Collector is what a provider offers for card collection (bank131.Client
// does, for Bank 131 and Smart Glocal): the widget's script, and the
// check of a card hash the widget issued (token/info), which answers the
// card's last four digits.
type Collector interface {
	WidgetURL() string
	CheckCardHash(ctx context.Context, hash string) (last4 string, err error)
}

// Sender queues a collected payout and sends it (dispatch.Dispatcher).
type Sender interface {
	Collected(ctx context.Context, payoutID, cardToken, recipient string) error
	SendNow(ctx context.Context, payoutID string) error
}

var _ Sender = (*dispatch.Dispatcher)(nil)

// PageOptions configure the beneficiary page.
type PageOptions struct {
	Journal   journal.Journal
	Providers map[string]providers.Provider
	Sender    Sender
	Signer    *Signer
	Lifetimes Lifetimes
	// Payer is the name the beneficiary sees.
	Payer    string
	Location *time.Location
	Now      func() time.Time
	Log      *slog.Logger
	// RequestTimeout bounds the provider's token/info (default 30 s).
	RequestTimeout time.Duration
}

// Page serves one page per payout waiting for its beneficiary's card, at
// its signed link (Signer). GET shows the payout (amount, currency,
// payer) and the provider's tokenization widget, initialised with the
// payout's public token; the widget hands the page the card's hashes,
// never the card, and the page posts them back to the same link. POST
// checks the hash with the provider (token/info: the card's last four
// digits, shown back and kept), journals it and queues the payout
// (dispatch.Collected), then sends it in the background: the usual
// two-phase path follows.
//
// A link that is forged, for an unknown payout, expired, replaced, used
// already, or for a payout paid, failed or cancelled, answers with a page
// that says so and changes nothing. The page runs no script but its own
// (allowed by hash) and the widget's (allowed by origin); its form is
// protected by a cookie and a token derived from it under the link key,
// and by the request's origin.
type Page struct {
	o PageOptions

	mu   sync.Mutex
	root context.Context
	wg   sync.WaitGroup
}

// NewPage returns the page handler. Start gives it the context its
// background sends run under; Stop waits for them.
func NewPage(o PageOptions) *Page {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Payer == "" {
		o.Payer = "The payer"
	}
	return &Page{o: o, root: context.Background()}
}

// Start sets the context background sends run under.
func (p *Page) Start(ctx context.Context) {
	p.mu.Lock()
	p.root = ctx
	p.mu.Unlock()
}

// Wait waits for the background sends started so far.
func (p *Page) Wait() { p.wg.Wait() }

const csrfCookie = "payrun_collect"

// ServeHTTP serves GET and POST on /collect/{payout_id}.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), PathPrefix))
	if err != nil || id == "" || !strings.HasPrefix(r.URL.Path, PathPrefix) {
		p.render(w, http.StatusNotFound, view{Outcome: "invalid"})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		p.show(w, r, id)
	case http.MethodPost:
		p.receive(w, r, id)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// view is what the page template shows.
type view struct {
	Outcome     string // form, received, used, paid, expired, closed, invalid, retry
	Payer       string
	Beneficiary string
	Amount      string
	Currency    string
	PayoutID    string
	Expires     string
	Last4       string
	Message     string
	// The form.
	Action      string
	PublicToken string
	CSRF        string
	WidgetURL   string
	Style       template.CSS
	Script      template.JS
}

// target is a payout whose link checked out.
type target struct {
	it      journal.Item
	coll    Collector
	expires time.Time
}

// check verifies the link and finds its payout; it answers the page to
// show instead when the link cannot be used.
func (p *Page) check(ctx context.Context, r *http.Request, id string) (target, *view, int) {
	q := r.URL.Query()
	exp, ok := p.o.Signer.Check(id, q.Get("e"), q.Get("s"))
	if !ok {
		return target{}, &view{Outcome: "invalid"}, http.StatusNotFound
	}
	it, err := p.o.Journal.Item(ctx, id)
	if errors.Is(err, journal.ErrNotFound) {
		return target{}, &view{Outcome: "invalid"}, http.StatusNotFound
	}
	if err != nil {
		p.o.Log.Error("collect page: journal", "payout", id, "err", err)
		return target{}, &view{Outcome: "retry", Message: "The page cannot be shown right now; try again in a few minutes."}, http.StatusServiceUnavailable
	}
	v := p.describe(it, exp)
	prov := p.o.Providers[it.Provider]
	coll, isColl := prov.(Collector)
	if !isColl || it.Payout.Method != providers.CardToken {
		v.Outcome = "invalid"
		return target{}, &v, http.StatusNotFound
	}
	if !exp.Equal(p.o.Lifetimes.Expiry(it)) {
		v.Outcome = "expired" // a link of another expiry than the payout's: not its live link
		return target{}, &v, http.StatusGone
	}
	switch it.State {
	case journal.AwaitingBeneficiary:
		if it.Payout.Beneficiary.CardToken != "" {
			v.Outcome = "used"
			return target{}, &v, http.StatusConflict
		}
	case journal.Succeeded, journal.Mismatch, journal.Reversed:
		v.Outcome = "paid"
		return target{}, &v, http.StatusGone
	case journal.Expired:
		v.Outcome = "expired"
		return target{}, &v, http.StatusGone
	case journal.Failed, journal.Cancelled, journal.Held:
		v.Outcome = "closed"
		return target{}, &v, http.StatusGone
	default:
		v.Outcome = "used"
		if it.Payout.Beneficiary.CardToken == "" {
			// Not sent yet, or being sent: its link is not ready.
			v.Outcome = "retry"
			v.Message = "This payment is being prepared; try again in a few minutes."
			return target{}, &v, http.StatusServiceUnavailable
		}
		return target{}, &v, http.StatusConflict
	}
	if !p.o.Now().Before(exp) {
		v.Outcome = "expired"
		return target{}, &v, http.StatusGone
	}
	if it.Refs.ProviderID == "" || coll.WidgetURL() == "" {
		v.Outcome = "retry"
		v.Message = "This payment is being prepared; try again in a few minutes."
		return target{}, &v, http.StatusServiceUnavailable
	}
	return target{it: it, coll: coll, expires: exp}, nil, 0
}

func (p *Page) describe(it journal.Item, exp time.Time) view {
	v := view{Payer: p.o.Payer, Beneficiary: it.Payout.Beneficiary.FullName(), Amount: it.Payout.Amount.Decimal(),
		Currency: it.Payout.Amount.Currency, PayoutID: it.PayoutID, Expires: exp.In(p.o.Location).Format("2006-01-02 15:04 MST")}
	if r := it.Last.Recipient; strings.HasPrefix(r, "card *") && len(r) >= 10 {
		v.Last4 = r[6:10]
	}
	return v
}

func (p *Page) show(w http.ResponseWriter, r *http.Request, id string) {
	t, v, code := p.check(r.Context(), r, id)
	if v != nil {
		p.render(w, code, *v)
		return
	}
	cookie := randomToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: cookie, Path: PathPrefix, HttpOnly: true,
		Secure: strings.HasPrefix(p.o.Signer.base, "https://"), SameSite: http.SameSiteStrictMode, Expires: t.expires})
	fv := p.describe(t.it, t.expires)
	fv.Outcome = "form"
	fv.Action = r.URL.RequestURI()
	fv.PublicToken = t.it.Refs.ProviderID
	fv.CSRF = p.o.Signer.csrf(id, cookie)
	fv.WidgetURL = t.coll.WidgetURL()
	p.render(w, http.StatusOK, fv)
}

// cardHashes are the fields the widget hands the page (the encrypted_card
// object of the session API).
var cardHashes = []string{"number_hash", "expiration_date_hash", "cardholder_name_hash", "security_code_hash"}

func (p *Page) receive(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	if !p.sameOrigin(r) {
		p.render(w, http.StatusForbidden, view{Outcome: "invalid", Message: "This form was sent from another site."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		p.render(w, http.StatusBadRequest, view{Outcome: "invalid"})
		return
	}
	t, v, code := p.check(ctx, r, id)
	if v != nil {
		p.render(w, code, *v)
		return
	}
	retry := p.describe(t.it, t.expires)
	retry.Outcome = "retry"
	c, err := r.Cookie(csrfCookie)
	if err != nil || !constantEqual(r.PostForm.Get("csrf"), p.o.Signer.csrf(id, c.Value)) {
		retry.Message = "This form has expired in your browser. Open the link again to give your card."
		p.render(w, http.StatusForbidden, retry)
		return
	}
	hash := strings.ToLower(strings.TrimSpace(r.PostForm.Get("number_hash")))
	for _, k := range cardHashes {
		if val := r.PostForm.Get(k); (val != "" && !hex64(val)) || (k == "number_hash" && !hex64(hash)) {
			retry.Message = "The card form did not complete. Open the link again to give your card."
			p.render(w, http.StatusBadRequest, retry)
			return
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.RequestTimeout)
	last4, err := t.coll.CheckCardHash(cctx, hash)
	cancel()
	if err != nil {
		p.o.Log.Warn("collect page: the provider did not confirm the card", "payout", id, "provider", t.it.Provider, "err", err)
		retry.Message = "Your card could not be confirmed with the payment provider. Open the link again to try once more."
		code := http.StatusBadGateway
		if errors.Is(err, providers.ErrRejected) || errors.Is(err, providers.ErrNotFound) {
			code = http.StatusBadRequest
		}
		p.render(w, code, retry)
		return
	}
	recipient := "card *" + last4
	if err := p.o.Sender.Collected(context.WithoutCancel(ctx), id, hash, recipient); err != nil {
		if errors.Is(err, dispatch.ErrNotWaiting) {
			// Used meanwhile (another tab), or expired: say what it is now.
			if _, v, code := p.check(ctx, r, id); v != nil {
				p.render(w, code, *v)
				return
			}
		}
		p.o.Log.Error("collect page: journal", "payout", id, "err", err)
		retry.Message = "Your card could not be recorded right now. Open the link again in a few minutes."
		p.render(w, http.StatusServiceUnavailable, retry)
		return
	}
	p.o.Log.Info("beneficiary gave a card", "payout", id, "provider", t.it.Provider, "card", recipient)
	p.send(id)
	done := p.describe(t.it, t.expires)
	done.Outcome, done.Last4 = "received", last4
	p.render(w, http.StatusOK, done)
}

// send sends a collected payout now, in the background: the beneficiary
// has what they need to know, and a payout left queued by a stop is sent
// by the next dispatch pass.
func (p *Page) send(id string) {
	p.mu.Lock()
	root := p.root
	p.mu.Unlock()
	p.wg.Go(func() {
		if err := p.o.Sender.SendNow(root, id); err != nil && root.Err() == nil {
			p.o.Log.Warn("collected payout not sent yet; the next dispatch pass sends it", "payout", id, "err", err)
		}
	})
}

// sameOrigin refuses a post another site's page made: the browser's
// Sec-Fetch-Site, or its Origin where it sends no Sec-Fetch-Site, names
// where the form was. (The page's Referrer-Policy, same-origin, keeps the
// link, signature and all, from the widget's host, and lets the browser
// name the page's own origin.) A client that sends neither is no browser a
// page could drive; the form's token still binds its post to the page it
// read.
func (p *Page) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	pu, err := url.Parse(p.o.Signer.base)
	if err != nil {
		return false
	}
	return strings.EqualFold(origin, pu.Scheme+"://"+pu.Host) || strings.EqualFold(origin, "http://"+r.Host) || strings.EqualFold(origin, "https://"+r.Host)
}

func hex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func constantEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var d byte
	for i := 0; i < len(a); i++ {
		d |= a[i] ^ b[i]
	}
	return d == 0
}

func randomToken() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// csp allows the page's own style and script (by hash), the widget's
// script and frame (by origin), posts to itself only, and nothing else.
func csp(widgetURL string) string {
	script, frame := cspHash(pageScript), "'none'"
	if u, err := url.Parse(widgetURL); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
		origin := u.Scheme + "://" + u.Host
		script += " " + origin
		frame = origin
	}
	return "default-src 'none'; style-src " + cspHash(pageStyle) + "; script-src " + script + "; frame-src " + frame +
		"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

func (p *Page) render(w http.ResponseWriter, code int, v view) {
	if v.Payer == "" {
		v.Payer = p.o.Payer
	}
	v.Style, v.Script = template.CSS(pageStyle), template.JS(pageScript)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		p.o.Log.Error("collect page: render", "err", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp(v.WidgetURL))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

package reconcile

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// WebhookPattern is the route the Receiver serves (Go 1.22 mux pattern).
const WebhookPattern = "POST /webhooks/{provider}"

// DefaultMaxBody caps a webhook body when ReceiverOptions.MaxBody is zero.
const DefaultMaxBody = 256 << 10

// confirmTimeout bounds the status query that confirms an unverified
// notification; the provider sends the notification again if it fails.
const confirmTimeout = 30 * time.Second

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// MaxBody caps a body in bytes; beyond it the answer is 413.
	MaxBody int64
	// Now is payrun's clock (TeemoPay's timestamp window uses it).
	Now func() time.Time
	Log *slog.Logger
	// Observe, when set, is told about every request: the provider (as in
	// the path, or UnknownProvider for a name that is none of the
	// receiver's), the HTTP status answered and how long it took.
	Observe func(provider string, status int, d time.Duration)
	// Settle, when set, runs the confirm rule of a two-phase payout whose
	// notification says it waits for confirmation (the dispatcher's
	// SettleLater: within the provider's budget, without holding up the
	// events behind it). Nil runs dispatch.Settle in the Applier.
	Settle Settler
}

// Receiver serves POST /webhooks/{provider} for every configured provider.
//
// The order is the rule: an unknown provider is 404 and an oversized body
// 413 before anything is read; the provider verifies the request with its
// own scheme before anything in it is believed (401, nothing changes), and
// a notification the provider sent without proof of origin is replaced by
// the provider's answer to a status query (providers.ConfirmByLookup; 401
// for a payout it does not know, 503 while it cannot be asked);
// each raw event is made durable in the journal before the
// acknowledgement (a request replayed verbatim changes nothing, and is
// acknowledged as its first delivery was); then the
// provider gets exactly the acknowledgement it expects. A journal failure
// answers 500, so that the provider retries and nothing it said is lost.
//
// The receiver's Applier then applies the queued events by the ordering
// rules, in the order they came, many to a transaction: a duplicate
// delivery once, final states never regress, a Monnet 2005 notice never
// touches the original, a payout payrun never sent is kept as unexpected.
// So a provider waits for a verification and one group commit of the
// journal, and a storm of notifications is applied in large transactions.
// Drain
// waits for what was acknowledged to be applied.
type Receiver struct {
	j     journal.Journal
	provs map[string]providers.Provider
	o     ReceiverOptions
	log   *slog.Logger
	app   *Applier
}

// NewReceiver returns a Receiver over the journal and the configured
// providers; it starts nothing. Start starts its Applier, which first
// applies whatever an earlier process acknowledged and did not apply; a
// delivery taken before Start is persisted and acknowledged, and waits in
// the queue.
func NewReceiver(j journal.Journal, provs map[string]providers.Provider, o ReceiverOptions) *Receiver {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	app := NewApplier(j, provs, log)
	app.settler = o.Settle
	return &Receiver{j: j, provs: provs, o: o, log: log, app: app}
}

// Start starts the Applier.
func (rc *Receiver) Start(ctx context.Context) error { return rc.app.Start(ctx) }

// Drain returns once every event acknowledged so far is applied (see
// Applier.Drain).
func (rc *Receiver) Drain(ctx context.Context) error { return rc.app.Drain(ctx) }

// Stop stops the Applier after the transaction in progress. What is still
// queued stays in the journal for the next Receiver or Applier. Stop the
// HTTP server first: a delivery after Stop is persisted and acknowledged,
// and waits in the queue.
func (rc *Receiver) Stop() { rc.app.Stop() }

// Handler returns a mux serving WebhookPattern, for callers that mount the
// receiver under a prefix of their own.
func (rc *Receiver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(WebhookPattern, rc)
	return mux
}

// ServeHTTP handles one notification.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	name := r.PathValue("provider")
	if name == "" {
		name = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	status := rc.serve(w, r, name)
	if rc.o.Observe != nil {
		if _, ok := rc.provs[name]; !ok {
			// Whoever reaches the receiver chooses the path: what it
			// writes there (a card number, a new name on every request)
			// is neither a metric's label nor a series of its own.
			name = UnknownProvider
		}
		rc.o.Observe(name, status, time.Since(start))
	}
}

// UnknownProvider is the provider a request for no provider of the
// receiver's is observed under.
const UnknownProvider = "unknown"

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request, name string) int {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return plain(w, http.StatusMethodNotAllowed, "POST only")
	}
	p, ok := rc.provs[name]
	if !ok {
		return plain(w, http.StatusNotFound, "unknown provider")
	}
	if r.ContentLength > rc.o.MaxBody {
		return plain(w, http.StatusRequestEntityTooLarge, "body too large")
	}
	body, err := readBody(w, r, rc.o.MaxBody)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return plain(w, http.StatusRequestEntityTooLarge, "body too large")
		}
		return plain(w, http.StatusBadRequest, "cannot read body")
	}
	received := rc.o.Now()
	res, err := p.ParseWebhook(providers.WebhookRequest{Header: r.Header, Body: body, Received: received})
	switch {
	case errors.Is(err, providers.ErrSignature), errors.Is(err, providers.ErrReplay):
		rc.log.Warn("webhook refused", "provider", name, "err", err, "remote", r.RemoteAddr)
		return plain(w, http.StatusUnauthorized, "verification failed")
	case err != nil:
		rc.log.Warn("webhook not understood", "provider", name, "err", err)
		return plain(w, http.StatusBadRequest, "notification not understood")
	}
	if res.Unverified {
		// Sent without the provider's proof of origin (Monnet Payin's
		// empty payinVerification): it only names a payout, and what is
		// kept is the provider's answer to a status query, never the claim.
		ctx, cancel := context.WithTimeout(r.Context(), confirmTimeout)
		res, err = providers.ConfirmByLookup(ctx, p, res)
		cancel()
		switch {
		case errors.Is(err, providers.ErrSignature):
			rc.log.Warn("unverified webhook refused", "provider", name, "err", err, "remote", r.RemoteAddr)
			return plain(w, http.StatusUnauthorized, "verification failed")
		case err != nil:
			rc.log.Warn("unverified webhook not confirmed yet", "provider", name, "err", err)
			return plain(w, http.StatusServiceUnavailable, "not confirmed yet")
		}
	}
	// Every raw event is persisted, and queued for the Applier, before
	// anything is acknowledged; the replay key goes with the first, so a
	// request replayed verbatim changes nothing. It is acknowledged all the
	// same: a provider that sends a notification again with its original
	// nonce (TeemoPay retries verbatim) is retrying one whose answer it
	// lost, and what it says is stored already; refusing it would only make
	// the provider retry until it gives up.
	replay, fresh, err := rc.j.Persist(r.Context(), NewReceipt(name, res, body, received))
	if err != nil {
		rc.log.Error("webhook not persisted", "provider", name, "err", err)
		return plain(w, http.StatusInternalServerError, "not persisted")
	}
	if replay {
		rc.log.Debug("webhook sent again verbatim: stored before, nothing changes", "provider", name)
		return res.Ack.Write(w)
	}
	if fresh > 0 {
		rc.app.Kick()
	}
	return res.Ack.Write(w)
}

// NewReceipt is what the receiver persists of a verified notification from
// provider name: each raw event (with the body it came in, received at
// received) and its fact, and the replay key.
func NewReceipt(name string, res providers.WebhookResult, body []byte, received time.Time) journal.Receipt {
	rec := journal.Receipt{ReplayKey: res.ReplayKey, Events: make([]journal.Event, len(res.Events)), Facts: make([]journal.EventFact, len(res.Events))}
	for i, ev := range res.Events {
		rec.Events[i] = journal.Event{Provider: name, ID: ev.ID, PayoutID: ev.Status.Refs.PayoutID, Type: ev.Type,
			Received: received.UTC(), Body: body}
		rec.Facts[i] = journal.EventFact{Provider: name, EventID: ev.ID, Status: ev.Status, DuplicateNotice: ev.DuplicateNotice}
	}
	return rec
}

// maxUpfront bounds what readBody allocates before any byte has come.
const maxUpfront = 64 << 10

// readBody reads r's body, at most max bytes (a MaxBytesError beyond). A
// body that states its length (up to maxUpfront) is read into a buffer of
// that size, in one allocation.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	rd := http.MaxBytesReader(w, r.Body, max)
	if r.ContentLength <= 0 {
		return io.ReadAll(rd)
	}
	// One byte more than stated, so that a body longer than it says is
	// read (and refused if beyond max) rather than cut; a large stated
	// length gets its buffer as the bytes come, not before.
	buf := make([]byte, 0, min(r.ContentLength+1, maxUpfront))
	for {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

func plain(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
	return status
}

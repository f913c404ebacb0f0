package reconcile

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/providers"
)

// WebhookPattern is the route the Receiver serves (Go 1.22 mux pattern).
const WebhookPattern = "POST /webhooks/{provider}"

// DefaultMaxBody caps a webhook body when ReceiverOptions.MaxBody is zero.
const DefaultMaxBody = 256 << 10

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// MaxBody caps a body in bytes; beyond it the answer is 413.
	MaxBody int64
	// Now is payrun's clock (TeemoPay's timestamp window uses it).
	Now func() time.Time
	Log *slog.Logger
	// Observe, when set, is told about every request: the provider (as in
	// the path), the HTTP status answered and how long it took.
	Observe func(provider string, status int, d time.Duration)
}

// Receiver serves POST /webhooks/{provider} for every configured provider.
//
// The order is the rule: an unknown provider is 404 and an oversized body
// 413 before anything is read; the provider verifies the request with its
// own scheme before anything in it is believed (401, nothing changes); each
// raw event is persisted in the journal before the acknowledgement (a
// replayed nonce is 401, nothing changes); then each event is applied by
// the ordering rules (a duplicate delivery once, final states never
// regress, a Monnet 2005 notice never touches the original, a payout
// payrun never sent is kept as unexpected); then the provider gets exactly
// the acknowledgement it expects. A journal failure answers 500, so that
// the provider retries and nothing it said is lost.
type Receiver struct {
	j     *batch.Journal
	provs map[string]providers.Provider
	o     ReceiverOptions
	log   *slog.Logger
	seed  maphash.Seed
	// locks serialise the application of one event id (a duplicate
	// delivery racing its original), striped to bound memory.
	locks [256]sync.Mutex
}

// NewReceiver returns a Receiver over the journal and the configured
// providers.
func NewReceiver(j *batch.Journal, provs map[string]providers.Provider, o ReceiverOptions) *Receiver {
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
	return &Receiver{j: j, provs: provs, o: o, log: log, seed: maphash.MakeSeed()}
}

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
		rc.o.Observe(name, status, time.Since(start))
	}
}

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
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.o.MaxBody))
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
	// Persist every raw event before anything is acknowledged. The replay
	// key goes with the first event: a request replayed verbatim is
	// refused before any of its events is stored.
	fresh := make([]bool, len(res.Events))
	for i, ev := range res.Events {
		key := ""
		if i == 0 {
			key = res.ReplayKey
		}
		isNew, replay, err := rc.j.RecordEvent(batch.Event{Provider: name, ID: ev.ID, PayoutID: ev.Status.Refs.PayoutID,
			Type: ev.Type, Received: received.UTC(), Body: body}, key)
		if err != nil {
			rc.log.Error("webhook not persisted", "provider", name, "event", ev.ID, "err", err)
			return plain(w, http.StatusInternalServerError, "not persisted")
		}
		if replay {
			rc.log.Warn("webhook replayed", "provider", name, "event", ev.ID)
			return plain(w, http.StatusUnauthorized, "replayed notification")
		}
		fresh[i] = isNew
	}
	for i, ev := range res.Events {
		if err := rc.apply(r.Context(), p, ev, fresh[i]); err != nil {
			rc.log.Error("webhook persisted, not applied yet", "provider", name, "event", ev.ID, "err", err)
			return plain(w, http.StatusInternalServerError, "not applied")
		}
	}
	ack := res.Ack
	if ack.StatusCode == 0 {
		ack = providers.OK()
	}
	if ack.ContentType != "" {
		w.Header().Set("Content-Type", ack.ContentType)
	}
	w.WriteHeader(ack.StatusCode)
	_, _ = w.Write(ack.Body)
	return ack.StatusCode
}

// apply applies one persisted event, once: a repeated delivery of an event
// already applied (or kept with a note) changes nothing.
func (rc *Receiver) apply(ctx context.Context, p providers.Provider, ev providers.Event, fresh bool) error {
	mu := &rc.locks[maphash.String(rc.seed, ev.ID)%uint64(len(rc.locks))]
	mu.Lock()
	defer mu.Unlock()
	name := p.Name()
	if !fresh {
		stored, ok, err := rc.j.Event(name, ev.ID)
		if err != nil {
			return err
		}
		if ok && (stored.Applied || stored.Note != "") {
			return nil // a duplicate delivery: applied once already
		}
		// Persisted by an earlier delivery that failed before applying it.
	}
	// The journal and the provider calls below must finish even if the
	// provider hangs up: the event is already persisted.
	ctx = context.WithoutCancel(ctx)
	applied, note, err := rc.decide(ctx, p, ev)
	if err != nil {
		return err
	}
	return rc.j.MarkEventFact(applied, note, batch.EventFact{Provider: name, EventID: ev.ID, Status: ev.Status,
		DuplicateNotice: ev.DuplicateNotice})
}

func (rc *Receiver) decide(ctx context.Context, p providers.Provider, ev providers.Event) (bool, string, error) {
	st := ev.Status
	if ev.DuplicateNotice {
		return false, NoteDuplicateNotice, nil
	}
	if st.Refs.PayoutID == "" && st.Refs.ProviderID == "" && st.Refs.SessionID == "" {
		return false, NoteNoPayout, nil
	}
	it, ok, err := findItem(rc.j, p.Name(), st.Refs)
	if err != nil {
		return false, "", err
	}
	if !ok {
		rc.log.Warn("webhook for a payout payrun never sent", "provider", p.Name(), "payout", st.Refs.PayoutID,
			"provider_id", st.Refs.ProviderID)
		return false, NoteUnexpected, nil
	}
	if other := otherPayout(it, st.Refs); other != "" {
		if st.Outcome == providers.AwaitingConfirmation {
			// An orphan session: the confirm rule cancels it.
			if _, isTwoPhase := p.(providers.Confirmer); isTwoPhase {
				if err := batch.Settle(ctx, rc.j, p, st, "webhook"); err != nil {
					rc.log.Warn("orphan session not cancelled yet", "session", other, "err", err)
				}
			}
		}
		return false, NoteOtherPayout + " " + other + ": " + string(st.Outcome), nil
	}
	res, err := applyStatus(ctx, rc.j, p, it, st, "webhook")
	if err != nil {
		return false, "", err
	}
	if res.conflict {
		rc.log.Warn("status conflict", "payout", it.PayoutID, "note", res.note)
	}
	return res.applied, res.note, nil
}

func plain(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
	return status
}

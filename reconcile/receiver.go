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
	// Every raw event is persisted before anything is acknowledged, and
	// the replay key goes with the first: a request replayed verbatim is
	// refused before any of its events is stored. The common path does it
	// all in one group-committed transaction, applying each event too.
	fresh, left, replay, err := rc.receive(p, name, res, body, received)
	if err != nil {
		rc.log.Warn("webhook not received in one transaction; persisting it first", "provider", name, "err", err)
		fresh, replay, err = rc.persist(name, res, body, received)
		left = make([]bool, len(fresh))
		for i := range left {
			left[i] = true
		}
	}
	if err != nil {
		rc.log.Error("webhook not persisted", "provider", name, "err", err)
		return plain(w, http.StatusInternalServerError, "not persisted")
	}
	if replay {
		rc.log.Warn("webhook replayed", "provider", name)
		return plain(w, http.StatusUnauthorized, "replayed notification")
	}
	for i, ev := range res.Events {
		if !left[i] {
			continue
		}
		if err := rc.apply(r.Context(), p, ev, fresh[i]); err != nil {
			rc.log.Error("webhook persisted, not applied yet", "provider", name, "event", ev.ID, "err", err)
			return plain(w, http.StatusInternalServerError, "not applied")
		}
	}
	return res.Ack.Write(w)
}

// receive is the common path: one journal transaction (Journal.Receive)
// stores the raw events and the replay key and applies each new event by
// the ordering rules (decide), unless it needs a provider call. It returns,
// per event, whether it was new and whether it is left for apply.
func (rc *Receiver) receive(p providers.Provider, name string, res providers.WebhookResult, body []byte, received time.Time) (fresh, left []bool, replay bool, err error) {
	rec := batch.Receipt{ReplayKey: res.ReplayKey, Events: make([]batch.Event, len(res.Events)), Facts: make([]batch.EventFact, len(res.Events))}
	for i, ev := range res.Events {
		rec.Events[i] = rawEvent(name, ev, body, received)
		rec.Facts[i] = batch.EventFact{Provider: name, EventID: ev.ID, Status: ev.Status, DuplicateNotice: ev.DuplicateNotice}
	}
	replay, got, err := rc.j.Receive(rec, func(tx *batch.EventTx, i int) (batch.Judged, error) {
		res, err := rc.decide(tx, p, res.Events[i])
		if err != nil {
			return batch.Judged{}, err
		}
		if res.settle != nil {
			return batch.Judged{Later: true}, nil
		}
		return batch.Judged{Applied: res.applied, Note: res.note}, nil
	})
	if err != nil || replay {
		return nil, nil, replay, err
	}
	fresh, left = make([]bool, len(got)), make([]bool, len(got))
	for i, g := range got {
		fresh[i], left[i] = g.New, !g.Done
		if g.New && g.Done {
			rc.report(name, res.Events[i], g.Note)
		}
	}
	return fresh, left, false, nil
}

// persist stores each raw event (and the replay key with the first) on its
// own, for apply: the path of a notification the one transaction failed.
func (rc *Receiver) persist(name string, res providers.WebhookResult, body []byte, received time.Time) (fresh []bool, replay bool, err error) {
	fresh = make([]bool, len(res.Events))
	for i, ev := range res.Events {
		key := ""
		if i == 0 {
			key = res.ReplayKey
		}
		isNew, replay, err := rc.j.RecordEvent(rawEvent(name, ev, body, received), key)
		if err != nil || replay {
			return nil, replay, err
		}
		fresh[i] = isNew
	}
	return fresh, false, nil
}

func rawEvent(name string, ev providers.Event, body []byte, received time.Time) batch.Event {
	return batch.Event{Provider: name, ID: ev.ID, PayoutID: ev.Status.Refs.PayoutID, Type: ev.Type,
		Received: received.UTC(), Body: body}
}

// apply applies one persisted event, once, step by step: a repeated
// delivery of an event already applied (or kept with a note) changes
// nothing. It serves the events the one transaction left: those that call
// the provider (the confirm rule), and those an earlier delivery stored
// without applying.
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
	res, err := rc.decide(rc.j, p, ev)
	if err != nil {
		return err
	}
	if res.settle != nil {
		res = settleNow(ctx, rc.j, p, res, "webhook", rc.log)
	}
	rc.report(name, ev, res.note)
	return rc.j.MarkEventFact(res.applied, res.note, batch.EventFact{Provider: name, EventID: ev.ID, Status: ev.Status,
		DuplicateNotice: ev.DuplicateNotice})
}

// decide applies one event to its item through s by the ordering rules,
// or leaves the confirm rule to run (res.settle) having written nothing.
func (rc *Receiver) decide(s itemStore, p providers.Provider, ev providers.Event) (applyResult, error) {
	st := ev.Status
	if ev.DuplicateNotice {
		return applyResult{note: NoteDuplicateNotice}, nil
	}
	if st.Refs.PayoutID == "" && st.Refs.ProviderID == "" && st.Refs.SessionID == "" {
		return applyResult{note: NoteNoPayout}, nil
	}
	it, ok, err := findItem(s, p.Name(), st.Refs)
	if err != nil {
		return applyResult{}, err
	}
	if !ok {
		return applyResult{note: NoteUnexpected}, nil
	}
	if other := otherPayout(it, st.Refs); other != "" {
		res := applyResult{note: NoteOtherPayout + " " + other + ": " + string(st.Outcome)}
		if _, isTwoPhase := p.(providers.Confirmer); isTwoPhase && st.Outcome == providers.AwaitingConfirmation {
			// An orphan session: the confirm rule cancels it.
			res.settle = &settlement{st: st, orphan: other}
		}
		return res, nil
	}
	return judgeStatus(s, p, it, st, "webhook")
}

// report tells the operator's log about an event kept for an unexpected
// payout or recorded as a status conflict.
func (rc *Receiver) report(name string, ev providers.Event, note string) {
	st := ev.Status
	switch {
	case note == NoteUnexpected:
		rc.log.Warn("webhook for a payout payrun never sent", "provider", name, "payout", st.Refs.PayoutID,
			"provider_id", st.Refs.ProviderID)
	case strings.HasPrefix(note, NoteConflict+":"):
		rc.log.Warn("status conflict", "provider", name, "payout", st.Refs.PayoutID, "note", note)
	}
}

func plain(w http.ResponseWriter, status int, msg string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
	return status
}

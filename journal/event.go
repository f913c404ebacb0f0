package journal

import (
	"context"
	"slices"
	"time"

	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/providers"
)

// Event is a raw provider notification as received, kept before it is
// acknowledged so that nothing a provider said is ever lost.
type Event struct {
	Provider string    `json:"provider"`
	ID       string    `json:"id"`
	PayoutID string    `json:"payout_id,omitempty"`
	Type     string    `json:"type,omitempty"`
	Received time.Time `json:"received"`
	// Body is the notification as it came, with card numbers masked.
	Body []byte `json:"body"`
	// Applied says the event's fact was applied to its item; Note says why
	// not (unexpected payout, duplicate notice, refused transition).
	// Neither is set while the event waits in the queue (ApplyQueued);
	// they are the event's fact's.
	Applied bool   `json:"applied,omitempty"`
	Note    string `json:"note,omitempty"`
	// ReplayKeys are the replay keys (TeemoPay nonces) of the deliveries
	// that brought this event. A replay is a request sent again verbatim:
	// its body is the signed one, so its event is this one, and its key is
	// one of these. Kept with the event rather than in an index of their
	// own, so that a replay is judged by reading the one event it repeats.
	ReplayKeys []string `json:"replay_keys,omitempty"`
}

// WithReplayKey returns ev with key among its replay keys ("" adds none,
// nor does a key it holds).
func (ev Event) WithReplayKey(key string) Event {
	if key != "" && !slices.Contains(ev.ReplayKeys, key) {
		ev.ReplayKeys = append(ev.ReplayKeys[:len(ev.ReplayKeys):len(ev.ReplayKeys)], key)
	}
	return ev
}

// EventFact is what a verified provider event said, as the receiver read
// it. The raw event is the evidence; the fact lets the matcher place
// events (unexpected payouts, a second provider payout for one payout_id)
// without the provider's keys.
type EventFact struct {
	Provider        string           `json:"provider"`
	EventID         string           `json:"event_id"`
	Status          providers.Status `json:"status"`
	DuplicateNotice bool             `json:"duplicate_notice,omitempty"`
	// Applied and Note say what became of the event (set when it is
	// applied).
	Applied  bool      `json:"applied"`
	Note     string    `json:"note,omitempty"`
	Received time.Time `json:"received"`
}

// Receipt is one verified provider notification, as the webhook receiver
// hands it to Persist: its raw events in order, what each of them said,
// and the replay key (TeemoPay's nonce) that goes with the first.
type Receipt struct {
	ReplayKey string
	Events    []Event
	// Facts holds one fact per event (Provider, EventID, Status,
	// DuplicateNotice); Persist fills in Received, and ApplyQueued
	// Applied and Note.
	Facts []EventFact
}

// Key returns the replay key that goes with event i: the receipt's, with
// the first event.
func (r Receipt) Key(i int) string {
	if i == 0 {
		return r.ReplayKey
	}
	return ""
}

// Judged is what the receiver's rules made of one queued event inside
// ApplyQueued's transaction.
type Judged struct {
	// Later leaves the event queued, and stops ApplyQueued there, for the
	// caller to apply after the commit: a provider call (the confirm rule)
	// must never run inside a transaction. A judge that answers Later must
	// not have written anything.
	Later   bool
	Applied bool
	Note    string
}

// QueuedMail is a message waiting to be delivered.
type QueuedMail struct {
	ID      string    `json:"id"`
	EML     []byte    `json:"eml"`
	Queued  time.Time `json:"queued"`
	Sent    time.Time `json:"sent,omitzero"`
	Tries   int       `json:"tries"`
	LastErr string    `json:"last_err,omitempty"`
}

// Scrubbed returns r with card numbers masked in every event's body and
// every fact's free text, as drivers store it. A provider's signed body
// was verified before it came here; what is kept is evidence, and a card
// number must never be kept.
func (r Receipt) Scrubbed() Receipt {
	evs := make([]Event, len(r.Events))
	for i, ev := range r.Events {
		ev.Body = pan.Scrub(ev.Body)
		// An event's ID may spell the merchant reference it names
		// (TeemoPay's does): masked the same way in the event and in its
		// fact, so that a delivery again is still the same event.
		ev.ID, ev.PayoutID, ev.Type = pan.MaskText(ev.ID), pan.MaskText(ev.PayoutID), pan.MaskText(ev.Type)
		evs[i] = ev
	}
	facts := make([]EventFact, len(r.Facts))
	for i, f := range r.Facts {
		f.EventID = pan.MaskText(f.EventID)
		f.Status = scrubStatus(f.Status)
		facts[i] = f
	}
	r.Events, r.Facts = evs, facts
	return r
}

// Direct returns j seen as an EventTx whose every operation is a
// transaction of its own under ctx, so that the rules written for
// ApplyQueued's transaction (the receiver's) run the same outside one (the
// poller, and events applied later).
func Direct(ctx context.Context, j Journal) EventTx { return direct{ctx, j} }

type direct struct {
	ctx context.Context
	j   Journal
}

func (d direct) Item(payoutID string) (Item, error) { return d.j.Item(d.ctx, payoutID) }

func (d direct) PayoutByRef(provider, id string) (string, bool, error) {
	return d.j.PayoutByRef(d.ctx, provider, id)
}

func (d direct) ApplyStatus(payoutID, actor string, st providers.Status) (bool, error) {
	return ApplyStatus(d.ctx, d.j, payoutID, actor, st)
}

func (d direct) Update(payoutID string, fn func(*Item)) error { return d.j.Update(d.ctx, payoutID, fn) }

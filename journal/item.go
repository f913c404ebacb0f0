package journal

import (
	"encoding/json"
	"time"

	"github.com/payrun/payrun/providers"
)

// Item is one payout row of a batch and everything known about it.
type Item struct {
	PayoutID string           `json:"payout_id"`
	BatchID  string           `json:"batch_id"`
	Row      int              `json:"row"`
	Provider string           `json:"provider"`
	Payout   providers.Payout `json:"payout"`
	State    State            `json:"state"`
	Reason   string           `json:"reason,omitempty"`
	Refs     providers.Refs   `json:"refs"`
	// Attempt is the fresh-submission counter passed to the provider
	// (providers.Payout.Attempt).
	Attempt int `json:"attempt,omitempty"`
	// Sends counts requests that may have reached the provider.
	Sends int `json:"sends,omitempty"`
	// Confirms counts confirmations sent (two-phase providers).
	Confirms int `json:"confirms,omitempty"`
	// Last is the last status the provider reported.
	Last providers.Status `json:"last,omitzero"`
	// Conflict describes a webhook and a status query that disagreed.
	Conflict string    `json:"conflict,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// SentAt is when the first request left (for daily caps and ageing).
	SentAt time.Time `json:"sent_at,omitzero"`
	// NextPoll is when the poller should ask the provider next.
	NextPoll time.Time `json:"next_poll,omitzero"`
	Polls    int       `json:"polls,omitempty"`
}

// LookupRefs returns what a provider is asked about the item with: its
// references, with its payout_id and method, which the stored references
// may leave out.
func (it Item) LookupRefs() providers.Refs {
	refs := it.Refs
	refs.PayoutID, refs.Method = it.PayoutID, it.Payout.Method
	return refs
}

// RefsFor returns the references an item starts with.
func RefsFor(p providers.Payout) providers.Refs {
	return providers.Refs{PayoutID: p.ID, Method: p.Method}
}

// Transition is one entry of the append-only log.
type Transition struct {
	Seq      uint64          `json:"seq"`
	PayoutID string          `json:"payout_id"`
	From     State           `json:"from"`
	To       State           `json:"to"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Reason   string          `json:"reason,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
}

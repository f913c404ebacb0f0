package journal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Change is one state transition of one item, with what the provider said.
type Change struct {
	PayoutID string
	To       State
	Actor    string // dispatcher, webhook, poller, operator, ingest
	Reason   string
	// Status, when set, is recorded as the item's last provider status and
	// its references are merged into the item's.
	Status *providers.Status
	// Update, when set, changes other fields of the item in the same
	// transaction (attempt counters, poll times). It must be deterministic:
	// a group commit may run it twice.
	Update func(*Item)
	// From, when set, makes the change conditional: it applies only if the
	// item is in that state (compare-and-set), otherwise ErrConflict.
	From State
	// Holder, when set, makes the change conditional on the item being
	// held by that cluster node (Cluster.Claim), otherwise ErrConflict: a
	// node whose lease lapsed, and whose items another node took over,
	// can no longer move them. A journal held by one process ignores it.
	Holder string
	// Payload is stored in the transition log (a raw provider answer a
	// dispute may need), scrubbed of card numbers and bounded (see
	// MaxPayload). What the provider said is already in the item's last
	// status: a payload is for the raw bytes that status was read from,
	// where they matter, not for every step.
	Payload json.RawMessage
}

// Tx is what ApplyTo needs of a driver's write transaction. A driver
// implements it over its own transaction; ApplyTo is the one place the
// graph is checked, whatever the store.
type Tx interface {
	// PayoutByRef returns the payout_id a provider id belongs to.
	PayoutByRef(provider, id string) (string, bool, error)
	// PutRef maps a provider id (payout id or session id) to a payout.
	PutRef(provider, id, payoutID string) error
	// PutItem stores it; from is the state it had before this change, so
	// that the driver keeps its index of open items.
	PutItem(it *Item, from State) error
	// AppendTransition appends t to the log, giving it its sequence.
	AppendTransition(t *Transition) error
}

// ApplyTo applies one change to it, the item as it stands in tx, and writes
// the item, its references and its transition there. It is the one place
// that checks a change against the graph: every driver's Apply and
// ApplyQueued come through it. On success it holds the item as written.
func ApplyTo(tx Tx, it *Item, c Change, now time.Time) error {
	if c.From != "" && it.State != c.From {
		return fmt.Errorf("payout %s is %s, expected %s: %w", c.PayoutID, it.State, c.From, ErrConflict)
	}
	from := it.State
	if from == c.To && c.Status == nil && c.Update == nil {
		return nil
	}
	if from != c.To && !CanMove(from, c.To) {
		return &ErrTransition{PayoutID: c.PayoutID, From: from, To: c.To}
	}
	next := *it
	next.State = c.To
	if from != c.To {
		next.NextPoll = time.Time{} // a new state is asked about on its own schedule
	}
	if c.Reason != "" || from != c.To {
		next.Reason = pan.MaskText(c.Reason)
	}
	if c.Status != nil {
		st := scrubStatus(*c.Status)
		mergeStatus(&next, st)
		if err := putRefs(tx, &next, st.Refs); err != nil {
			return err
		}
	}
	if c.Update != nil {
		c.Update(&next)
	}
	if c.To == Sending && next.SentAt.IsZero() {
		next.SentAt = now
	}
	next.Updated = now
	if err := tx.PutItem(&next, from); err != nil {
		return err
	}
	if from != c.To || c.Payload != nil {
		t := Transition{PayoutID: next.PayoutID, From: from, To: c.To, At: now, Actor: c.Actor,
			Reason: next.Reason, Payload: boundPayload(pan.Scrub(c.Payload))}
		if err := tx.AppendTransition(&t); err != nil {
			return err
		}
	}
	*it = next
	return nil
}

// MaxPayload bounds a transition's payload. A larger one is replaced by
// its size and SHA-256, which still tells a dispute whether a copy the
// provider shows is the one payrun received, at a fixed cost: a journal
// grows with its payouts, not with what providers choose to send.
const MaxPayload = 4 << 10

// boundPayload returns p, or its fingerprint when it is over MaxPayload.
func boundPayload(p json.RawMessage) json.RawMessage {
	if len(p) <= MaxPayload {
		return p
	}
	sum := sha256.Sum256(p)
	return json.RawMessage(fmt.Sprintf(`{"omitted_bytes":%d,"sha256":"%s"}`, len(p), hex.EncodeToString(sum[:])))
}

// putRefs maps the provider's ids in refs to the item, refusing an id that
// already belongs to another payout.
func putRefs(tx Tx, it *Item, r providers.Refs) error {
	for _, id := range []string{r.ProviderID, r.SessionID} {
		if id == "" {
			continue
		}
		prev, ok, err := tx.PayoutByRef(it.Provider, id)
		if err != nil {
			return err
		}
		if ok {
			if prev != it.PayoutID {
				return fmt.Errorf("provider %s id %s already belongs to payout %s, not %s", it.Provider, id, prev, it.PayoutID)
			}
			continue
		}
		if err := tx.PutRef(it.Provider, id, it.PayoutID); err != nil {
			return err
		}
	}
	return nil
}

// StatusChange is the change a provider status makes to an item, or
// ok=false when it makes none: a fact about a session that is not the
// item's journaled one (it never speaks for the payout), or a move the
// graph refuses (final states never regress, except succeeded ->
// reversed). The change is conditional on the item's state.
func StatusChange(it Item, actor string, st providers.Status) (c Change, ok bool) {
	if st.Refs.SessionID != "" && st.Refs.SessionID != it.Refs.SessionID {
		return Change{}, false
	}
	to := StateFor(st.Outcome)
	mismatch := ""
	if to == Succeeded {
		if mismatch = AmountMismatch(it.Payout.Amount, st.Amount); mismatch != "" {
			to = Mismatch
		}
	}
	c = Change{PayoutID: it.PayoutID, To: to, Actor: actor, Status: &st, From: it.State}
	if it.State == to {
		return c, true
	}
	if !CanMove(it.State, to) {
		return Change{}, false
	}
	c.Reason = st.Message
	if st.Code != "" {
		c.Reason = st.Code + ": " + st.Message
	}
	if mismatch != "" {
		c.Reason = "paid with another amount than the input: " + mismatch + "; needs review, never sent again"
	}
	return c, true
}

// AmountMismatch says how what a provider reports paid differs from what
// the input asked ("" when it does not, or when the provider did not state
// an amount).
func AmountMismatch(want, got money.Money) string {
	if got.Minor == 0 && got.Currency == "" {
		return ""
	}
	if got.Currency != "" && !strings.EqualFold(got.Currency, want.Currency) {
		return fmt.Sprintf("currency %s at the provider, %s in the input", strings.ToUpper(got.Currency), want.Currency)
	}
	if got.Minor != want.Minor {
		return fmt.Sprintf("%s at the provider, %s in the input", money.Money{Minor: got.Minor, Currency: want.Currency}, want)
	}
	return ""
}

// ApplyStatus moves an item by what its provider reported, by
// StatusChange's rules; applied is false when the status changes nothing.
// A writer that moved the item meanwhile makes it read the item again.
func ApplyStatus(ctx context.Context, j Items, payoutID, actor string, st providers.Status) (applied bool, err error) {
	for {
		it, err := j.Item(ctx, payoutID)
		if err != nil {
			return false, err
		}
		c, ok := StatusChange(it, actor, st)
		if !ok {
			return false, nil
		}
		err = j.Apply(ctx, c)
		if errors.Is(err, ErrConflict) {
			continue
		}
		return err == nil, err
	}
}

// mergeStatus records a provider status on an item, keeping references
// already known (a later status may omit them).
func mergeStatus(it *Item, st providers.Status) {
	refs := it.Refs
	if st.Refs.ProviderID != "" {
		refs.ProviderID = st.Refs.ProviderID
	}
	if st.Refs.SessionID != "" {
		refs.SessionID = st.Refs.SessionID
	}
	refs.PayoutID = it.PayoutID
	refs.Method = it.Payout.Method
	it.Refs = refs
	url := it.Last.URL
	fee := it.Last.Fee
	it.Last = st
	it.Last.Refs = refs
	if it.Last.URL == "" {
		it.Last.URL = url
	}
	if it.Last.Fee == 0 {
		it.Last.Fee = fee
	}
}

// scrubStatus masks card numbers in what a provider says in a status: its
// free text, its reason code, and the merchant reference it names (payrun's
// own payout ids never hold one, the reader refuses them, so masking one
// only hides what a notification about a payout payrun never sent
// carried). The provider's own ids (Refs.ProviderID, SessionID) are kept:
// they are what payrun asks the provider about.
func scrubStatus(st providers.Status) providers.Status {
	st.Message = pan.MaskText(st.Message)
	st.RawStatus = pan.MaskText(st.RawStatus)
	st.Recipient = pan.MaskText(st.Recipient)
	st.Code = pan.MaskText(st.Code)
	st.Refs.PayoutID = pan.MaskText(st.Refs.PayoutID)
	return st
}

// StateFor maps a provider's normalised outcome to the item state it
// leads to.
func StateFor(o providers.Outcome) State {
	switch o {
	case providers.Processing:
		return Submitted
	case providers.AwaitingConfirmation:
		return AwaitingConfirmation
	case providers.AwaitingBeneficiary:
		return AwaitingBeneficiary
	case providers.Succeeded:
		return Succeeded
	case providers.Failed:
		return Failed
	case providers.Reversed:
		return Reversed
	case providers.Expired:
		return Expired
	case providers.Cancelled:
		return Cancelled
	}
	return Submitted
}

package journal

import "fmt"

// State is where an item is in its life. The graph of allowed transitions
// is in transitions; the journal refuses anything else.
type State string

// Item states (DESIGN.md "Item states").
const (
	Accepted             State = "accepted"
	Queued               State = "queued"
	Sending              State = "sending"
	Submitted            State = "submitted"
	InDoubt              State = "in_doubt"
	AwaitingConfirmation State = "awaiting_confirmation"
	Confirming           State = "confirming"
	AwaitingBeneficiary  State = "awaiting_beneficiary"
	Succeeded            State = "succeeded"
	Failed               State = "failed"
	Expired              State = "expired"
	Reversed             State = "reversed"
	// Mismatch is a payout the provider reports paid with another amount
	// or currency than the input's: money moved, but not as asked. It is
	// never shown as paid and never sent again; an accountant reviews it.
	Mismatch  State = "amount_mismatch"
	Invalid   State = "invalid"
	Duplicate State = "duplicate"
	Held      State = "held"
	Cancelled State = "cancelled"
)

// States lists every state in life order, for reports and metrics.
var States = []State{
	Accepted, Queued, Sending, Submitted, InDoubt, AwaitingConfirmation, Confirming,
	AwaitingBeneficiary, Succeeded, Mismatch, Failed, Expired, Reversed, Invalid, Duplicate, Held, Cancelled,
}

// transitions is the state machine. Final states have no way out except
// news that money moved after all: succeeded (or amount_mismatch) ->
// reversed, and expired -> succeeded (or amount_mismatch).

var transitions = map[State][]State{
	Accepted: {Queued, Held, Cancelled},
	Held:     {Queued, Cancelled},
	// A provider's fact about a queued payout (one queued again to be
	// resent after it was in doubt) is the truth: it moves the payout, and
	// the resend, conditional on queued, never leaves.
	Queued:    {Sending, Held, Cancelled, Submitted, AwaitingConfirmation, AwaitingBeneficiary, Succeeded, Mismatch, Failed, Expired},
	Sending:   {Submitted, AwaitingConfirmation, AwaitingBeneficiary, Succeeded, Mismatch, Failed, InDoubt, Queued},
	InDoubt:   {Submitted, AwaitingConfirmation, AwaitingBeneficiary, Succeeded, Mismatch, Failed, Expired, Queued, Cancelled, Reversed},
	Submitted: {AwaitingConfirmation, AwaitingBeneficiary, Succeeded, Mismatch, Failed, InDoubt, Cancelled, Expired, Reversed},
	// Two-phase: confirming is written before the confirm request leaves.
	AwaitingConfirmation: {Confirming, Cancelled, Succeeded, Mismatch, Failed, Expired},
	Confirming:           {Submitted, Succeeded, Mismatch, Failed, Cancelled, AwaitingConfirmation},
	// A card collection (Bank 131, Smart Glocal: a card_token row without
	// a token) waits for its beneficiary's card, then is queued to be sent
	// with it like any card_token payout (dispatch.Collected).
	AwaitingBeneficiary: {Succeeded, Mismatch, Failed, Expired, Cancelled, Submitted, Queued},
	Succeeded:           {Reversed},
	Mismatch:            {Reversed},
	// A payout payrun stopped waiting for (its link's deadline passed)
	// that the provider then reports paid was paid: the truth wins.
	Expired: {Succeeded, Mismatch},
}

// CanMove reports whether from -> to is on the graph.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Final reports whether nothing more will happen to an item in this state,
// except a reversal of a success.
func (s State) Final() bool {
	switch s {
	case Succeeded, Mismatch, Failed, Expired, Reversed, Invalid, Duplicate, Cancelled:
		return true
	}
	return false
}

// NeverSent reports whether an item in this state never reached a provider.
func (s State) NeverSent() bool {
	switch s {
	case Accepted, Queued, Invalid, Duplicate, Held:
		return true
	}
	return false
}

// ErrTransition is a transition that is not on the graph.
type ErrTransition struct {
	PayoutID string
	From, To State
}

func (e *ErrTransition) Error() string {
	return fmt.Sprintf("payout %s: transition %s -> %s is not allowed", e.PayoutID, e.From, e.To)
}

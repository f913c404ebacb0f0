package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Card collection (Bank 131, Smart Glocal): a card_token payout without a
// token is sent first to get the provider's widget token, and waits in
// awaiting_beneficiary like a card push. When its beneficiary gives a card
// on payrun's page, Collected journals the card's token (the provider's
// hash, never the card) and queues the payout again; from there it is an
// ordinary card_token payout, sent by the same path as every other (intent
// before the request, doubt resolved by asking, the confirm rule).

// ErrNotWaiting is Collected's answer for a payout that no longer waits
// for its beneficiary: its link was used already, or it expired, or it was
// paid or cancelled meanwhile. Nothing was changed.
var ErrNotWaiting = errors.New("the payout no longer waits for its beneficiary")

// Collected records the card a beneficiary gave for a payout waiting in
// awaiting_beneficiary: cardToken is the provider's token of the card
// (its widget's number_hash) and recipient describes it as the provider
// confirmed it ("card *4242"), kept for the report. The payout is queued in
// the same commit, conditionally on still waiting, so that of two uses of
// one link only the first changes anything (the other is ErrNotWaiting).
func (d *Dispatcher) Collected(ctx context.Context, payoutID, cardToken, recipient string) error {
	it, err := d.j.Item(ctx, payoutID)
	if err != nil {
		return err
	}
	if it.State != journal.AwaitingBeneficiary {
		return fmt.Errorf("payout %s is %s: %w", payoutID, it.State, ErrNotWaiting)
	}
	if it.Payout.Method != providers.CardToken || it.Payout.Beneficiary.CardToken != "" {
		return fmt.Errorf("payout %s does not wait for a card: %w", payoutID, ErrNotWaiting)
	}
	st := it.Last
	st.Outcome = providers.Processing
	st.RawStatus = "card_given"
	st.Recipient = recipient
	st.Message = "the beneficiary gave " + recipient + " through the provider's widget"
	err = d.j.Apply(ctx, journal.Change{PayoutID: payoutID, From: journal.AwaitingBeneficiary, To: journal.Queued,
		Actor: "beneficiary", Status: &st,
		Reason: "the beneficiary gave " + recipient + " through the provider's widget; queued to be paid to it",
		Update: func(x *journal.Item) { x.Payout.Beneficiary.CardToken = cardToken }})
	if errors.Is(err, journal.ErrConflict) {
		return fmt.Errorf("payout %s changed meanwhile: %w", payoutID, ErrNotWaiting)
	}
	return err
}

// SendNow sends one queued payout at once through its provider's pool
// (its rate limit and request slots), as Run would, and returns when its
// answer is journaled. A payout that is not queued is left alone.
func (d *Dispatcher) SendNow(ctx context.Context, payoutID string) error {
	it, err := d.j.Item(ctx, payoutID)
	if err != nil {
		return err
	}
	p, ok := d.provs[it.Provider]
	if !ok {
		return fmt.Errorf("payout %s: provider %s is not configured", payoutID, it.Provider)
	}
	if it.State != journal.Queued {
		return nil
	}
	var done atomic.Int64
	return d.runPool(ctx, p, d.pools[it.Provider], &listSource{ids: []string{payoutID}}, &done)
}

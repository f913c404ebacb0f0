package providers

import (
	"context"
	"errors"
	"fmt"
)

// ConfirmByLookup makes an unverified notification (WebhookResult.Unverified)
// safe to keep: each event's status is replaced by what p.Lookup answers
// about the payout the event names, so that what is kept is the provider's
// own answer to payrun's authenticated question and never the notification's
// claim. The event's ID gains the status it was confirmed at, so that a
// later notification of the same body confirmed at another status is a new
// fact. A verified result is returned unchanged.
//
// A payout the provider does not know (ErrNotFound) makes the notification
// a forgery: the error wraps ErrSignature and nothing may be kept. Any
// other lookup failure is returned as it is, and the receiver should answer
// with an error so that the provider sends the notification again.
func ConfirmByLookup(ctx context.Context, p Provider, res WebhookResult) (WebhookResult, error) {
	if !res.Unverified {
		return res, nil
	}
	out := res
	out.Unverified = false
	out.Events = make([]Event, 0, len(res.Events))
	for _, ev := range res.Events {
		refs := ev.Status.Refs
		if refs.PayoutID == "" && refs.ProviderID == "" && refs.SessionID == "" {
			return WebhookResult{}, fmt.Errorf("%s: unverified notification names no payout: %w", p.Name(), ErrSignature)
		}
		st, err := p.Lookup(ctx, refs)
		switch {
		case errors.Is(err, ErrNotFound):
			return WebhookResult{}, fmt.Errorf("%s: unverified notification about %s, which the provider does not know: %w", p.Name(), refs.PayoutID, ErrSignature)
		case err != nil:
			return WebhookResult{}, fmt.Errorf("%s: unverified notification about %s not confirmed: %w", p.Name(), refs.PayoutID, err)
		}
		if st.Refs.PayoutID == "" {
			st.Refs.PayoutID = refs.PayoutID
		}
		if st.Refs.Method == "" {
			st.Refs.Method = refs.Method
		}
		out.Events = append(out.Events, Event{
			ID:     ev.ID + "|confirmed:" + st.RawStatus,
			Type:   "confirmed/" + ev.Type,
			Status: st,
		})
	}
	return out, nil
}

package bank131

import (
	"context"
	"errors"
	"fmt"

	"github.com/payrun/payrun/providers"
)

// Confirm sends session/confirm for a session at AwaitingConfirmation: only
// now does the provider move money. The caller confirms only the one
// session the journal holds for the payout, after checking its amount and
// recipient against the row (DESIGN.md, Exactly once).
//
// The idempotency key is PayoutID + ":confirm:" + SessionID: stable across
// retries of the same confirmation, distinct per session so that a later
// attempt's session (Payout.Attempt) is never mistaken for an earlier one.
// A repeat is refused by the provider as a duplicate; Confirm then answers
// with the session's current status, so it is idempotent.
func (c *Client) Confirm(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	return c.finish(ctx, "session/confirm", "confirm", refs)
}

// Cancel sends session/cancel: the session ends without moving money. The
// API takes no reason; it is not sent. Idempotent like Confirm.
func (c *Client) Cancel(ctx context.Context, refs providers.Refs, reason string) (providers.Status, error) {
	_ = reason // the session API has no field for it; the journal keeps it
	return c.finish(ctx, "session/cancel", "cancel", refs)
}

func (c *Client) finish(ctx context.Context, method, step string, refs providers.Refs) (providers.Status, error) {
	if refs.SessionID == "" {
		return providers.Status{}, fmt.Errorf("%s %s: needs the session id: %w", c.name, step, providers.ErrUnsupported)
	}
	key := refs.PayoutID + ":" + step + ":" + refs.SessionID
	resp, err := c.call(ctx, method, method, key, true, sessionIDRequest{SessionID: refs.SessionID})
	if errors.Is(err, providers.ErrDuplicate) {
		// Done before (perhaps by a run that crashed before journaling it).
		return c.Lookup(ctx, refs)
	}
	if err != nil {
		return providers.Status{}, err
	}
	if resp.Session == nil {
		return c.Lookup(ctx, refs)
	}
	st := mapSession(*resp.Session)
	st.Refs = mergeRefs(st.Refs, refs)
	return st, nil
}

package bank131

import (
	"context"
	"errors"
	"strconv"

	"github.com/payrun/payrun/providers"
)

// The session methods. Every payout is a payment session (ps_...) holding
// one payment (po_...): session/create, session/start/payout, then, after
// the ready_to_confirm webhook, session/confirm or session/cancel.

// IdempotencyKey is the session/create key of a payout: its ID for the
// first attempt, ID#n for fresh attempts after an earlier session was
// proven harmless (Payout.Attempt). The other steps append ":start".
func IdempotencyKey(p providers.Payout) string {
	if p.Attempt <= 0 {
		return p.ID
	}
	return p.ID + "#" + strconv.Itoa(p.Attempt)
}

func (c *Client) createSession(ctx context.Context, key string, req createSessionRequest) (*session, error) {
	resp, err := c.call(ctx, "session/create", "session/create", key, true, req)
	if err != nil {
		return nil, err
	}
	if resp.Session == nil || resp.Session.ID == "" {
		return nil, providers.InDoubt(c.name, "session/create", errors.New("answer without a session id"))
	}
	return resp.Session, nil
}

func (c *Client) startPayout(ctx context.Context, key string, req startPayoutRequest) (*session, error) {
	resp, err := c.call(ctx, "session/start/payout", "session/start/payout", key, true, req)
	if err != nil {
		return nil, err
	}
	if resp.Session == nil {
		return nil, providers.InDoubt(c.name, "session/start/payout", errors.New("answer without a session"))
	}
	return resp.Session, nil
}

func (c *Client) sessionStatus(ctx context.Context, id string) (*session, error) {
	resp, err := c.call(ctx, "session/status", "session/status", "", false, sessionIDRequest{SessionID: id})
	if err != nil {
		return nil, err
	}
	if resp.Session == nil {
		return nil, &providers.APIError{Provider: c.name, Op: "session/status", Message: "answer without a session", Kind: providers.ErrUnavailable}
	}
	return resp.Session, nil
}

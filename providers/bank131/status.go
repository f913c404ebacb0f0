package bank131

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// CanLookup reports whether Lookup can ask about refs: only by session id.
func (c *Client) CanLookup(refs providers.Refs) bool { return refs.SessionID != "" }

// Lookup asks session/status for Refs.SessionID. The API looks sessions up
// by id only (PROVIDERS.md 4.4): without a session id Lookup returns
// ErrUnsupported, and an unknown id is ErrNotFound.
func (c *Client) Lookup(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	if !c.CanLookup(refs) {
		return providers.Status{}, fmt.Errorf("%s: lookup needs the session id (ps_...): %w", c.name, providers.ErrUnsupported)
	}
	s, err := c.sessionStatus(ctx, refs.SessionID)
	if err != nil {
		return providers.Status{}, err
	}
	if len(s.Payments) == 0 && s.Status != "cancelled" && s.Status != "error" {
		// The session was made, the payout's start never arrived (its
		// request was lost): a payment appears only with a start.
		return providers.Status{}, fmt.Errorf("%s: session %s (status %q) holds no payout: %w", c.name, s.ID, s.Status, providers.ErrNoPayout)
	}
	st := mapSession(*s)
	st.Refs = mergeRefs(st.Refs, refs)
	return st, nil
}

// messageSessionError explains the session status "error", which is not
// final: the provider's support decides what happened to the money.
const messageSessionError = "session is in status error, which is not final: contact the provider's support; do not retry or resend"

// mapSession turns a PaymentSession into a Status. It is a pure function
// of the wire object; the order of the checks matters:
//
//   - a succeeded refund (or a payment "refunded") is Reversed;
//   - a cancelled session is Cancelled (money never moved);
//   - payment succeeded / failed is Succeeded / Failed (with the error code);
//   - session "error" is Processing with RawStatus "error": not final;
//   - next_action confirm or payment pending is AwaitingConfirmation,
//     carrying the amount and recipient for the confirm rule;
//   - anything else is Processing.
func mapSession(s session) providers.Status {
	var p *payment
	if n := len(s.Payments); n > 0 {
		p = &s.Payments[n-1]
	}
	st := providers.Status{
		Refs:      sessionRefs(s, p),
		RawStatus: rawStatus(s, p),
		Amount:    toMoney(s.AmountDetails),
		At:        parseTime(s.UpdatedAt),
	}
	pstatus := ""
	if p != nil {
		pstatus = p.Status
		if p.AmountDetails != nil {
			st.Amount = toMoney(p.AmountDetails)
		}
		st.Recipient = recipient(p)
		if t := parseTime(p.UpdatedAt); !t.IsZero() {
			st.At = t
		}
	}
	switch {
	case p != nil && refunded(p):
		st.Outcome = providers.Reversed
		st.Message = refundMessage(p)
	case s.Status == "cancelled":
		st.Outcome = providers.Cancelled
	case pstatus == "succeeded":
		st.Outcome = providers.Succeeded
	case pstatus == "failed":
		st.Outcome = providers.Failed
		if p.Error != nil {
			st.Code, st.Message = p.Error.Code, p.Error.Description
		}
	case s.Status == "error":
		st.Outcome = providers.Processing
		st.RawStatus = "error"
		st.Message = messageSessionError
	case s.NextAction == "confirm" || pstatus == "pending":
		st.Outcome = providers.AwaitingConfirmation
	default:
		st.Outcome = providers.Processing
	}
	return st
}

func refunded(p *payment) bool {
	if p.Status == "refunded" {
		return true
	}
	for _, r := range p.Refunds {
		if r.Status == "succeeded" || r.Status == "accepted" {
			return true
		}
	}
	return false
}

// refundMessage names the refund that reversed a payout, for the item's
// reason: "refund rf_1 succeeded at 2026-11-22T10:00:00Z".
func refundMessage(p *payment) string {
	for _, r := range p.Refunds {
		if r.Status != "succeeded" && r.Status != "accepted" {
			continue
		}
		msg := "refund"
		if r.ID != "" {
			msg += " " + r.ID
		}
		msg += " " + r.Status
		if t := parseTime(r.CreatedAt); !t.IsZero() {
			msg += " at " + t.Format(time.RFC3339)
		}
		return msg
	}
	return "payment refunded"
}

// sessionRefs reads the payout ID from what payrun sent: the payment's
// metadata, its customer.reference, or the session's metadata.
func sessionRefs(s session, p *payment) providers.Refs {
	refs := providers.Refs{SessionID: s.ID, Method: providers.CardToken}
	if p != nil {
		refs.ProviderID = p.ID
		refs.PayoutID = metadataString(p.Metadata)
		if refs.PayoutID == "" && p.Customer != nil {
			refs.PayoutID = p.Customer.Reference
		}
	}
	if refs.PayoutID == "" {
		refs.PayoutID = metadataString(s.Metadata)
	}
	return refs
}

// rawStatus is "session/payment[/next_action]", e.g. "in_progress/pending/confirm".
func rawStatus(s session, p *payment) string {
	parts := []string{s.Status}
	if p != nil {
		parts = append(parts, p.Status)
	}
	if s.NextAction != "" {
		parts = append(parts, s.NextAction)
	}
	return strings.Join(parts, "/")
}

// recipient describes the destination as the provider reports it:
// "card *4242 (visa) John Johnson". The confirm rule compares it with the
// row (token/info gives the row's last four).
func recipient(p *payment) string {
	var parts []string
	if p.PaymentMethod != nil && p.PaymentMethod.Card != nil && p.PaymentMethod.Card.Last4 != "" {
		s := "card *" + p.PaymentMethod.Card.Last4
		if p.PaymentMethod.Card.Brand != "" {
			s += " (" + p.PaymentMethod.Card.Brand + ")"
		}
		parts = append(parts, s)
	}
	if p.ParticipantDetails != nil && p.ParticipantDetails.Recipient != nil && p.ParticipantDetails.Recipient.FullName != "" {
		parts = append(parts, p.ParticipantDetails.Recipient.FullName)
	} else if p.Customer != nil && p.Customer.Reference != "" {
		parts = append(parts, "ref "+p.Customer.Reference)
	}
	return strings.Join(parts, " ")
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

package bank131

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/payrun/payrun/providers"
)

// Webhook types (PROVIDERS.md 4.3). action_required and ready_to_capture
// belong to acquiring and are acknowledged without events.
const (
	hookReadyToConfirm  = "ready_to_confirm"
	hookPaymentFinished = "payment_finished"
	hookPaymentRefunded = "payment_refunded"
)

// ParseWebhook verifies X-PARTNER-SIGN over the raw body with the
// provider's public key before reading anything, then returns one event:
// ready_to_confirm (AwaitingConfirmation, with amount and recipient),
// payment_finished (Succeeded or Failed, or Cancelled for a cancelled
// session), payment_refunded (Reversed). The event ID is a hash of the raw
// body, so a duplicated delivery yields the same ID. The provider expects
// HTTP 200 (and retries anything else).
func (c *Client) ParseWebhook(r providers.WebhookRequest) (providers.WebhookResult, error) {
	if err := Verify(c.provider, r.Body, r.Header.Get("X-PARTNER-SIGN")); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("%s webhook: %w: %v", c.name, providers.ErrSignature, err)
	}
	var hook webhookBody
	if err := json.Unmarshal(r.Body, &hook); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("%s webhook: %w: body is not JSON: %v", c.name, providers.ErrRejected, err)
	}
	res := providers.WebhookResult{Ack: providers.OK()}
	st, ok := webhookStatus(hook)
	if !ok {
		return res, nil
	}
	res.Events = []providers.Event{{ID: eventID(c.name, r.Body), Type: hook.Type, Status: st}}
	return res, nil
}

// webhookStatus maps a verified webhook to a Status; ok is false for types
// that say nothing about payouts.
func webhookStatus(h webhookBody) (providers.Status, bool) {
	st := mapSession(h.Session)
	switch h.Type {
	case hookReadyToConfirm:
		if !st.Outcome.Final() && st.RawStatus != "error" {
			st.Outcome = providers.AwaitingConfirmation
		}
	case hookPaymentFinished:
		// mapSession reads succeeded / failed / cancelled from the payment.
	case hookPaymentRefunded:
		st.Outcome = providers.Reversed
	default:
		return providers.Status{}, false
	}
	return st, true
}

// eventID is stable per delivered body: the provider re-sends the same
// bytes on retry, and a new fact has a new body.
func eventID(name string, body []byte) string {
	sum := sha256.Sum256(body)
	return name + ":" + hex.EncodeToString(sum[:16])
}

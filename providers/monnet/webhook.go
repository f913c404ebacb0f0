package monnet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/payrun/payrun/providers"
)

// EventID identifies a notification by its exact bytes, so that a
// duplicated delivery yields the same ID.
func EventID(body []byte) string {
	h := sha256.New()
	h.Write([]byte(Name + ":"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// ParseWebhook verifies and reads a notification from any Monnet product
// (one endpoint serves all three). Payin notifications are recognised by
// their payinMerchantOperationNumber field and authenticated by
// recomputing payinVerification; everything else is a payout notification
// authenticated by the RSA signature in the `verification` header over
// merchantId + raw body. Nothing is read from a payout notification before
// its signature checks; a payin notification has to be decoded to find
// the values its hash covers.
func (c *Client) ParseWebhook(r providers.WebhookRequest) (providers.WebhookResult, error) {
	var shape struct {
		Op *string `json:"payinMerchantOperationNumber"`
	}
	if json.Unmarshal(r.Body, &shape) == nil && shape.Op != nil {
		return c.parsePayin(r)
	}
	if err := verifyNotification(c.notifier, c.merchantID, r.Body, r.Header.Get("verification")); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet notification: %w: %v", providers.ErrSignature, err)
	}
	var pr payoutResponse
	if err := json.Unmarshal(r.Body, &pr); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet notification: %w", err)
	}
	return providers.WebhookResult{Events: []providers.Event{payoutEvent(pr, r.Body)}, Ack: providers.OK()}, nil
}

// payoutEvent maps a verified payout notification. A REJECTED notification
// with error 2005 is about a refused duplicate submission: it carries the
// original's orderId but says nothing about the original payout.
func payoutEvent(pr payoutResponse, raw []byte) providers.Event {
	_, dup := duplicateCode(pr)
	return providers.Event{
		ID:              EventID(raw),
		Type:            pr.Output.Stage + "/" + pr.Output.Status,
		Status:          payoutStatus(pr, ""),
		DuplicateNotice: dup,
	}
}

// parsePayin reads a Payin notification. One with a payinVerification is
// authenticated by recomputing it (SHA-512 over the values as received,
// with the payin key). One without, as in Monnet's own sample payloads,
// proves nothing: it is returned Unverified, its one event naming the
// payment link to ask about, and the receiver believes only the status
// query's answer (providers.ConfirmByLookup). A wrong verification is
// refused.
func (c *Client) parsePayin(r providers.WebhookRequest) (providers.WebhookResult, error) {
	if c.payin == nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w: Payin V3 is not configured", providers.ErrSignature)
	}
	var n payinNotification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w: %v", providers.ErrSignature, err)
	}
	if string(n.MerchantID) != c.payin.merchantID || n.OperationNumber == "" {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w: not for this merchant", providers.ErrSignature)
	}
	ev := providers.Event{
		ID:     EventID(r.Body),
		Type:   "payin/" + string(n.StateID),
		Status: payinStatus(n.StateID, n.State, n.Amount, n.Currency, n.OperationNumber, n.ErrorDetails),
	}
	if strings.TrimSpace(n.Verification) == "" {
		// The status query is asked about this very link, whatever the
		// notification claims of it.
		refs := ev.Status.Refs
		refs.SessionID = linkSession + n.OperationNumber
		ev.Status = providers.Status{Outcome: providers.Processing, Refs: refs}
		return providers.WebhookResult{Events: []providers.Event{ev}, Ack: providers.OK(), Unverified: true}, nil
	}
	want := payinVerification(string(n.MerchantID), n.OperationNumber, string(n.Amount), n.Currency, c.payin.key)
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(n.Verification))) {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w", providers.ErrSignature)
	}
	return providers.WebhookResult{Events: []providers.Event{ev}, Ack: providers.OK()}, nil
}

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
	if err := VerifyNotification(c.notifier, c.merchantID, r.Body, r.Header.Get("verification")); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet notification: %w: %v", providers.ErrSignature, err)
	}
	var pr PayoutResponse
	if err := json.Unmarshal(r.Body, &pr); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet notification: %w", err)
	}
	return providers.WebhookResult{Events: []providers.Event{PayoutEvent(pr, r.Body)}, Ack: providers.OK()}, nil
}

// PayoutEvent maps a verified payout notification. A REJECTED notification
// with error 2005 is about a refused duplicate submission: it carries the
// original's orderId but says nothing about the original payout.
func PayoutEvent(pr PayoutResponse, raw []byte) providers.Event {
	dup := false
	if strings.EqualFold(pr.Output.Stage, StageRejected) {
		for _, e := range pr.Errors {
			dup = dup || e.Code == CodeDuplicate
		}
	}
	return providers.Event{
		ID:              EventID(raw),
		Type:            pr.Output.Stage + "/" + pr.Output.Status,
		Status:          PayoutStatus(pr, ""),
		DuplicateNotice: dup,
	}
}

func (c *Client) parsePayin(r providers.WebhookRequest) (providers.WebhookResult, error) {
	if c.payin == nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w: Payin V3 is not configured", providers.ErrSignature)
	}
	var n PayinNotification
	if err := json.Unmarshal(r.Body, &n); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w: %v", providers.ErrSignature, err)
	}
	if n.Verification == "" {
		// The docs' own samples carry an empty payinVerification: such a
		// notification is unauthenticated; re-query the status instead.
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w: empty payinVerification", providers.ErrSignature)
	}
	want := PayinVerification(string(n.MerchantID), n.OperationNumber, string(n.Amount), n.Currency, c.payin.key)
	if string(n.MerchantID) != c.payin.merchantID || !hmac.Equal([]byte(want), []byte(strings.ToLower(n.Verification))) {
		return providers.WebhookResult{}, fmt.Errorf("monnet payin notification: %w", providers.ErrSignature)
	}
	ev := providers.Event{
		ID:     EventID(r.Body),
		Type:   "payin/" + string(n.StateID),
		Status: PayinStatus(n.StateID, n.State, n.Amount, n.Currency, n.OperationNumber, n.ErrorDetails),
	}
	return providers.WebhookResult{Events: []providers.Event{ev}, Ack: providers.OK()}, nil
}

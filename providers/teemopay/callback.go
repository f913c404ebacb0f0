package teemopay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/payrun/payrun/providers"
)

// AckBody is the plain text TeemoPay wants; anything else is retried.
const AckBody = "SUCCESS"

// ParseWebhook verifies a payout callback and returns its one event.
//
// The signature is checked first, with the platform public key over the
// body's fields (all but sign, sorted, nulls and blanks dropped) and
// "&nonce=" plus the nonce header; failure is ErrSignature. The timestamp
// header is not checked: TeemoPay documents its ±30 s window for our
// requests, not for its callbacks, the timestamp is not signed, and a
// callback retried with its first attempt's headers must still be
// accepted. ReplayKey is "teemopay:"+nonce: TeemoPay's nonces do not repeat
// within 24 h, so a receiver that keeps them refuses a replayed request.
// The event ID does not include the nonce: whether a retry repeats the
// nonce or signs afresh is not documented, and all deliveries of one fact
// must carry the same ID.
func (c *Client) ParseWebhook(r providers.WebhookRequest) (providers.WebhookResult, error) {
	nonce := r.Header.Get(HeaderNonce)
	if nonce == "" {
		return providers.WebhookResult{}, signatureError("no nonce header")
	}
	if err := verifyBody(c.platform, r.Body, nonce); err != nil {
		return providers.WebhookResult{}, signatureError(err.Error())
	}
	if app := r.Header.Get(HeaderCallbackAppCode); app != "" && app != c.appCode {
		return providers.WebhookResult{}, signatureError("appCode is not ours")
	}
	var cb Callback
	if err := json.Unmarshal(r.Body, &cb); err != nil {
		return providers.WebhookResult{}, fmt.Errorf("teemopay: callback: %w", err)
	}
	ev, err := callbackEvent(cb)
	if err != nil {
		return providers.WebhookResult{}, err
	}
	return providers.WebhookResult{
		Events:    []providers.Event{ev},
		Ack:       ackResult(),
		ReplayKey: "teemopay:" + nonce,
	}, nil
}

// Ack is the acknowledgement TeemoPay expects: 200, text/plain SUCCESS.
func ackResult() providers.Ack {
	return providers.Ack{StatusCode: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(AckBody)}
}

func signatureError(msg string) error {
	return &providers.APIError{Provider: Name, Op: "webhook", Message: msg, Kind: providers.ErrSignature}
}

// callbackEvent maps a verified callback to its event.
func callbackEvent(cb Callback) (providers.Event, error) {
	st, err := finalStatus(cb.MerchantOrderNo, cb.TradeNo, int(cb.Status), string(cb.Amount), string(cb.ServiceAmount),
		string(cb.ErrorCode), cb.ErrorMessage, cb.CompleteTime)
	if err != nil {
		return providers.Event{}, err
	}
	if cb.MerchantOrderNo == "" {
		return providers.Event{}, fmt.Errorf("teemopay: callback without merchantOrderNo")
	}
	return providers.Event{ID: eventID(cb), Type: statusWord(int(cb.Status)), Status: st}, nil
}

// eventID identifies the fact a callback reports: one payout (merchantOrderNo,
// tradeNo) reaching one status at one completeTime. Retries and duplicates
// of it share the ID; a later reversal (status 4) has its own. The fields
// are kept readable, each escaped so that "|" only separates them, and the
// payout's own reference leads: the journal keys events by ID, and IDs that
// follow the payouts' order put a storm of callbacks about one batch on a
// few pages of the journal's B-tree instead of one random page each.
func eventID(cb Callback) string {
	var b strings.Builder
	b.WriteString("teemopay:")
	for i, s := range []string{cb.MerchantOrderNo, cb.TradeNo, strconv.Itoa(int(cb.Status)), cb.CompleteTime} {
		if i > 0 {
			b.WriteByte('|')
		}
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

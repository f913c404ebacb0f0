package teemopay

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// CallbackWindow is how far a callback's timestamp header may be from its
// arrival: the ±30 s TeemoPay applies to our requests, applied back.
const CallbackWindow = 30 * time.Second

// AckBody is the plain text TeemoPay wants; anything else is retried.
const AckBody = "SUCCESS"

// ParseWebhook verifies a payout callback and returns its one event.
//
// The signature is checked first, with the platform public key over the
// body's fields (all but sign, sorted, nulls and blanks dropped) and
// "&nonce=" plus the nonce header; failure is ErrSignature. Then the
// timestamp header must be within CallbackWindow of r.Received (skipped
// when Received is zero), else ErrReplay. ReplayKey is "teemopay:"+nonce:
// TeemoPay's nonces do not repeat within 24 h, so a receiver that keeps
// them refuses a replayed request. The event ID does not include the
// nonce: TeemoPay re-signs every retry with a fresh one, and all retries of
// one fact must carry the same ID.
func (c *Client) ParseWebhook(r providers.WebhookRequest) (providers.WebhookResult, error) {
	nonce := r.Header.Get(HeaderNonce)
	if nonce == "" {
		return providers.WebhookResult{}, signatureError("no nonce header")
	}
	if err := VerifyBody(c.platform, r.Body, nonce); err != nil {
		return providers.WebhookResult{}, signatureError(err.Error())
	}
	if app := r.Header.Get(HeaderCallbackAppCode); app != "" && app != c.appCode {
		return providers.WebhookResult{}, signatureError("appCode is not ours")
	}
	if err := checkTimestamp(r.Header.Get(HeaderTimestamp), r.Received); err != nil {
		return providers.WebhookResult{}, err
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
		Ack:       Ack(),
		ReplayKey: "teemopay:" + nonce,
	}, nil
}

// Ack is the acknowledgement TeemoPay expects: 200, text/plain SUCCESS.
func Ack() providers.Ack {
	return providers.Ack{StatusCode: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(AckBody)}
}

func signatureError(msg string) error {
	return &providers.APIError{Provider: Name, Op: "webhook", Message: msg, Kind: providers.ErrSignature}
}

// checkTimestamp refuses a callback whose timestamp (ms) is missing or more
// than CallbackWindow from received. A zero received skips the check.
func checkTimestamp(h string, received time.Time) error {
	if received.IsZero() {
		return nil
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64)
	if err != nil {
		return &providers.APIError{Provider: Name, Op: "webhook", Message: "timestamp header missing or not milliseconds", Kind: providers.ErrReplay}
	}
	d := received.Sub(time.UnixMilli(ms))
	if d > CallbackWindow || d < -CallbackWindow {
		return &providers.APIError{Provider: Name, Op: "webhook", Message: fmt.Sprintf("timestamp is %v from arrival (window ±%v)", d.Round(time.Millisecond), CallbackWindow), Kind: providers.ErrReplay}
	}
	return nil
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
	return providers.Event{ID: EventID(cb), Type: statusWord(int(cb.Status)), Status: st}, nil
}

// EventID identifies the fact a callback reports: one payout (merchantOrderNo,
// tradeNo) reaching one status at one completeTime. Retries and duplicates
// of it share the ID; a later reversal (status 4) has its own. The fields
// are kept readable, each escaped so that "|" only separates them, and the
// payout's own reference leads: the journal keys events by ID, and IDs that
// follow the payouts' order put a storm of callbacks about one batch on a
// few pages of the journal's B-tree instead of one random page each.
func EventID(cb Callback) string {
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

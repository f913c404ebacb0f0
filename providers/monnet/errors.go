package monnet

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// Monnet codes with a meaning of their own.
const (
	codeAuth      = "1001" // Missing or invalid Authentication
	codeDuplicate = "2005" // [orderId] Duplicated
	codeNoBalance = "NO_BALANCE"
	// codeCardExpiry is the card push iframe's timeout event; see cardpush.go.
	codeCardExpiry = "mps-payout-finished-timeout"
	// Payin V3 creation codes.
	payinOK              = "0000"
	payinBadVerification = "0010"
	payinBadMerchant     = "0009"
	// payinDuplicate answers a repeated payinMerchantOperationNumber. The
	// docs do not say what Monnet does then; 9094 is Monnet's own
	// "Duplicate transmission" code (docs/PROVIDER_GUESSES.md).
	payinDuplicate = "9094"
)

// kindForCode classifies a Monnet error code: 1001 is our credentials,
// 2005 a duplicate orderId (the original stands), NO_BALANCE and
// insufficient-funds messages the merchant's balance, and every other
// layer (1xxx validation, 2xxx business, 3xxx fraud, 4xxx bank) a
// permanent rejection.
func kindForCode(code, message string) error {
	switch {
	case code == codeAuth:
		return providers.ErrAuth
	case code == codeDuplicate:
		return providers.ErrDuplicate
	case code == codeNoBalance,
		strings.Contains(strings.ToLower(message), "insufficient"),
		strings.Contains(strings.ToUpper(message), codeNoBalance):
		return providers.ErrInsufficientFunds
	}
	return providers.ErrRejected
}

// classify turns a non-2xx answer into an *APIError. mutating says whether
// the request could have created something: a bare 500 to a create is in
// doubt, to a query only unavailable, and so is a 409 without a Monnet
// code (a conflict that does not say with what).
func classify(op string, status int, h http.Header, body []byte, mutating bool, now time.Time) error {
	e := &providers.APIError{Provider: Name, Op: op, HTTPStatus: status}
	var er errorResponse
	if json.Unmarshal(body, &er) == nil {
		e.Code = string(er.Code)
		e.Message = strings.Join(er.Message, "; ")
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = providers.ErrRateLimited
		e.RetryAfter = providers.ParseRetryAfter(h.Get("Retry-After"), now)
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		e.Kind = providers.ErrUnavailable
	case status >= 500 && mutating:
		e.Kind = providers.ErrInDoubt
	case status >= 500:
		e.Kind = providers.ErrUnavailable
	case status == http.StatusNotFound:
		e.Kind = providers.ErrNotFound
	case e.Code != "":
		e.Kind = kindForCode(e.Code, e.Message)
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.Kind = providers.ErrAuth
	case status == http.StatusConflict && mutating:
		e.Kind = providers.ErrInDoubt
	default:
		e.Kind = providers.ErrRejected
	}
	return e
}

// inDoubt is an answer to a create that does not say clearly whether a
// new payout exists: it is resolved by asking (or by a resend of the same
// orderId, which Monnet refuses as a duplicate if the first one exists),
// never failed and never resent under a new id.
func inDoubt(op string, status int, why string) error {
	return &providers.APIError{Provider: Name, Op: op, HTTPStatus: status, Message: "answer does not say whether the payout exists: " + why, Kind: providers.ErrInDoubt}
}

// decodeError reports a 2xx body that is not what Monnet documents. For a
// create it is in doubt: something may have been created.
func decodeError(op string, err error, mutating bool) error {
	if mutating {
		return inDoubt(op, 0, "unreadable answer: "+err.Error())
	}
	return &providers.APIError{Provider: Name, Op: op, Message: "unreadable answer: " + err.Error(), Kind: providers.ErrUnavailable}
}

// kindOf returns the taxonomy error err wraps, or ErrRejected.
func kindOf(err error) error {
	for _, k := range []error{providers.ErrUnsupported, providers.ErrRejected} {
		if errors.Is(err, k) {
			return k
		}
	}
	return providers.ErrRejected
}

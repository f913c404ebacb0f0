package monnet

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// Monnet codes with a meaning of their own.
const (
	CodeAuth       = "1001" // Missing or invalid Authentication
	CodeDuplicate  = "2005" // [orderId] Duplicated
	CodeNoBalance  = "NO_BALANCE"
	CodeCardExpiry = "mps-payout-finished-timeout" // see cardpush.go
	// Payin V3 creation codes.
	PayinOK              = "0000"
	PayinBadVerification = "0010"
	PayinBadMerchant     = "0009"
	// PayinDuplicate answers a repeated payinMerchantOperationNumber. The
	// docs do not say what Monnet does then; 9094 is Monnet's own
	// "Duplicate transmission" code, and the sandbox uses it (inference).
	PayinDuplicate = "9094"
)

// KindForCode classifies a Monnet error code: 1001 is our credentials,
// 2005 a duplicate orderId (the original stands), NO_BALANCE and
// insufficient-funds messages the merchant's balance, and every other
// layer (1xxx validation, 2xxx business, 3xxx fraud, 4xxx bank) a
// permanent rejection.
func KindForCode(code, message string) error {
	switch {
	case code == CodeAuth:
		return providers.ErrAuth
	case code == CodeDuplicate:
		return providers.ErrDuplicate
	case code == CodeNoBalance,
		strings.Contains(strings.ToLower(message), "insufficient"),
		strings.Contains(strings.ToUpper(message), CodeNoBalance):
		return providers.ErrInsufficientFunds
	}
	return providers.ErrRejected
}

// classify turns a non-2xx answer into an *APIError. mutating says whether
// the request could have created something: a bare 500 to a create is in
// doubt, to a query only unavailable.
func classify(op string, status int, h http.Header, body []byte, mutating bool, now time.Time) error {
	e := &providers.APIError{Provider: Name, Op: op, HTTPStatus: status}
	var er ErrorResponse
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
		e.Kind = KindForCode(e.Code, e.Message)
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.Kind = providers.ErrAuth
	default:
		e.Kind = providers.ErrRejected
	}
	return e
}

package bank131

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// Error codes of the session API that payrun tells apart. Only
// idempotency_key_already_exists is confirmed (PROVIDERS.md 4.7); the rest
// are the codes the sandbox answers with [I], and codes nobody listed fall
// back to the HTTP status (kindFor).
const (
	codeIdempotencyKeyExists = "idempotency_key_already_exists"
	codeInvalidSignature     = "invalid_signature"
	codeInvalidProject       = "invalid_project"
	codeUnauthorized         = "unauthorized"
	codeForbidden            = "access_denied"
	codeInsufficientFunds    = "insufficient_funds"
	codeNotEnoughMoney       = "not_enough_money"
	codeSessionNotFound      = "session_not_found"
	codeNotFound             = "not_found"
	codeInvalidRequest       = "invalid_request"
	codeValidation           = "validation_error"
	codeInvalidAmount        = "invalid_amount"
	codeInvalidCurrency      = "invalid_currency"
	codeInvalidCard          = "invalid_card"
	codeInvalidSessionStatus = "invalid_session_status"
	codeTooManyRequests      = "too_many_requests"
	codeServiceUnavailable   = "service_unavailable"
	codeInternalError        = "internal_error"
)

// kindFor maps an error answer to the taxonomy: the provider's code first,
// the HTTP status when the code is unknown. mutating says whether the
// request could have changed something at the provider, which decides
// whether an ambiguous 5xx is in doubt or merely unavailable.
func kindFor(code string, httpStatus int, mutating bool) error {
	switch strings.ToLower(code) {
	case codeIdempotencyKeyExists:
		return providers.ErrDuplicate
	case codeInvalidSignature, codeInvalidProject, codeUnauthorized, codeForbidden:
		return providers.ErrAuth
	case codeInsufficientFunds, codeNotEnoughMoney:
		return providers.ErrInsufficientFunds
	case codeSessionNotFound, codeNotFound:
		return providers.ErrNotFound
	case codeInvalidRequest, codeValidation, codeInvalidAmount, codeInvalidCurrency, codeInvalidCard, codeInvalidSessionStatus:
		return providers.ErrRejected
	case codeTooManyRequests:
		return providers.ErrRateLimited
	case codeServiceUnavailable:
		return providers.ErrUnavailable
	}
	switch {
	case httpStatus == http.StatusTooManyRequests:
		return providers.ErrRateLimited
	case httpStatus == http.StatusBadGateway, httpStatus == http.StatusServiceUnavailable, httpStatus == http.StatusGatewayTimeout:
		// A proxy answered: the request did not reach the API.
		return providers.ErrUnavailable
	case httpStatus >= 500:
		// internal_error and friends: the API may have acted before failing.
		if mutating {
			return providers.ErrInDoubt
		}
		return providers.ErrUnavailable
	case httpStatus == http.StatusUnauthorized, httpStatus == http.StatusForbidden:
		return providers.ErrAuth
	case httpStatus == http.StatusNotFound:
		return providers.ErrNotFound
	}
	return providers.ErrRejected
}

// apiError builds the *APIError for an error answer.
func (c *Client) apiError(op string, httpStatus int, h http.Header, e *errorBody, mutating bool) error {
	ae := &providers.APIError{Provider: c.name, Op: op, HTTPStatus: httpStatus}
	if e != nil {
		ae.Code = e.Code
		ae.Message = e.Description
		if len(e.RejectReasons) > 0 {
			var rules []string
			for _, r := range e.RejectReasons {
				rules = append(rules, r.RuleAlias)
			}
			ae.Message += " (reject reasons: " + strings.Join(rules, ", ") + ")"
		}
	}
	ae.Kind = kindFor(ae.Code, httpStatus, mutating)
	if errors.Is(ae.Kind, providers.ErrRateLimited) {
		ae.RetryAfter = providers.ParseRetryAfter(h.Get("Retry-After"), c.now())
	}
	return ae
}

func (c *Client) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

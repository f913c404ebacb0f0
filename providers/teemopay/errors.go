package teemopay

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// Operations, as they appear in errors.
const (
	opSubmit = "submit"
	opLookup = "lookup"
)

// httpKind classifies an HTTP status that decides the outcome before the
// envelope is read: TeemoPay answers business errors with HTTP 200 and an
// envelope code, so only these statuses are meaningful on their own. ok is
// false when the envelope decides.
func httpKind(op string, status int) (kind error, ok bool) {
	switch {
	case status == http.StatusTooManyRequests:
		return providers.ErrRateLimited, true
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		// Gateways answer these before the application sees the request.
		return providers.ErrUnavailable, true
	case status >= 500:
		// 500 and the rest may come after the order was written.
		return unknownKind(op), true
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return providers.ErrAuth, true
	}
	return nil, false
}

// envelopeKind maps an envelope code (not 200) to the taxonomy. TeemoPay
// publishes only 400 "Order not found" and 425; the rest follow HTTP's
// meanings, which is what the sandbox answers [I].
func envelopeKind(op string, code int, msg string) error {
	switch code {
	case codeInsufficientBalance:
		return providers.ErrInsufficientFunds
	case codeRateLimited:
		return providers.ErrRateLimited
	case codeSignature, codeExpired:
		// Our signature, app_code, clock or nonce: configuration, not payout.
		return providers.ErrAuth
	case codeDuplicate:
		return providers.ErrDuplicate
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return providers.ErrUnavailable
	}
	switch {
	case code == codeBadRequest && op == opLookup && strings.Contains(strings.ToLower(msg), "not found"):
		// The query's "Order not found": by merchantOrderNo, it proves the
		// payout was never created.
		return providers.ErrNotFound
	case code >= 400 && code < 500 && op == opSubmit && mentionsDuplicate(msg):
		// The real duplicate answer is undocumented; accept its likely words.
		return providers.ErrDuplicate
	case code >= 400 && code < 500:
		return providers.ErrRejected
	}
	return unknownKind(op)
}

// unknownKind is the kind of an answer that does not say whether anything
// happened: in doubt for a create (the order may exist; query it), and a
// plain outage for a query, which creates nothing.
func unknownKind(op string) error {
	if op == opSubmit {
		return providers.ErrInDoubt
	}
	return providers.ErrUnavailable
}

func mentionsDuplicate(msg string) bool {
	m := strings.ToLower(msg)
	for _, w := range []string{"duplicate", "repeat", "already exist"} {
		if strings.Contains(m, w) {
			return true
		}
	}
	return false
}

func apiError(op string, httpStatus, code int, msg string, kind error) *providers.APIError {
	e := &providers.APIError{Provider: Name, Op: op, HTTPStatus: httpStatus, Message: msg, Kind: kind}
	if code != 0 {
		e.Code = strconv.Itoa(code)
	}
	return e
}

func retryAfter(h http.Header, now time.Time) time.Duration {
	return providers.ParseRetryAfter(h.Get("Retry-After"), now)
}

// invalid is a payout payrun refuses to send: TeemoPay would reject it.
func invalid(format string, args ...any) error {
	return &providers.APIError{Provider: Name, Op: opSubmit, Code: "invalid", Message: fmt.Sprintf(format, args...), Kind: providers.ErrRejected}
}

func unsupported(format string, args ...any) error {
	return &providers.APIError{Provider: Name, Op: opSubmit, Message: fmt.Sprintf(format, args...), Kind: providers.ErrUnsupported}
}

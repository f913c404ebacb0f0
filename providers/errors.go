package providers

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// The error taxonomy. Every error a provider client returns wraps exactly
// one of these (usually through an *APIError), and IsRetryable and
// IsInDoubt decide what the dispatcher does with it.
var (
	// ErrRateLimited: the provider refused because of its rate limit. Nothing
	// was created; wait (RetryAfter) and send again.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: the provider is down or answered 5xx before processing.
	// Nothing was created; send again later.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrRejected: the provider refused the payout for good (bad data, fraud
	// rules, bank rejection). Sending it again will not help.
	ErrRejected = errors.New("rejected")
	// ErrInsufficientFunds: the merchant's balance at the provider is too low.
	ErrInsufficientFunds = errors.New("insufficient funds")
	// ErrNotFound: the provider does not know the payout.
	ErrNotFound = errors.New("not found")
	// ErrNoPayout: a two-phase provider holds the session but no payout was
	// started in it (the start never reached it). Nothing can move money
	// in it without payrun's start and confirm: a fresh session is safe.
	ErrNoPayout = errors.New("session holds no payout")
	// ErrDuplicate: the merchant reference (or idempotency key) was already
	// used; the earlier payout stands and no new one was created.
	ErrDuplicate = errors.New("duplicate")
	// ErrUnsupported: the provider cannot do this (method, currency, a lookup
	// without the identifier it needs).
	ErrUnsupported = errors.New("unsupported")
	// ErrInDoubt: the request may have reached the provider (timeout, dropped
	// connection, cancelled context, 5xx after processing). Never resend
	// blindly: resolve first.
	ErrInDoubt = errors.New("in doubt")
	// ErrAuth: the provider refused our credentials or signature. A
	// configuration problem, not a payout problem.
	ErrAuth = errors.New("authentication refused")
	// ErrSignature: a webhook failed verification.
	ErrSignature = errors.New("signature verification failed")
	// ErrReplay: a webhook reused a nonce or fell outside the time window.
	ErrReplay = errors.New("replayed or stale notification")
)

// APIError is an error answer from a provider, with the provider's own code
// and message. It unwraps to one taxonomy error (Kind).
type APIError struct {
	Provider   string
	Op         string // "submit", "lookup", "confirm", ...
	HTTPStatus int
	Code       string
	Message    string
	RetryAfter time.Duration // for ErrRateLimited, when the provider said
	Kind       error
}

func (e *APIError) Error() string {
	s := e.Provider
	if e.Op != "" {
		s += " " + e.Op
	}
	s += ": " + e.Kind.Error()
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.HTTPStatus)
		if e.Code != "" {
			s += ", code " + e.Code
		}
		s += ")"
	} else if e.Code != "" {
		s += " (code " + e.Code + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

func (e *APIError) Unwrap() error { return e.Kind }

// InDoubt wraps a transport failure of a request that may have reached the
// provider.
func InDoubt(provider, op string, err error) error {
	return &APIError{Provider: provider, Op: op, Message: err.Error(), Kind: ErrInDoubt}
}

// IsRetryable reports whether sending the same request again is safe and may
// succeed: rate limits and outages where nothing was created. In-doubt
// errors are not retryable: they go through resolution first.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}

// IsInDoubt reports whether the request may have reached the provider.
func IsInDoubt(err error) bool { return errors.Is(err, ErrInDoubt) }

// RetryAfter returns the wait a provider asked for, or zero.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// Code returns the provider's error code of err, or "".
func Code(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date).
func ParseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(h, "%d", &secs); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

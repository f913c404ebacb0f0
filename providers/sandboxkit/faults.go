package sandboxkit

import (
	"strings"
	"time"
)

// Faults are a sandbox's knobs, all off by default. Probabilities are
// drawn from the kit's seeded source, so a test run is repeatable.
type Faults struct {
	// Transport faults, applied by Kit.Wrap to API paths.
	RateLimitPerSecond int           `json:"rate_limit_per_second,omitempty"` // above this, 429
	Latency            time.Duration `json:"latency,omitempty"`
	Burst5xx           int           `json:"burst_5xx,omitempty"`           // the next N requests get 5xx
	Error5xxRate       float64       `json:"error_5xx_rate,omitempty"`      // probability of 5xx
	DropResponseEvery  int           `json:"drop_response_every,omitempty"` // every Nth request is processed, its response dropped
	DropResponseRate   float64       `json:"drop_response_rate,omitempty"`

	// Webhook faults, applied by the Notifier.
	WebhookDropRate      float64       `json:"webhook_drop_rate,omitempty"` // 1 drops every webhook
	WebhookDuplicateRate float64       `json:"webhook_duplicate_rate,omitempty"`
	WebhookDelay         time.Duration `json:"webhook_delay,omitempty"`
	WebhookReorder       bool          `json:"webhook_reorder,omitempty"` // deliver in random order within a delay window

	// Money faults, applied by the sandbox's payout logic.
	ReverseAfterSuccessRate float64 `json:"reverse_after_success_rate,omitempty"`
	InsufficientBalance     bool    `json:"insufficient_balance,omitempty"`

	// DuplicateAnsweredOK answers a resent merchant reference with a 2xx
	// status whose body says it is a refused duplicate (Monnet: 201 with
	// REJECTED/BUSSINESS_ERROR and error 2005) instead of the documented
	// 400, as a real host might.
	DuplicateAnsweredOK bool `json:"duplicate_answered_ok,omitempty"`
	// UnsignedNotifications sends notifications without the signature the
	// provider's own samples leave empty (Monnet Payin: payinVerification
	// ""), so that the receiver must confirm them by a status query.
	UnsignedNotifications bool `json:"unsigned_notifications,omitempty"`

	// Rules force the outcome of matching payouts.
	Rules []Rule `json:"rules,omitempty"`

	// ProcessingDelay is how long a payout stays in progress before its
	// final state (sandbox time). Zero uses the sandbox's default.
	ProcessingDelay time.Duration `json:"processing_delay,omitempty"`
}

// Rule forces an outcome for payouts whose merchant reference contains
// RefContains (or, when set, whose amount in minor units equals Amount).
type Rule struct {
	RefContains string `json:"ref_contains,omitempty"`
	Amount      int64  `json:"amount,omitempty"`
	// Outcome is "fail", "reverse" (succeed, then reverse), "expire",
	// "timeout" (response dropped after processing) or "abandon" (the
	// beneficiary never acts on a card push or payment link, and its expiry
	// is never notified: only a status query, where there is one, or the
	// merchant's own deadline ends it).
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Match returns the first rule matching a payout.
func (f Faults) Match(ref string, amount int64) (Rule, bool) {
	for _, r := range f.Rules {
		if r.RefContains != "" && !strings.Contains(ref, r.RefContains) {
			continue
		}
		if r.Amount != 0 && r.Amount != amount {
			continue
		}
		if r.RefContains == "" && r.Amount == 0 {
			continue
		}
		return r, true
	}
	return Rule{}, false
}

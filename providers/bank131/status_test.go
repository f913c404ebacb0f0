package bank131

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/payrun/payrun/providers"
)

func TestMapSession(t *testing.T) {
	card := &paymentMethod{Type: "card", Card: &card{Last4: "4242", Brand: "visa"}}
	rub := &amountDetails{Amount: 10000, Currency: "rub"}
	pay := func(status string, mod ...func(*payment)) []payment {
		p := payment{ID: "po_1", Status: status, Metadata: json.RawMessage(`"p-1"`), AmountDetails: rub, PaymentMethod: card,
			ParticipantDetails: &participantDetails{Recipient: &participant{FullName: "Ana Diaz"}}}
		for _, m := range mod {
			m(&p)
		}
		return []payment{p}
	}
	tests := []struct {
		name    string
		s       session
		outcome providers.Outcome
		raw     string
		code    string
	}{
		{"created, no payment", session{ID: "ps_1", Status: "created", Metadata: json.RawMessage(`"p-1"`)}, providers.Processing, "created", ""},
		{"started", session{ID: "ps_1", Status: "in_progress", Payments: pay("in_progress")}, providers.Processing, "in_progress/in_progress", ""},
		{"ready to confirm", session{ID: "ps_1", Status: "in_progress", NextAction: "confirm", Payments: pay("pending")}, providers.AwaitingConfirmation, "in_progress/pending/confirm", ""},
		{"pending without next_action", session{ID: "ps_1", Status: "in_progress", Payments: pay("pending")}, providers.AwaitingConfirmation, "in_progress/pending", ""},
		{"confirmed, in progress", session{ID: "ps_1", Status: "in_progress", Payments: pay("in_progress")}, providers.Processing, "in_progress/in_progress", ""},
		{"succeeded", session{ID: "ps_1", Status: "accepted", Payments: pay("succeeded")}, providers.Succeeded, "accepted/succeeded", ""},
		{"failed", session{ID: "ps_1", Status: "accepted", Payments: pay("failed", func(p *payment) {
			p.Error = &errorBody{Code: "card_declined", Description: "declined"}
		})}, providers.Failed, "accepted/failed", "card_declined"},
		{"cancelled before start", session{ID: "ps_1", Status: "cancelled", Metadata: json.RawMessage(`"p-1"`)}, providers.Cancelled, "cancelled", ""},
		{"cancelled at confirm", session{ID: "ps_1", Status: "cancelled", Payments: pay("failed")}, providers.Cancelled, "cancelled/failed", ""},
		{"session error is not final", session{ID: "ps_1", Status: "error", Payments: pay("in_progress")}, providers.Processing, "error", ""},
		{"session error with pending payment", session{ID: "ps_1", Status: "error", NextAction: "confirm", Payments: pay("pending")}, providers.Processing, "error", ""},
		{"refund succeeded", session{ID: "ps_1", Status: "accepted", Payments: pay("succeeded", func(p *payment) {
			p.Refunds = []refund{{ID: "rf_1", Status: "succeeded"}}
		})}, providers.Reversed, "accepted/succeeded", ""},
		{"refund in progress", session{ID: "ps_1", Status: "accepted", Payments: pay("succeeded", func(p *payment) {
			p.Refunds = []refund{{ID: "rf_1", Status: "in_progress"}}
		})}, providers.Succeeded, "accepted/succeeded", ""},
		{"payment refunded", session{ID: "ps_1", Status: "accepted", Payments: pay("refunded")}, providers.Reversed, "accepted/refunded", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := mapSession(tt.s)
			if st.Outcome != tt.outcome || st.RawStatus != tt.raw || st.Code != tt.code {
				t.Errorf("got %s %q code %q, want %s %q code %q", st.Outcome, st.RawStatus, st.Code, tt.outcome, tt.raw, tt.code)
			}
			if st.Refs.SessionID != "ps_1" || st.Refs.PayoutID != "p-1" {
				t.Errorf("refs %+v", st.Refs)
			}
			if tt.s.Status == "error" && st.Message != messageSessionError {
				t.Errorf("error session message %q", st.Message)
			}
			if len(tt.s.Payments) > 0 {
				if st.Amount.Minor != 10000 || st.Amount.Currency != "RUB" {
					t.Errorf("amount %+v", st.Amount)
				}
				if st.Recipient != "card *4242 (visa) Ana Diaz" || st.Refs.ProviderID != "po_1" {
					t.Errorf("recipient %q provider id %q", st.Recipient, st.Refs.ProviderID)
				}
			}
		})
	}
}

func TestSessionRefsSources(t *testing.T) {
	tests := []struct {
		name string
		s    session
		want string
	}{
		{"payment metadata string", session{Payments: []payment{{Metadata: json.RawMessage(`"a"`), Customer: &customer{Reference: "b"}}}}, "a"},
		{"smart glocal metadata object", session{Payments: []payment{{Metadata: json.RawMessage(`{"metadata":"a","proxy_to_host":""}`)}}}, "a"},
		{"customer reference", session{Payments: []payment{{Customer: &customer{Reference: "b"}}}}, "b"},
		{"session metadata", session{Metadata: json.RawMessage(`"c"`), Payments: []payment{{}}}, "c"},
		{"nothing", session{Metadata: json.RawMessage(`42`)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mapSession(tt.s).Refs.PayoutID; got != tt.want {
				t.Errorf("payout id %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWebhookStatus(t *testing.T) {
	ready := session{ID: "ps_1", Status: "in_progress", NextAction: "confirm", Payments: []payment{{ID: "po_1", Status: "pending"}}}
	done := session{ID: "ps_1", Status: "accepted", Payments: []payment{{ID: "po_1", Status: "succeeded"}}}
	failed := session{ID: "ps_1", Status: "accepted", Payments: []payment{{ID: "po_1", Status: "failed"}}}
	cancelled := session{ID: "ps_1", Status: "cancelled", Payments: []payment{{ID: "po_1", Status: "failed"}}}
	tests := []struct {
		typ  string
		s    session
		want providers.Outcome
		ok   bool
	}{
		{"ready_to_confirm", ready, providers.AwaitingConfirmation, true},
		{"ready_to_confirm", session{ID: "ps_1", Status: "in_progress", Payments: []payment{{ID: "po_1", Status: "in_progress"}}}, providers.AwaitingConfirmation, true},
		{"payment_finished", done, providers.Succeeded, true},
		{"payment_finished", failed, providers.Failed, true},
		{"payment_finished", cancelled, providers.Cancelled, true},
		{"payment_refunded", done, providers.Reversed, true},
		{"action_required", ready, "", false},
		{"ready_to_capture", ready, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.s.Status, func(t *testing.T) {
			st, ok := webhookStatus(webhookBody{Type: tt.typ, Session: tt.s})
			if ok != tt.ok || st.Outcome != tt.want {
				t.Errorf("got %s %v, want %s %v", st.Outcome, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestKindFor(t *testing.T) {
	tests := []struct {
		code     string
		status   int
		mutating bool
		want     error
	}{
		{"idempotency_key_already_exists", 400, true, providers.ErrDuplicate},
		{"invalid_signature", 403, true, providers.ErrAuth},
		{"invalid_project", 401, false, providers.ErrAuth},
		{"insufficient_funds", 400, true, providers.ErrInsufficientFunds},
		{"session_not_found", 404, false, providers.ErrNotFound},
		{"invalid_card", 400, true, providers.ErrRejected},
		{"invalid_session_status", 400, true, providers.ErrRejected},
		{"validation_error", 400, true, providers.ErrRejected},
		{"too_many_requests", 429, true, providers.ErrRateLimited},
		{"", 429, true, providers.ErrRateLimited},
		{"service_unavailable", 503, true, providers.ErrUnavailable},
		{"", 502, true, providers.ErrUnavailable},
		{"", 504, true, providers.ErrUnavailable},
		{"internal_error", 500, true, providers.ErrInDoubt},
		{"internal_error", 500, false, providers.ErrUnavailable},
		{"something_new", 401, false, providers.ErrAuth},
		{"something_new", 404, false, providers.ErrNotFound},
		{"something_new", 422, true, providers.ErrRejected},
	}
	for _, tt := range tests {
		if got := kindFor(tt.code, tt.status, tt.mutating); !errors.Is(got, tt.want) {
			t.Errorf("kindFor(%q, %d, %v) = %v, want %v", tt.code, tt.status, tt.mutating, got, tt.want)
		}
	}
}

func TestAPIErrorShape(t *testing.T) {
	c := &Client{name: NameSmartGlocal}
	h := http.Header{}
	h.Set("Retry-After", "7")
	err := c.apiError("session/create", 429, h, &errorBody{Code: "too_many_requests", Description: "slow down"}, true)
	var ae *providers.APIError
	if !errors.As(err, &ae) || ae.Provider != NameSmartGlocal || ae.Code != "too_many_requests" || ae.RetryAfter.Seconds() != 7 {
		t.Fatalf("got %#v", err)
	}
	if !providers.IsRetryable(err) {
		t.Error("429 not retryable")
	}
	err = c.apiError("session/start/payout", 400, http.Header{}, &errorBody{Code: "invalid_card", Description: "bad", RejectReasons: []rejectReason{{RuleAlias: "blacklist"}}}, true)
	if !errors.Is(err, providers.ErrRejected) || providers.Code(err) != "invalid_card" {
		t.Errorf("got %v", err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	tests := []struct {
		attempt int
		want    string
	}{{0, "P-1"}, {1, "P-1#1"}, {7, "P-1#7"}, {-1, "P-1"}}
	for _, tt := range tests {
		if got := IdempotencyKey(providers.Payout{ID: "P-1", Attempt: tt.attempt}); got != tt.want {
			t.Errorf("attempt %d: %q, want %q", tt.attempt, got, tt.want)
		}
	}
}

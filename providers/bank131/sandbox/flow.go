package sandbox

import (
	"encoding/json"
	"net/http"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// The payout's life on the sandbox clock:
//
//	start/payout -> (delay) ready_to_confirm: next_action confirm, payment pending, webhook
//	             ... waits for session/confirm or session/cancel, for ever
//	confirm      -> (delay) payment succeeded (ledger paid) or failed (rule "fail"), payment_finished
//	succeeded    -> (delay) refund when a rule says "reverse" or ReverseAfterSuccessRate draws it:
//	                bank131 sends payment_refunded; smartglocal refunds manually, with no webhook
//
// Rule outcome "error" puts the session in status error at the first step
// and leaves it there (not final; nothing moves).

func (s *Sandbox) readyToConfirm(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil || ss.status != "in_progress" || ss.payment == nil || ss.payment.status != "in_progress" || ss.confirmed {
		return
	}
	now := s.kit.Clock.Now()
	p := ss.payment
	if p.hasRule && p.rule.Outcome == "error" {
		ss.status, ss.updated = "error", now
		return
	}
	ss.nextAction, ss.updated = "confirm", now
	p.status, p.updated = "pending", now
	s.notify("ready_to_confirm", ss)
}

func (s *Sandbox) execute(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil || !ss.confirmed || ss.payment == nil || ss.payment.status != "in_progress" {
		return
	}
	now := s.kit.Clock.Now()
	p := ss.payment
	ss.status, ss.updated = "accepted", now
	p.updated = now
	if p.hasRule && p.rule.Outcome == "fail" {
		code, msg := p.rule.Code, p.rule.Message
		if code == "" {
			code = "payout_declined"
		}
		if msg == "" {
			msg = "the issuer declined the payout"
		}
		p.status, p.err = "failed", &errorJSON{Code: code, Description: msg}
		s.kit.Ledger.Set(ss.id, "failed", now)
		s.notify("payment_finished", ss)
		return
	}
	p.status = "succeeded"
	s.kit.Ledger.Set(ss.id, "paid", now)
	s.notify("payment_finished", ss)
	if (p.hasRule && p.rule.Outcome == "reverse") || s.kit.Chance(s.kit.Faults().ReverseAfterSuccessRate) {
		s.kit.Clock.After(s.processingDelay(), func() { s.refund(id) })
	}
}

func (s *Sandbox) refund(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil || ss.payment == nil || ss.payment.status != "succeeded" || ss.payment.refund != nil {
		return
	}
	now := s.kit.Clock.Now()
	p := ss.payment
	p.refund = &refundJSON{ID: s.nextID("rf"), Status: "succeeded", CreatedAt: ts(now), AmountDetails: p.amount}
	p.updated, ss.updated = now, now
	s.kit.Ledger.Set(ss.id, "reversed", now)
	if s.name != "smartglocal" {
		s.notify("payment_refunded", ss)
	}
	// Smart Glocal refunds payouts manually and tells nobody: only
	// session/status shows it (PROVIDERS.md 4.5).
}

// notify snapshots the session and schedules its webhook, signed with the
// provider's key; retries resend the same bytes. Callers hold s.mu.
func (s *Sandbox) notify(typ string, ss *sessionState) {
	if s.webhookURL == "" {
		return
	}
	body, err := json.Marshal(webhookJSON{Type: typ, Session: ss.wire()})
	if err != nil {
		return
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-PARTNER-SIGN", sign(s.creds.ProviderKey, body))
	s.kit.Notifier.Send(sandboxkit.Webhook{
		URL:   s.webhookURL,
		Build: func(int) (http.Header, []byte) { return h.Clone(), body },
	})
}

package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// payout is one payout in Monnet's books (bank, wallet or card push).
type payout struct {
	id       int64
	req      checked
	stage    string
	status   string
	changed  time.Time
	errs     []errorItem
	authCode string
	// card push
	card      bool
	token     string
	cardLast  string
	abandoned bool // the beneficiary never acts; the expiry is never notified
}

func (p *payout) ref() string { return strconv.FormatInt(p.id, 10) }

// monnetTime is statusChangeDateTime in the ISO form Monnet's answers use.
func monnetTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// answer is the create/status body for p; s.mu held.
func (p *payout) answer() payoutAnswer {
	return payoutAnswer{
		Payout: payoutJSON{ID: p.id, Country: "PER", Amount: p.req.amount, Currency: p.req.currency, OrderID: p.req.orderID},
		Output: outputJSON{Stage: p.stage, Status: p.status, StatusChangeDateTime: monnetTime(p.changed)},
		Errors: append([]errorItem(nil), p.errs...),
	}
}

func (s *Sandbox) createPayout(w http.ResponseWriter, r *http.Request, body []byte) {
	c, rej := validate(body, false)
	if rej != nil {
		writeError(w, http.StatusBadRequest, rej.code, rej.msg)
		return
	}
	p, dup := s.open(c, false)
	if dup != nil {
		s.refuseDuplicate(w, dup, http.StatusCreated)
		return
	}
	s.mu.Lock()
	a := p.answer()
	s.mu.Unlock()
	s.maybeTimeout(c)
	writeJSON(w, http.StatusCreated, a)
}

// refuseDuplicate answers a resent orderId: 400 with code 2005, as
// documented, or, with the DuplicateAnsweredOK fault, okStatus (the
// endpoint's success status) with the refused duplicate's own REJECTED/2005
// record, as a real host might.
func (s *Sandbox) refuseDuplicate(w http.ResponseWriter, dup *payout, okStatus int) {
	if s.dup2xx || s.kit.Faults().DuplicateAnsweredOK {
		s.mu.Lock()
		a := dup.answer()
		s.mu.Unlock()
		writeJSON(w, okStatus, a)
		return
	}
	writeError(w, http.StatusBadRequest, codeDuplicate, "[orderId] Duplicated")
}

// maybeTimeout applies a "timeout" rule: processed, response dropped.
func (s *Sandbox) maybeTimeout(c checked) {
	if rule, ok := s.kit.Faults().Match(c.orderID, c.amount); ok && rule.Outcome == "timeout" {
		panic(http.ErrAbortHandler)
	}
}

// open records a new payout, or refuses a repeated orderId: it returns the
// refused duplicate's own record (REJECTED/2005, with an Id of its own,
// never in the books), whose notification Monnet sends too.
func (s *Sandbox) open(c checked, card bool) (p *payout, dup *payout) {
	now := s.kit.Clock.Now()
	s.mu.Lock()
	if _, exists := s.byOrder[c.orderID]; exists {
		dup := &payout{id: s.newID(), req: c, stage: stageRejected, status: statusBusiness, changed: now,
			errs: []errorItem{{Code: codeDuplicate, Message: "[orderId] Duplicated"}}}
		s.mu.Unlock()
		s.kit.Clock.After(s.processingDelay(), func() { s.notify(dup) })
		return nil, dup
	}
	p = &payout{id: s.newID(), req: c, stage: stageInProgress, status: statusCreated, changed: now, card: card}
	s.payouts[p.id] = p
	s.byOrder[c.orderID] = p.id
	short := s.balances[c.currency] < c.amount || s.kit.Faults().InsufficientBalance
	if short && !card {
		p.stage, p.status = stagePending, statusPendingBalance
	}
	s.mu.Unlock()
	s.kit.Ledger.Open(c.orderID, p.ref(), c.amount, c.currency, now)
	if card {
		return p, nil
	}
	if short {
		s.kit.Ledger.Set(p.ref(), "pending", now)
	}
	s.kit.Clock.After(s.processingDelay(), func() { s.settle(p.id) })
	return p, nil
}

// settle moves an in-progress payout to its final stage; on the clock.
func (s *Sandbox) settle(id int64) {
	f := s.kit.Faults()
	now := s.kit.Clock.Now()
	s.mu.Lock()
	p := s.payouts[id]
	if p == nil || p.stage == stageSuccess || p.stage == stageRejected {
		s.mu.Unlock()
		return
	}
	rule, ruled := f.Match(p.req.orderID, p.req.amount)
	state := "paid"
	switch {
	case ruled && rule.Outcome == "fail":
		code := rule.Code
		if code == "" {
			code = "4001"
		}
		msg := rule.Message
		if msg == "" {
			msg = "Bank Rejection"
		}
		p.stage, p.status, p.errs = stageRejected, statusForCode(code), []errorItem{{Code: code, Message: msg}}
		state = "failed"
	case p.stage == stagePending || s.balances[p.req.currency] < p.req.amount || f.InsufficientBalance:
		p.stage, p.status = stageRejected, statusNoBalance
		p.errs = []errorItem{{Code: statusNoBalance, Message: "Insufficient balance, send the payout again"}}
		state = "failed"
	default:
		s.balances[p.req.currency] -= p.req.amount
		p.stage, p.status = stageSuccess, statusProcessed
		p.authCode = strconv.FormatInt(100000+id%900000, 10)
	}
	p.changed = now
	reverse := state == "paid" && ((ruled && rule.Outcome == "reverse") || s.kit.Chance(f.ReverseAfterSuccessRate))
	s.mu.Unlock()
	s.kit.Ledger.Set(p.ref(), state, now)
	s.notify(p)
	if reverse {
		s.kit.Clock.After(s.processingDelay(), func() { s.reverse(id) })
	}
}

// reverse turns a success into REJECTED/REVERSED, as Peruvian interbank
// transfers can (BANCO_EXITO to BANCO_RECHAZO).
func (s *Sandbox) reverse(id int64) {
	now := s.kit.Clock.Now()
	s.mu.Lock()
	p := s.payouts[id]
	p.stage, p.status, p.changed = stageRejected, statusReversed, now
	p.errs = []errorItem{{Code: "4000", Message: "Bank Rejection - Transfer returned"}}
	s.balances[p.req.currency] += p.req.amount
	s.mu.Unlock()
	s.kit.Ledger.Set(p.ref(), "reversed", now)
	s.notify(p)
}

// statusForCode is the REJECTED status word of an error layer.
func statusForCode(code string) string {
	switch {
	case code == statusNoBalance:
		return statusNoBalance
	case len(code) == 4 && code[0] == '1':
		return "DATA_ERROR"
	case len(code) == 4 && code[0] == '2':
		return statusBusiness
	case len(code) == 4 && code[0] == '3':
		return "DENIED"
	case len(code) == 4 && code[0] == '4':
		return "REJECTED_BANK"
	}
	return "ERROR"
}

// getPayout is the status query, by Monnet's own Id only.
func (s *Sandbox) getPayout(w http.ResponseWriter, r *http.Request, _ []byte) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	p := s.payouts[id]
	var a payoutAnswer
	if p != nil {
		a = p.answer()
	}
	s.mu.Unlock()
	if err != nil || p == nil {
		writeError(w, http.StatusNotFound, "404", "Payout not found")
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// notify signs and sends p's current state. The body is built once, so a
// retried or duplicated delivery carries the same bytes.
func (s *Sandbox) notify(p *payout) {
	var n notificationJSON
	s.mu.Lock()
	n.Payout.MerchantID = s.creds.MerchantID
	n.Payout.ID = p.ref()
	n.Payout.OrderID = p.req.orderID
	n.Payout.Amount = strconv.FormatInt(p.req.amount, 10)
	n.Payout.Currency = p.req.currency
	n.Payout.BankCode = p.req.bankCode
	n.Payout.AccountNumber = p.req.accountNumber
	if p.card {
		n.Payout.AccountNumber = p.cardLast
	}
	n.Payout.Name = p.req.name + " " + p.req.lastName
	n.Payout.CustomerEmail = p.req.email
	n.Output = outputJSON{Stage: p.stage, Status: p.status, StatusChangeDateTime: p.changed.UTC().Format("20060102150405")}
	if p.stage == stageSuccess {
		n.Output.AuthorizationCode = p.authCode
		n.Output.AuthorizationDate = n.Output.StatusChangeDateTime
	}
	n.Errors = append([]errorItem(nil), p.errs...)
	s.mu.Unlock()
	body, err := json.Marshal(n)
	if err != nil {
		return
	}
	sig, err := signNotification(s.creds.NotifierKey, s.creds.MerchantID, body)
	if err != nil {
		return
	}
	h := http.Header{}
	h.Set("verification", sig)
	h.Set("Content-Type", "application/json")
	s.kit.Notifier.Send(sandboxkit.Webhook{URL: s.webhookURL(), Build: func(int) (http.Header, []byte) { return h.Clone(), body }})
}

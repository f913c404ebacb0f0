package sandbox

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/payrun/payrun/providers/monnet"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// payout is one payout in Monnet's books (bank, wallet or card push).
type payout struct {
	id       int64
	req      checked
	stage    string
	status   string
	changed  time.Time
	errs     []monnet.ErrorWire
	authCode string
	// card push
	card     bool
	token    string
	cardLast string
}

func (p *payout) ref() string { return strconv.FormatInt(p.id, 10) }

// monnetTime is statusChangeDateTime in the ISO form Monnet uses.
func monnetTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// view is the create/status answer for p; s.mu held.
func (p *payout) view() monnet.PayoutResponse {
	return monnet.PayoutResponse{
		Payout: monnet.PayoutInfo{ID: monnet.Flex(p.ref()), Country: "PER", Amount: monnet.Flex(strconv.FormatInt(p.req.amount, 10)), Currency: p.req.currency, OrderID: p.req.orderID},
		Output: monnet.OutputWire{Stage: p.stage, Status: p.status, StatusChangeDateTime: monnetTime(p.changed)},
		Errors: p.errs,
	}
}

// statusJSON renders the create/status body with a numeric Id, as Monnet does.
func statusJSON(v monnet.PayoutResponse) map[string]any {
	id, _ := v.Payout.ID.Int()
	amount, _ := v.Payout.Amount.Int()
	m := map[string]any{
		"payout": map[string]any{"Id": id, "country": v.Payout.Country, "amount": amount, "currency": v.Payout.Currency, "orderId": v.Payout.OrderID},
		"output": v.Output,
	}
	if len(v.Errors) > 0 {
		m["errors"] = v.Errors
	}
	return m
}

func (s *Sandbox) createPayout(w http.ResponseWriter, r *http.Request, body []byte) {
	c, rej := validate(body, false)
	if rej != nil {
		writeError(w, http.StatusBadRequest, rej.code, rej.msg)
		return
	}
	p, dup := s.open(c, false)
	if dup {
		writeError(w, http.StatusBadRequest, monnet.CodeDuplicate, "[orderId] Duplicated")
		return
	}
	s.mu.Lock()
	v := p.view()
	s.mu.Unlock()
	s.maybeTimeout(c)
	writeJSON(w, http.StatusCreated, statusJSON(v))
}

// maybeTimeout applies a "timeout" rule: processed, response dropped.
func (s *Sandbox) maybeTimeout(c checked) {
	if rule, ok := s.kit.Faults().Match(c.orderID, c.amount); ok && rule.Outcome == "timeout" {
		panic(http.ErrAbortHandler)
	}
}

// open records a new payout, or reports a duplicate orderId (and sends the
// REJECTED/2005 notification Monnet sends for the refused duplicate).
func (s *Sandbox) open(c checked, card bool) (*payout, bool) {
	now := s.kit.Clock.Now()
	s.mu.Lock()
	if _, exists := s.byOrder[c.orderID]; exists {
		dup := &payout{id: s.newID(), req: c, stage: monnet.StageRejected, status: "BUSSINESS_ERROR", changed: now,
			errs: []monnet.ErrorWire{{Code: monnet.CodeDuplicate, Message: "[orderId] Duplicated"}}}
		s.mu.Unlock()
		s.kit.Clock.After(s.processingDelay(), func() { s.notify(dup) })
		return nil, true
	}
	p := &payout{id: s.newID(), req: c, stage: monnet.StageInProgress, status: monnet.StatusCreated, changed: now, card: card}
	s.payouts[p.id] = p
	s.byOrder[c.orderID] = p.id
	short := s.balances[c.currency] < c.amount || s.kit.Faults().InsufficientBalance
	if short && !card {
		p.stage, p.status = monnet.StagePending, "PENDING_BALANCE"
	}
	s.mu.Unlock()
	s.kit.Ledger.Open(c.orderID, p.ref(), c.amount, c.currency, now)
	if card {
		return p, false
	}
	if short {
		s.kit.Ledger.Set(p.ref(), "pending", now)
	}
	s.kit.Clock.After(s.processingDelay(), func() { s.settle(p.id) })
	return p, false
}

// settle moves an in-progress payout to its final stage; on the clock.
func (s *Sandbox) settle(id int64) {
	f := s.kit.Faults()
	now := s.kit.Clock.Now()
	s.mu.Lock()
	p := s.payouts[id]
	if p == nil || p.stage == monnet.StageSuccess || p.stage == monnet.StageRejected {
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
		p.stage, p.status, p.errs = monnet.StageRejected, statusForCode(code), []monnet.ErrorWire{{Code: code, Message: msg}}
		state = "failed"
	case p.stage == monnet.StagePending || s.balances[p.req.currency] < p.req.amount || f.InsufficientBalance:
		p.stage, p.status = monnet.StageRejected, monnet.CodeNoBalance
		p.errs = []monnet.ErrorWire{{Code: monnet.CodeNoBalance, Message: "Insufficient balance, send the payout again"}}
		state = "failed"
	default:
		s.balances[p.req.currency] -= p.req.amount
		p.stage, p.status = monnet.StageSuccess, "PROCESSED"
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
	p.stage, p.status, p.changed = monnet.StageRejected, monnet.StatusReversed, now
	p.errs = []monnet.ErrorWire{{Code: "4000", Message: "Bank Rejection - Transfer returned"}}
	s.balances[p.req.currency] += p.req.amount
	s.mu.Unlock()
	s.kit.Ledger.Set(p.ref(), "reversed", now)
	s.notify(p)
}

// statusForCode is the REJECTED status word of an error layer.
func statusForCode(code string) string {
	switch {
	case code == monnet.CodeNoBalance:
		return monnet.CodeNoBalance
	case len(code) == 4 && code[0] == '1':
		return "DATA_ERROR"
	case len(code) == 4 && code[0] == '2':
		return "BUSSINESS_ERROR"
	case len(code) == 4 && code[0] == '3':
		return "DENIED"
	case len(code) == 4 && code[0] == '4':
		return "REJECTED_BANK"
	}
	return "ERROR"
}

func (s *Sandbox) getPayout(w http.ResponseWriter, r *http.Request, _ []byte) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	p := s.payouts[id]
	var v monnet.PayoutResponse
	if p != nil {
		v = p.view()
	}
	s.mu.Unlock()
	if err != nil || p == nil {
		writeError(w, http.StatusNotFound, "404", "Payout not found")
		return
	}
	writeJSON(w, http.StatusOK, statusJSON(v))
}

// notification is the body Monnet posts for a payout (PROVIDERS.md 1.5):
// string amount and id, lower-case "id".
type notification struct {
	Payout struct {
		MerchantID    string `json:"merchantId"`
		ID            string `json:"id"`
		OrderID       string `json:"orderId"`
		Amount        string `json:"amount"`
		Currency      string `json:"currency"`
		BankCode      string `json:"bankCode,omitempty"`
		AccountNumber string `json:"accountNumber,omitempty"`
		Name          string `json:"name"`
		CustomerEmail string `json:"customerEmail,omitempty"`
	} `json:"payout"`
	Output monnet.OutputWire  `json:"output"`
	Errors []monnet.ErrorWire `json:"errors,omitempty"`
}

// notify signs and sends p's current state. The body is built once, so a
// retried or duplicated delivery carries the same bytes.
func (s *Sandbox) notify(p *payout) {
	var n notification
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
	n.Output = monnet.OutputWire{Stage: p.stage, Status: p.status, StatusChangeDateTime: p.changed.UTC().Format("20060102150405")}
	if p.stage == monnet.StageSuccess {
		n.Output.AuthorizationCode = p.authCode
		n.Output.AuthorizationDate = n.Output.StatusChangeDateTime
	}
	n.Errors = append([]monnet.ErrorWire(nil), p.errs...)
	s.mu.Unlock()
	body, err := json.Marshal(n)
	if err != nil {
		return
	}
	sig, err := monnet.SignNotification(s.creds.NotifierKey, s.creds.MerchantID, body)
	if err != nil {
		return
	}
	h := http.Header{}
	h.Set("verification", sig)
	h.Set("Content-Type", "application/json")
	s.kit.Notifier.Send(sandboxkit.Webhook{URL: s.webhookURL(), Build: func(int) (http.Header, []byte) { return h.Clone(), body }})
}

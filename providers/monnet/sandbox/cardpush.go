package sandbox

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// defaultCardExpiry is the iframe's own timeout (mps-payout-finished-timeout
// "after 15 minutes without receiving information").
const defaultCardExpiry = 15 * time.Minute

func (s *Sandbox) createCardPush(w http.ResponseWriter, r *http.Request, body []byte) {
	c, rej := validate(body, true)
	if rej != nil {
		writeError(w, http.StatusBadRequest, rej.code, rej.msg)
		return
	}
	var extra struct {
		ExpirationTime string `json:"expirationTime"`
	}
	_ = json.Unmarshal(body, &extra)
	expiry := defaultCardExpiry
	if m, err := strconv.Atoi(strings.TrimSpace(extra.ExpirationTime)); err == nil && m > 0 {
		expiry = time.Duration(m) * time.Minute
	}
	rule, ruled := s.kit.Faults().Match(c.orderID, c.amount)
	if ruled && rule.Outcome == "expire" {
		expiry = s.processingDelay()
	}
	p, dup := s.open(c, true)
	if dup != nil {
		s.refuseDuplicate(w, dup, http.StatusOK)
		return
	}
	s.mu.Lock()
	p.abandoned = ruled && rule.Outcome == "abandon"
	p.token = randomHex(16)
	s.byToken[p.token] = p.id
	s.mu.Unlock()
	id := p.id
	s.kit.Clock.After(expiry, func() { s.expireCard(id) })
	s.maybeTimeout(c)
	writeJSON(w, http.StatusOK, map[string]string{"iframe": baseURL(r) + "/_sandbox/cardpush/" + p.token})
}

// expireCard ends an iframe nobody completed. Monnet does not document how
// the timeout reaches the merchant's server; the sandbox sends a REJECTED
// notification whose error code is the iframe event's name, except for a
// payout an "abandon" rule marks, whose expiry nobody is told of (a real
// host may send nothing at all).
func (s *Sandbox) expireCard(id int64) {
	now := s.kit.Clock.Now()
	s.mu.Lock()
	p := s.payouts[id]
	if p == nil || p.status != statusCreated {
		s.mu.Unlock()
		return
	}
	p.stage, p.status, p.changed = stageRejected, "ERROR", now
	p.errs = []errorItem{{Code: codeCardTimeout, Message: "Payout timed out"}}
	silent := p.abandoned
	s.mu.Unlock()
	s.kit.Ledger.Set(p.ref(), "expired", now)
	if !silent {
		s.notify(p)
	}
}

func (s *Sandbox) cardPayout(token string) *payout {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.payouts[s.byToken[token]]
}

func (s *Sandbox) cardIframe(w http.ResponseWriter, r *http.Request) {
	p := s.cardPayout(r.PathValue("token"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	amount, cur := p.req.amount, p.req.currency
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Monnet payout (sandbox)</title><p>Payout of %d.%02d %s</p>
<form method="post" action="%s/complete"><input name="pan" placeholder="VISA card number"><input name="expiry" placeholder="YYYY-MM"><button>Receive</button></form>`,
		amount/100, amount%100, html.EscapeString(cur), html.EscapeString(r.URL.Path))
}

// cardComplete plays the beneficiary: a VISA card (Luhn-valid, starting
// with 4) is tokenised and the payout runs. The card number is neither
// stored nor logged; only its last four digits appear in the notification.
func (s *Sandbox) cardComplete(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PAN    string `json:"pan"`
		Expiry string `json:"expiry"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&in)
	} else {
		in.PAN, in.Expiry = r.FormValue("pan"), r.FormValue("expiry")
	}
	if !visa(in.PAN) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"topic": "mps-payout-finished-fail", "data": map[string]string{"reason": "only VISA cards issued in Peru"}})
		return
	}
	if _, err := time.Parse("2006-01", in.Expiry); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"topic": "mps-payout-finished-fail", "data": map[string]string{"reason": "expiry must be YYYY-MM"}})
		return
	}
	p := s.cardPayout(r.PathValue("token"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	if p.status != statusCreated || p.abandoned {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, map[string]any{"topic": "mps-payout-finished-timeout", "data": map[string]string{}})
		return
	}
	p.status, p.changed = statusAuthorized, s.kit.Clock.Now()
	p.cardLast = "************" + in.PAN[len(in.PAN)-4:]
	s.mu.Unlock()
	id := p.id
	s.kit.Clock.After(s.processingDelay(), func() { s.settle(id) })
	writeJSON(w, http.StatusOK, map[string]any{"topic": "mps-payout-finished-ok", "data": map[string]string{}})
}

// visa reports a 16-digit, Luhn-valid number starting with 4.
func visa(pan string) bool {
	if len(pan) != 16 || pan[0] != '4' || !sandboxkit.Digits(pan) {
		return false
	}
	sum := 0
	for i := 0; i < 16; i++ {
		d := int(pan[15-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

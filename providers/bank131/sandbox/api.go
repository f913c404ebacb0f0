package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// The session API methods. Each runs under s.mu and returns the HTTP
// status, the answer and whether to drop the response after processing.

func (s *Sandbox) create(r *http.Request, body []byte) (int, any, bool) {
	var req createReq
	if !decode(body, &req) {
		return bad("invalid_request", "body is not valid JSON")
	}
	if code, a, drop := s.checkMetadata(req.Metadata); code != 0 {
		return code, a, drop
	}
	if req.AmountDetails != nil {
		if code, desc := checkAmount(*req.AmountDetails); code != "" {
			return bad(code, desc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idempotent(r, func() (int, any, bool) {
		now := s.kit.Clock.Now()
		ss := &sessionState{id: s.nextID("ps"), status: "created", created: now, updated: now, metadata: req.Metadata}
		if req.AmountDetails != nil {
			a := *req.AmountDetails
			a.Currency = strings.ToLower(a.Currency)
			ss.amount = &a
			// A session with an amount is already a payout in the books
			// (state created); nothing moves before confirm.
			s.kit.Ledger.Open(reference(req.Metadata), ss.id, a.Amount, strings.ToUpper(a.Currency), now)
		}
		s.sessions[ss.id] = ss
		s.order = append(s.order, ss.id)
		return ok(ss)
	})
}

func checkAmount(a amountJSON) (string, string) {
	if a.Amount <= 0 {
		return "invalid_amount", "amount_details.amount must be greater than zero"
	}
	if !validCurrency(a.Currency) {
		return "invalid_currency", "amount_details.currency is not supported"
	}
	return "", ""
}

func (s *Sandbox) startPayout(r *http.Request, body []byte) (int, any, bool) {
	var req startReq
	if !decode(body, &req) {
		return bad("invalid_request", "body is not valid JSON")
	}
	if req.SessionID == "" {
		return bad("invalid_request", "session_id is required")
	}
	last4, brand, code, a, refused := s.checkStart(req)
	if refused {
		return code, a, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idempotent(r, func() (int, any, bool) {
		ss, found := s.sessions[req.SessionID]
		if !found {
			return http.StatusNotFound, errAnswer("session_not_found", "no session "+req.SessionID), false
		}
		return s.startOn(ss, req, last4, brand)
	})
}

// initPayout is session/init/payout: session/create and
// session/start/payout in one call, with everything start/payout takes
// (amount_details required). Under one idempotency key, a repeat creates
// nothing.
func (s *Sandbox) initPayout(r *http.Request, body []byte) (int, any, bool) {
	var req startReq
	if !decode(body, &req) {
		return bad("invalid_request", "body is not valid JSON")
	}
	if req.SessionID != "" {
		return bad("invalid_request", "session_id is not taken by session/init/payout: it creates the session")
	}
	if req.AmountDetails == nil {
		return bad("invalid_amount", "amount_details are required")
	}
	last4, brand, code, a, refused := s.checkStart(req)
	if refused {
		return code, a, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idempotent(r, func() (int, any, bool) {
		now := s.kit.Clock.Now()
		am := *req.AmountDetails
		am.Currency = strings.ToLower(am.Currency)
		ss := &sessionState{id: s.nextID("ps"), status: "created", created: now, updated: now, metadata: req.Metadata, amount: &am}
		if s.kit.Faults().InsufficientBalance {
			return bad("insufficient_funds", "not enough money on the project balance for the payout")
		}
		s.sessions[ss.id] = ss
		s.order = append(s.order, ss.id)
		return s.startOn(ss, req, last4, brand)
	})
}

// checkStart validates a start/payout or init/payout body as the provider
// does, before anything is created. refused says it failed, with the
// answer in code and a.
func (s *Sandbox) checkStart(req startReq) (last4, brand string, code int, a any, refused bool) {
	if code, a, _ := s.checkMetadata(req.Metadata); code != 0 {
		return "", "", code, a, true
	}
	pm := req.PaymentMethod
	if pm == nil || pm.Type != "card" || pm.Card == nil {
		code, a, _ = bad("invalid_request", "payment_method.type must be card, with a card object")
		return "", "", code, a, true
	}
	switch pm.Card.Type {
	case "encrypted_card":
		if pm.Card.EncryptedCard == nil || !isHash(pm.Card.EncryptedCard.NumberHash) {
			code, a, _ = bad("invalid_card", "encrypted_card.number_hash is not a card token")
			return "", "", code, a, true
		}
	case "bank_card":
		if pm.Card.BankCard == nil || !luhn(pm.Card.BankCard.Number) {
			code, a, _ = bad("invalid_card", "bank_card.number is not a valid card number")
			return "", "", code, a, true
		}
		n := pm.Card.BankCard.Number
		last4, brand = n[len(n)-4:], brandOf(n)
	default:
		code, a, _ = bad("invalid_request", "card.type must be encrypted_card or bank_card")
		return "", "", code, a, true
	}
	if req.ParticipantDetails == nil || req.ParticipantDetails.Recipient == nil || strings.TrimSpace(req.ParticipantDetails.Recipient.FullName) == "" {
		code, a, _ = bad("validation_error", "participant_details.recipient.full_name is required")
		return "", "", code, a, true
	}
	if req.AmountDetails != nil {
		if c, desc := checkAmount(*req.AmountDetails); c != "" {
			code, a, _ = bad(c, desc)
			return "", "", code, a, true
		}
	}
	return last4, brand, 0, nil, false
}

// startOn starts the payout of a validated body in session ss. Callers
// hold s.mu, inside the idempotency check.
func (s *Sandbox) startOn(ss *sessionState, req startReq, last4, brand string) (int, any, bool) {
	pm := req.PaymentMethod
	if ss.status != "created" || ss.payment != nil {
		return bad("invalid_session_status", "session "+ss.id+" is "+ss.status+"; a payout can start only in a created session")
	}
	amount := ss.amount
	if req.AmountDetails != nil {
		a := *req.AmountDetails
		a.Currency = strings.ToLower(a.Currency)
		if amount != nil && (amount.Amount != a.Amount || amount.Currency != a.Currency) {
			return bad("invalid_amount", "amount_details differ from the session's")
		}
		amount = &a
	}
	if amount == nil {
		return bad("invalid_amount", "amount_details are required")
	}
	if pm.Card.Type == "encrypted_card" {
		var known bool
		last4, brand, known = s.tokenCard(pm.Card.EncryptedCard.NumberHash)
		if !known && s.strictTokens {
			return bad("invalid_card", "encrypted_card.number_hash was not issued by the tokenization widget")
		}
	}
	ref := reference(req.Metadata)
	custRef := ""
	if req.Customer != nil {
		custRef = req.Customer.Reference
	}
	if ref == "" {
		ref = custRef
	}
	if ref == "" {
		ref = reference(ss.metadata)
	}
	f := s.kit.Faults()
	if f.InsufficientBalance {
		return bad("insufficient_funds", "not enough money on the project balance for the payout")
	}
	now := s.kit.Clock.Now()
	p := &paymentState{
		id: s.nextID("po"), status: "in_progress", created: now, updated: now,
		reference: ref, customerRef: custRef, metadata: req.Metadata,
		last4: last4, brand: brand, fullName: req.ParticipantDetails.Recipient.FullName, amount: *amount,
	}
	p.rule, p.hasRule = f.Match(ref, amount.Amount)
	ss.payment, ss.status, ss.updated = p, "in_progress", now
	s.kit.Ledger.Open(ref, ss.id, amount.Amount, strings.ToUpper(amount.Currency), now)
	s.kit.Ledger.Set(ss.id, "pending", now)
	id := ss.id
	s.kit.Clock.After(s.processingDelay(), func() { s.readyToConfirm(id) })
	code, out, _ := ok(ss)
	return code, out, p.hasRule && p.rule.Outcome == "timeout"
}

// onSession answers a request naming a session_id: a missing id is 400,
// an unknown session 404, and fn runs on the session under the sandbox's
// lock, inside the idempotency check when idempotent is true.
func (s *Sandbox) onSession(r *http.Request, body []byte, idempotent bool, fn func(ss *sessionState) (int, any, bool)) (int, any, bool) {
	var req sessionIDReq
	if !decode(body, &req) || req.SessionID == "" {
		return bad("invalid_request", "session_id is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	find := func() (int, any, bool) {
		ss, found := s.sessions[req.SessionID]
		if !found {
			return http.StatusNotFound, errAnswer("session_not_found", "no session "+req.SessionID), false
		}
		return fn(ss)
	}
	if !idempotent {
		return find()
	}
	return s.idempotent(r, find)
}

func (s *Sandbox) confirm(r *http.Request, body []byte) (int, any, bool) {
	return s.onSession(r, body, true, func(ss *sessionState) (int, any, bool) {
		if ss.status != "in_progress" || ss.nextAction != "confirm" || ss.payment == nil {
			return bad("invalid_session_status", "session "+ss.id+" does not wait for confirmation")
		}
		now := s.kit.Clock.Now()
		ss.nextAction, ss.confirmed, ss.updated = "", true, now
		ss.payment.status, ss.payment.updated = "in_progress", now
		id := ss.id
		s.kit.Clock.After(s.processingDelay(), func() { s.execute(id) })
		return ok(ss)
	})
}

func (s *Sandbox) cancel(r *http.Request, body []byte) (int, any, bool) {
	return s.onSession(r, body, true, func(ss *sessionState) (int, any, bool) {
		if ss.confirmed || (ss.status != "created" && ss.status != "in_progress") {
			return bad("invalid_session_status", "session "+ss.id+" is "+ss.status+" and can no longer be cancelled")
		}
		now := s.kit.Clock.Now()
		ss.status, ss.nextAction, ss.updated = "cancelled", "", now
		s.kit.Ledger.Set(ss.id, "cancelled", now)
		if p := ss.payment; p != nil {
			p.status, p.updated = "failed", now
			p.err = &errorJSON{Code: "session_cancelled", Description: "the session was cancelled by the partner"}
			s.notify("payment_finished", ss)
		}
		return ok(ss)
	})
}

func (s *Sandbox) status(r *http.Request, body []byte) (int, any, bool) {
	return s.onSession(r, body, false, func(ss *sessionState) (int, any, bool) { return ok(ss) })
}

func (s *Sandbox) tokenInfo(r *http.Request, body []byte) (int, any, bool) {
	var req tokenInfoReq
	if !decode(body, &req) {
		return bad("invalid_request", "body is not valid JSON")
	}
	if req.Type != "card" {
		return bad("validation_error", "type must be card, public_token or recurrent_token; only card is served here")
	}
	if req.Card == nil || req.Card.EncryptedCard == nil || !isHash(req.Card.EncryptedCard.NumberHash) {
		return bad("invalid_card", "card.encrypted_card.number_hash is not a card token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hash := req.Card.EncryptedCard.NumberHash
	last4, brand, known := s.tokenCard(hash)
	if !known && s.strictTokens {
		return http.StatusNotFound, errAnswer("not_found", "no card with this number_hash was tokenized"), false
	}
	return http.StatusOK, okJSON{Status: "ok", Info: &tokenInfoJSON{NumberHash: hash, Brand: brand, Last4: last4, Type: "card"}}, false
}

// checkMetadata refuses metadata in a form the provider does not document:
// Smart Glocal's documents show an object only.
func (s *Sandbox) checkMetadata(raw json.RawMessage) (int, any, bool) {
	if s.name == "smartglocal" && !metadataObject(raw) {
		return bad("validation_error", `metadata must be an object, e.g. {"metadata":"withdrawal_116"}`)
	}
	return 0, nil, false
}

// tokenCard answers for a token minted by the widget or /_sandbox/tokens,
// and derives stable digits for any other well-formed token (as if the
// widget had tokenised some card; known is then false). Callers hold s.mu.
func (s *Sandbox) tokenCard(tok string) (last4, brand string, known bool) {
	if t, found := s.tokens[strings.ToLower(tok)]; found {
		return t.last4, t.brand, true
	}
	return DerivedLast4(tok), "visa", false
}

// DerivedLast4 is the last four digits the sandbox reports for a token it
// did not mint: four digits from a hash of the token.
func DerivedLast4(tok string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(tok)))
	n := (int(sum[0])<<8 | int(sum[1])) % 10000
	return string([]byte{'0' + byte(n/1000), '0' + byte(n/100%10), '0' + byte(n/10%10), '0' + byte(n%10)})
}

// Token returns the widget token the sandbox mints for a card number: a
// 64-hex-digit hash, as the tokenisation widget's number_hash.
func (s *Sandbox) Token(pan string) (string, error) {
	pan = strings.ReplaceAll(pan, " ", "")
	if !luhn(pan) {
		return "", errInvalidCard
	}
	sum := sha256.Sum256([]byte(s.creds.Project + ":" + pan))
	tok := hex.EncodeToString(sum[:])
	s.mu.Lock()
	s.tokens[tok] = token{last4: pan[len(pan)-4:], brand: brandOf(pan)}
	s.mu.Unlock()
	return tok, nil
}

type sandboxError string

func (e sandboxError) Error() string { return string(e) }

const errInvalidCard = sandboxError("not a valid card number")

// mintHandler serves POST /_sandbox/tokens {"number":"4242..."}: the
// sandbox's stand-in for the tokenisation widget. The card number is used
// for the last four digits and forgotten.
func (s *Sandbox) mintHandler(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Number string `json:"number"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<12)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, errAnswer("invalid_request", "body must be {\"number\": \"...\"}"))
		return
	}
	tok, err := s.Token(req.Number)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errAnswer("invalid_card", err.Error()))
		return
	}
	s.mu.Lock()
	t := s.tokens[tok]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"token": tok, "last4": t.last4, "brand": t.brand})
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func luhn(n string) bool {
	if len(n) < 12 || len(n) > 19 {
		return false
	}
	sum := 0
	for i := 0; i < len(n); i++ {
		c := n[len(n)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
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

func brandOf(pan string) string {
	switch {
	case strings.HasPrefix(pan, "4"):
		return "visa"
	case strings.HasPrefix(pan, "5"):
		return "mastercard"
	case strings.HasPrefix(pan, "2"):
		return "mir"
	}
	return "card"
}

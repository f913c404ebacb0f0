package sandbox

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers/monnet"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// payin is one Payin V3 operation.
type payin struct {
	id       int64
	op       string
	amount   string // as the merchant sent it ("30.00")
	minor    int64
	currency string
	method   string
	state    int
	errCode  string
	errMsg   string
}

func (p *payin) ref() string { return strconv.FormatInt(p.id, 10) }

var payinAmount = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{2}$`)

// payinError answers a creation error. Monnet's HTTP status for these is
// not documented; the sandbox uses 400 with the documented body.
func payinError(w http.ResponseWriter, code, msg string) {
	writeJSON(w, http.StatusBadRequest, monnet.PayinCreateResponse{ErrorCode: code, ErrorMessage: msg})
}

func (s *Sandbox) createPayin(w http.ResponseWriter, r *http.Request) {
	var q monnet.PayinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&q); err != nil {
		payinError(w, "0099", "Internal Error Payin")
		return
	}
	key := []byte(s.creds.PayinKey)
	switch {
	case q.MerchantID == "":
		payinError(w, "0001", "Error in payinMerchantID not valid (the field is empty)")
	case q.Amount == "":
		payinError(w, "0002", "Error in payinAmount not valid (the field is empty)")
	case q.Currency == "":
		payinError(w, "0003", "Error in payinCurrency not valid (the field is empty)")
	case q.OperationNumber == "" || len(q.OperationNumber) > 50:
		payinError(w, "0004", "Error in payinMerchantOperationNumber not valid (the field is empty)")
	case q.Verification == "":
		payinError(w, "0005", "Error in payinVerification not valid (the field is empty)")
	case q.TransactionErrorURL == "":
		payinError(w, "0006", "Error in payinTransactionErrorURL not valid (the field is empty)")
	case q.TransactionOKURL == "":
		payinError(w, "0007", "Error in payinTransactionOKURL not valid (the field is empty)")
	case q.MerchantID != s.creds.PayinMerchantID:
		payinError(w, monnet.PayinBadMerchant, "Error payinMerchantID not valid (it's wrong)")
	case monnet.PayinVerification(q.MerchantID, q.OperationNumber, q.Amount, q.Currency, key) != q.Verification:
		payinError(w, monnet.PayinBadVerification, "Error in payinVerification (it's wrong)")
	case !strings.HasPrefix(q.TransactionErrorURL, "https://") || len(q.TransactionErrorURL) > 250:
		payinError(w, "0012", "Error in payinTransactionErrorURL not valid")
	case !strings.HasPrefix(q.TransactionOKURL, "https://") || len(q.TransactionOKURL) > 250:
		payinError(w, "0013", "Error in payinTransactionOKURL not valid")
	case !payinAmount.MatchString(q.Amount):
		payinError(w, "0015", "Error in payinAmount format not valid")
	case q.Currency != "PEN" && q.Currency != "USD":
		payinError(w, "0017", "Error in payinCurrency not valid")
	case q.CustomerName == "" || q.CustomerLastName == "" || q.CustomerEmail == "" || q.CustomerPhone == "":
		// Monnet documents the rule but no code for it; 0089 is the sandbox's.
		payinError(w, "0089", "Customer name, last name, email and phone must not be empty")
	default:
		s.openPayin(w, r, q)
	}
}

func (s *Sandbox) openPayin(w http.ResponseWriter, r *http.Request, q monnet.PayinRequest) {
	minor, _ := money.ParseMinor(q.Amount, 2)
	now := s.kit.Clock.Now()
	s.mu.Lock()
	if _, dup := s.payins[q.OperationNumber]; dup {
		s.mu.Unlock()
		payinError(w, monnet.PayinDuplicate, "Duplicate transmission")
		return
	}
	p := &payin{id: s.newID(), op: q.OperationNumber, amount: q.Amount, minor: minor, currency: q.Currency, method: q.Method, state: monnet.PayinCreated}
	s.payins[p.op] = p
	s.mu.Unlock()
	s.kit.Ledger.Open(p.op, p.ref(), minor, p.currency, now)
	expiry := 30 * time.Minute
	if m, err := strconv.Atoi(q.ExpirationTime); err == nil && m > 0 {
		expiry = time.Duration(m) * time.Minute
	}
	if rule, ok := s.kit.Faults().Match(p.op, minor); ok && rule.Outcome == "expire" {
		expiry = s.processingDelay()
	}
	s.kit.Clock.After(expiry, func() {
		s.payinMove(p.op, []int{monnet.PayinCreated, monnet.PayinPending}, monnet.PayinExpired, "expired", "", "")
	})
	if rule, ok := s.kit.Faults().Match(p.op, minor); ok && rule.Outcome == "timeout" {
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusOK, monnet.PayinCreateResponse{URL: baseURL(r) + "/_sandbox/payin/" + p.op, ErrorCode: monnet.PayinOK, ErrorMessage: "Successfull process"})
}

// payinMove changes a payin's state if it is in one of from, records it in
// the ledger and notifies. It reports whether it moved.
func (s *Sandbox) payinMove(op string, from []int, to int, ledger, code, msg string) bool {
	now := s.kit.Clock.Now()
	s.mu.Lock()
	p := s.payins[op]
	ok := false
	for _, f := range from {
		ok = ok || (p != nil && p.state == f)
	}
	if ok {
		p.state, p.errCode, p.errMsg = to, code, msg
	}
	s.mu.Unlock()
	if !ok {
		return false
	}
	s.kit.Ledger.Set(p.ref(), ledger, now)
	s.notifyPayin(p)
	return true
}

func (s *Sandbox) payinPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p := s.payins[r.PathValue("op")]
	var amount, cur string
	if p != nil {
		amount, cur = p.amount, p.currency
	}
	s.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><title>Monnet payin (sandbox)</title><p>Pay %s %s</p><form method="post" action="%s/pay"><button>Pay</button></form>`,
		html.EscapeString(amount), html.EscapeString(cur), html.EscapeString(r.URL.Path))
}

// payinPay plays the payer. A "fail" rule denies the payment (state 6).
func (s *Sandbox) payinPay(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	s.mu.Lock()
	p := s.payins[op]
	var minor int64
	if p != nil {
		minor = p.minor
	}
	s.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	f := s.kit.Faults()
	rule, ruled := f.Match(op, minor)
	waiting := []int{monnet.PayinCreated, monnet.PayinPending}
	if ruled && rule.Outcome == "fail" {
		code, msg := rule.Code, rule.Message
		if code == "" {
			code, msg = "9005", "Do not honor"
		}
		if !s.payinMove(op, waiting, monnet.PayinDenied, "failed", code, msg) {
			http.Error(w, "payin is no longer payable", http.StatusConflict)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"payinState": "Denegado"})
		return
	}
	if !s.payinMove(op, waiting, monnet.PayinAuthorized, "paid", "", "") {
		http.Error(w, "payin is no longer payable", http.StatusConflict)
		return
	}
	if (ruled && rule.Outcome == "reverse") || s.kit.Chance(f.ReverseAfterSuccessRate) {
		s.kit.Clock.After(s.processingDelay(), func() {
			s.payinMove(op, []int{monnet.PayinAuthorized, monnet.PayinSettled}, monnet.PayinRefunded, "reversed", "", "")
		})
	}
	writeJSON(w, http.StatusOK, map[string]string{"payinState": "Autorizado"})
}

// notifyAmount writes the amount as Monnet's notifications do, with one
// decimal when the second is zero ("30.00" is notified as "30.0"), so that
// a client hashing anything but the received text fails.
func notifyAmount(a string) string {
	if i := strings.IndexByte(a, '.'); i >= 0 && len(a)-i == 3 && a[len(a)-1] == '0' {
		return a[:len(a)-1]
	}
	return a
}

func (s *Sandbox) notifyPayin(p *payin) {
	s.mu.Lock()
	amount := notifyAmount(p.amount)
	n := map[string]any{
		"payinStateID":                 strconv.Itoa(p.state),
		"payinState":                   monnet.PayinStateNames[p.state],
		"payinStatusErrorMessage":      "",
		"payinStatusErrorCode":         "00",
		"payinMerchantID":              s.creds.PayinMerchantID,
		"payinAmount":                  amount,
		"payinCurrency":                p.currency,
		"payinMerchantOperationNumber": p.op,
		"payinMethod":                  p.method,
		"payinVerification":            monnet.PayinVerification(s.creds.PayinMerchantID, p.op, amount, p.currency, []byte(s.creds.PayinKey)),
		"additionalInformation":        []string{},
	}
	if p.errCode != "" {
		n["errorDetails"] = map[string]string{"codeErrorTrx": p.errCode, "messageErrorTrx": p.errMsg}
	}
	s.mu.Unlock()
	body, err := json.Marshal(n)
	if err != nil {
		return
	}
	h := http.Header{"Content-Type": []string{"application/json"}}
	s.kit.Notifier.Send(sandboxkit.Webhook{URL: s.webhookURL(), Build: func(int) (http.Header, []byte) { return h.Clone(), body }})
}

// payinOperations is the status query: authorization is
// hex(SHA-256(MerchantID + KeyMonnet)); body by operation number.
func (s *Sandbox) payinOperations(w http.ResponseWriter, r *http.Request) {
	mid := r.PathValue("merchantId")
	if mid != s.creds.PayinMerchantID || r.Header.Get("authorization") != monnet.PayinAuthorization(mid, []byte(s.creds.PayinKey)) {
		writeError(w, http.StatusUnauthorized, "401", "Unauthorized")
		return
	}
	var q monnet.PayinStatusRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&q); err != nil || q.OperationNumber == "" {
		writeError(w, http.StatusBadRequest, "400", "payinMerchantOperationNumber is required")
		return
	}
	out := monnet.PayinStatusResponse{MerchantID: monnet.Flex(mid), Operations: []monnet.PayinOperation{}}
	s.mu.Lock()
	if p := s.payins[q.OperationNumber]; p != nil {
		out.Operations = append(out.Operations, monnet.PayinOperation{
			StateID: monnet.Flex(strconv.Itoa(p.state)), State: monnet.PayinStateNames[p.state], Amount: monnet.Flex(p.amount),
			Currency: p.currency, OperationNumber: p.op, PayinID: monnet.Flex(p.ref()),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

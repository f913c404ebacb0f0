package sandbox

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/payrun/payrun/money"
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
	// abandoned: the payer never pays, and the expiry is not notified
	// (only the status query shows it).
	abandoned bool
}

func (p *payin) ref() string { return strconv.FormatInt(p.id, 10) }

var (
	payinAmount = regexp.MustCompile(`^[0-9]{1,12}\.[0-9]{2}$`)
	payinPhone  = regexp.MustCompile(`^[0-9]{8,9}$`)
	payinExpiry = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
)

// payinCreatePath is where Payin V3 creates a transaction; URLMonnet must
// name it (excerpt 001).
const payinCreatePath = "/api-payin/v3/online-payments"

// payinError answers a creation error. Monnet's HTTP status for these is
// not documented; the sandbox uses 400 with the documented body.
func payinError(w http.ResponseWriter, code, msg string) {
	writeJSON(w, http.StatusBadRequest, payinCreateAnswer{ErrorCode: code, ErrorMessage: msg})
}

// payinRequest is a create request read field by field: every documented
// field must be present ("all fields must be included on request"), and
// each is a JSON string or number, kept as the text that was sent.
type payinRequest map[string]string

// readPayin decodes the create body; it reports the first field of
// payinFields that is missing, or a value that is neither a string nor a
// number.
func readPayin(body []byte) (payinRequest, string, bool) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return nil, "body", false
	}
	q := payinRequest{}
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			q[k] = s
			continue
		}
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return nil, k, false
		}
		q[k] = n.String()
	}
	for _, f := range payinFields {
		if _, ok := raw[f]; !ok {
			return q, f, false
		}
	}
	return q, "", true
}

func (s *Sandbox) createPayin(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	q, field, complete := readPayin(body)
	key := s.creds.PayinKey
	switch {
	case q == nil:
		payinError(w, "0099", "Internal Error Payin")
	case q["payinMerchantID"] == "":
		payinError(w, "0001", "Error in payinMerchantID not valid (the field is empty)")
	case q["payinAmount"] == "":
		payinError(w, "0002", "Error in payinAmount not valid (the field is empty)")
	case q["payinCurrency"] == "":
		payinError(w, "0003", "Error in payinCurrency not valid (the field is empty)")
	case q["payinMerchantOperationNumber"] == "" || len(q["payinMerchantOperationNumber"]) > 50:
		payinError(w, "0004", "Error in payinMerchantOperationNumber not valid (the field is empty)")
	case q["payinVerification"] == "":
		payinError(w, "0005", "Error in payinVerification not valid (the field is empty)")
	case q["payinTransactionErrorURL"] == "":
		payinError(w, "0006", "Error in payinTransactionErrorURL not valid (the field is empty)")
	case q["payinTransactionOKURL"] == "":
		payinError(w, "0007", "Error in payinTransactionOKURL not valid (the field is empty)")
	case q["payinMerchantID"] != s.creds.PayinMerchantID:
		payinError(w, payinBadMerchant, "Error payinMerchantID not valid (it's wrong)")
	case payinVerification(q["payinMerchantID"], q["payinMerchantOperationNumber"], q["payinAmount"], q["payinCurrency"], key) != q["payinVerification"]:
		payinError(w, payinBadVerification, "Error in payinVerification (it's wrong)")
	case !complete:
		payinError(w, payinMissing, "All fields must be included on request: "+field)
	default:
		if code, msg := validatePayin(q); code != "" {
			payinError(w, code, msg)
			return
		}
		s.openPayin(w, r, q)
	}
}

// validatePayin applies the documents' rules to a request whose fields
// are all there and whose verification matched.
func validatePayin(q payinRequest) (string, string) {
	for _, f := range payinNotEmpty {
		if strings.TrimSpace(q[f]) == "" {
			return payinMissing, f + " must not be empty"
		}
	}
	httpsURL := func(u string) bool { return strings.HasPrefix(u, "https://") && len(u) <= 250 }
	switch {
	case !httpsURL(q["payinTransactionErrorURL"]):
		return "0012", "Error in payinTransactionErrorURL not valid"
	case !httpsURL(q["payinTransactionOKURL"]):
		return "0013", "Error in payinTransactionOKURL not valid"
	case !payinAmount.MatchString(q["payinAmount"]):
		return "0015", "Error in payinAmount format not valid"
	case q["payinCurrency"] != "PEN" && q["payinCurrency"] != "USD":
		return "0017", "Error in payinCurrency not valid"
	case !payinMethods[q["payinMethod"]]:
		return payinBadProcessor, "Error in processor not valid"
	case utf8.RuneCountInString(q["payinCustomerName"]) > 30, utf8.RuneCountInString(q["payinCustomerLastName"]) > 30:
		return payinMissing, "payinCustomerName and payinCustomerLastName are at most 30 characters"
	case len(q["payinCustomerEmail"]) > 50 || !strings.Contains(q["payinCustomerEmail"], "@"):
		return payinMissing, "payinCustomerEmail is not an email of at most 50 characters"
	case !payinPhone.MatchString(q["payinCustomerPhone"]):
		return payinMissing, "payinCustomerPhone must be the mobile number (8-9 digits)"
	case !strings.HasSuffix(q["URLMonnet"], payinCreatePath):
		return payinMissing, "URLMonnet must be Monnet's online-payments URL"
	case q["typePost"] != "json":
		return payinMissing, `typePost must be "json"`
	}
	if _, err := strconv.Atoi(q["payinExpirationTime"]); err != nil {
		return payinMissing, "payinExpirationTime must be a number of minutes"
	}
	if cardMethods[q["payinMethod"]] {
		// The back-to-back card payment: only PCI-certified merchants send
		// the card, and without it there is nothing to charge.
		for _, f := range payinCardFields {
			if q[f] == "" {
				return payinMissing, f + " is required for card payments (" + q["payinMethod"] + ")"
			}
		}
		pan := q["payinPan"]
		if len(pan) < 8 || len(pan) > 19 || !sandboxkit.Digits(pan) || len(q["payinCvv"]) < 3 || len(q["payinCvv"]) > 4 ||
			!sandboxkit.Digits(q["payinCvv"]) || !payinExpiry.MatchString(q["payinCardExpiration"]) {
			return "9030", "Format error"
		}
	}
	return "", ""
}

func (s *Sandbox) openPayin(w http.ResponseWriter, r *http.Request, q payinRequest) {
	minor, _ := money.ParseMinor(q["payinAmount"], 2)
	op := q["payinMerchantOperationNumber"]
	now := s.kit.Clock.Now()
	rule, ruled := s.kit.Faults().Match(op, minor)
	s.mu.Lock()
	if _, dup := s.payins[op]; dup {
		s.mu.Unlock()
		payinError(w, payinDuplicate, "Duplicate transmission")
		return
	}
	p := &payin{id: s.newID(), op: op, amount: q["payinAmount"], minor: minor, currency: q["payinCurrency"],
		method: q["payinMethod"], state: payinCreated, abandoned: ruled && rule.Outcome == "abandon"}
	s.payins[p.op] = p
	s.mu.Unlock()
	s.kit.Ledger.Open(p.op, p.ref(), minor, p.currency, now)
	expiry := 30 * time.Minute
	if m, err := strconv.Atoi(q["payinExpirationTime"]); err == nil && m > 0 {
		expiry = time.Duration(m) * time.Minute
	}
	if ruled && rule.Outcome == "expire" {
		expiry = s.processingDelay()
	}
	s.kit.Clock.After(expiry, func() {
		s.payinMove(op, []int{payinCreated, payinPending}, payinExpired, "expired", "", "")
	})
	if ruled && rule.Outcome == "timeout" {
		panic(http.ErrAbortHandler)
	}
	writeJSON(w, http.StatusOK, payinCreateAnswer{URL: baseURL(r) + "/_sandbox/payin/" + p.op, ErrorCode: payinOK,
		ErrorMessage: "Successfull process", TrxOperation: "MONTRX" + p.ref()})
}

// payinMove changes a payin's state if it is in one of from, records it in
// the ledger and notifies (an abandoned link's expiry excepted). It reports
// whether it moved.
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
	silent := ok && p.abandoned && to == payinExpired
	s.mu.Unlock()
	if !ok {
		return false
	}
	s.kit.Ledger.Set(p.ref(), ledger, now)
	if !silent {
		s.notifyPayin(p)
	}
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

// payinPay plays the payer. A "fail" rule denies the payment (state 6); an
// abandoned link cannot be paid.
func (s *Sandbox) payinPay(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	s.mu.Lock()
	p := s.payins[op]
	var minor int64
	abandoned := false
	if p != nil {
		minor, abandoned = p.minor, p.abandoned
	}
	s.mu.Unlock()
	if p == nil {
		http.NotFound(w, r)
		return
	}
	if abandoned {
		http.Error(w, "this payer never pays (abandon rule)", http.StatusConflict)
		return
	}
	f := s.kit.Faults()
	rule, ruled := f.Match(op, minor)
	waiting := []int{payinCreated, payinPending}
	if ruled && rule.Outcome == "fail" {
		code, msg := rule.Code, rule.Message
		if code == "" {
			code, msg = "9005", "Do not honor"
		}
		if !s.payinMove(op, waiting, payinDenied, "failed", code, msg) {
			http.Error(w, "payin is no longer payable", http.StatusConflict)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"payinState": payinStateNames[payinDenied]})
		return
	}
	if !s.payinMove(op, waiting, payinAuthorized, "paid", "", "") {
		http.Error(w, "payin is no longer payable", http.StatusConflict)
		return
	}
	if (ruled && rule.Outcome == "reverse") || s.kit.Chance(f.ReverseAfterSuccessRate) {
		s.kit.Clock.After(s.processingDelay(), func() {
			s.payinMove(op, []int{payinAuthorized, 9}, payinRefunded, "reversed", "", "")
		})
	}
	writeJSON(w, http.StatusOK, map[string]string{"payinState": payinStateNames[payinAuthorized]})
}

// notifyAmount writes the amount as Monnet's notifications and status
// answers do, with one decimal when the second is zero ("30.00" is
// notified as "30.0"), so that a client hashing anything but the received
// text fails.
func notifyAmount(a string) string {
	if i := strings.IndexByte(a, '.'); i >= 0 && len(a)-i == 3 && a[len(a)-1] == '0' {
		return a[:len(a)-1]
	}
	return a
}

// notifyPayin posts a payin's state. With the UnsignedNotifications fault
// the payinVerification is empty, as in Monnet's own sample payloads.
func (s *Sandbox) notifyPayin(p *payin) {
	unsigned := s.kit.Faults().UnsignedNotifications
	s.mu.Lock()
	amount := notifyAmount(p.amount)
	verification := ""
	if !unsigned {
		verification = payinVerification(s.creds.PayinMerchantID, p.op, amount, p.currency, s.creds.PayinKey)
	}
	n := map[string]any{
		"payinStateID":                 strconv.Itoa(p.state),
		"payinState":                   payinStateNames[p.state],
		"payinStatusErrorMessage":      "",
		"payinStatusErrorCode":         "00",
		"payinMerchantID":              s.creds.PayinMerchantID,
		"payinAmount":                  amount,
		"payinCurrency":                p.currency,
		"payinMerchantOperationNumber": p.op,
		"payinMethod":                  p.method,
		"payinVerification":            verification,
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

// payinOperations is the status query: authorization is SHA-256 of
// MerchantID + KeyMonnet; the body names an operation number (an empty one
// asks for every operation) or a date range.
func (s *Sandbox) payinOperations(w http.ResponseWriter, r *http.Request) {
	mid := r.PathValue("merchantId")
	if mid != s.creds.PayinMerchantID || r.Header.Get("authorization") != payinAuthorization(mid, s.creds.PayinKey) {
		writeError(w, http.StatusUnauthorized, "401", "Unauthorized")
		return
	}
	var q payinStatusRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&q); err != nil || (q.OperationNumber == nil && q.StartDate == "") {
		writeError(w, http.StatusBadRequest, "400", "payinMerchantOperationNumber or payinStartDate and payinEndDate are required")
		return
	}
	out := payinStatusAnswer{MerchantID: mid, Operations: []payinOperationJSON{}}
	s.mu.Lock()
	for _, p := range s.payins {
		if q.OperationNumber != nil && *q.OperationNumber != "" && p.op != *q.OperationNumber {
			continue
		}
		out.Operations = append(out.Operations, payinOperationJSON{
			StateID: strconv.Itoa(p.state), State: strings.ToUpper(payinStateNames[p.state]), Amount: notifyAmount(p.amount),
			Currency: p.currency, OperationNumber: p.op, PayinID: p.ref(),
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

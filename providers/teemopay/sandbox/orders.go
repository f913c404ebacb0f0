package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// order is one payout in the sandbox's books. Guarded by Sandbox.mu.
type order struct {
	orderNo      string
	tradeNo      string
	amountText   string
	amount       int64
	callbackURL  string
	createStatus int
	status       int
	errorCode    string
	errorMessage string
	fee          int64
	completed    time.Time
}

// Failure codes of TeemoPay Peru payouts (PROVIDERS.md 3.4).
var failureMessages = map[string]string{
	"1000": "Card error or limit",
	"1001": "Refunded",
	"1002": "Channel fluctuation",
	"9999": "Others",
}

// open records a new order, or answers why not: 409 for a merchantOrderNo
// already used (the sandbox's rule; TeemoPay's is undocumented), 425 when
// the balance fault is on. Rule outcomes: "reject" answers status 3 at once,
// "fail" fails after processing, "reverse" succeeds then refunds, "timeout"
// processes normally (the caller drops the answer).
func (s *Sandbox) open(req createBody, amount int64, noBalance bool, rule sandboxkit.Rule, ruled bool) (*order, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[req.MerchantOrderNo]; ok {
		return nil, codeDuplicate, "Duplicate merchantOrderNo"
	}
	if noBalance {
		return nil, codeInsufficientBalance, "Insufficient merchant balance"
	}
	now := s.kit.Clock.Now()
	s.seq++
	o := &order{
		orderNo:      req.MerchantOrderNo,
		tradeNo:      fmt.Sprintf("TF%s%04dPE%016d", now.In(lima()).Format("060102"), s.seq%10000, s.seq),
		amountText:   req.Amount,
		amount:       amount,
		callbackURL:  req.CallbackURL,
		createStatus: statusProcessing,
		status:       statusProcessing,
	}
	s.orders[o.orderNo] = o
	s.kit.Ledger.Open(o.orderNo, o.tradeNo, amount, "PEN", now)
	delay := s.processingDelay()
	switch {
	case ruled && rule.Outcome == "reject":
		o.createStatus = statusFailed
		s.finish(o, statusFailed, ruleCode(rule), rule.Message, now)
		s.kit.Ledger.Set(o.tradeNo, "failed", now)
		s.notify(s.callbackURL(o), o.callback())
	case ruled && (rule.Outcome == "fail" || rule.Outcome == "expire"):
		s.kit.Clock.After(delay, func() { s.settle(o, statusFailed, ruleCode(rule), rule.Message, false) })
	default:
		reverse := (ruled && rule.Outcome == "reverse") || s.kit.Chance(s.kit.Faults().ReverseAfterSuccessRate)
		s.kit.Clock.After(delay, func() { s.settle(o, statusSuccess, "", "", reverse) })
	}
	return o, codeOK, ""
}

func ruleCode(r sandboxkit.Rule) string {
	if r.Code != "" {
		return r.Code
	}
	return "9999"
}

func (s *Sandbox) processingDelay() time.Duration {
	if d := s.kit.Faults().ProcessingDelay; d > 0 {
		return d
	}
	return s.delay
}

// finish sets a final state. Caller holds s.mu.
func (s *Sandbox) finish(o *order, status int, code, msg string, now time.Time) {
	o.status, o.completed = status, now
	o.errorCode, o.errorMessage = "", ""
	if status == statusFailed || status == statusRefunded {
		o.errorCode = code
		if msg == "" {
			msg = failureMessages[code]
		}
		o.errorMessage = msg
	}
	if status == statusSuccess {
		// 0.5 % with a minimum of S/ 1.00, so that reports show a fee.
		o.fee = max(o.amount*5/1000, 100)
	}
}

// settle moves a processing order to its final state (on the clock
// goroutine), books it and sends its callback; a reversal follows later.
func (s *Sandbox) settle(o *order, status int, code, msg string, reverse bool) {
	now := s.kit.Clock.Now()
	s.mu.Lock()
	s.finish(o, status, code, msg, now)
	cb, url := o.callback(), s.callbackURL(o)
	s.mu.Unlock()
	if status == statusSuccess {
		s.kit.Ledger.Set(o.tradeNo, "paid", now)
	} else {
		s.kit.Ledger.Set(o.tradeNo, "failed", now)
	}
	s.notify(url, cb)
	if reverse {
		s.kit.Clock.After(s.processingDelay(), func() {
			now := s.kit.Clock.Now()
			s.mu.Lock()
			s.finish(o, statusRefunded, "1001", "", now)
			cb, url := o.callback(), s.callbackURL(o)
			s.mu.Unlock()
			s.kit.Ledger.Set(o.tradeNo, "reversed", now)
			s.notify(url, cb)
		})
	}
}

// callbackURL is the order's callbackUrl or the merchant default. Caller
// holds s.mu.
func (s *Sandbox) callbackURL(o *order) string {
	if o.callbackURL != "" {
		return o.callbackURL
	}
	return s.webhookURL
}

func (o *order) completeTime() string {
	if o.completed.IsZero() {
		return ""
	}
	return o.completed.In(lima()).Format(completeTimeLayout)
}

func (o *order) feeText() string {
	if o.status != statusSuccess && o.status != statusRefunded {
		return ""
	}
	return money.FormatMinor(o.fee, 2)
}

func (o *order) queryData() queryData {
	return queryData{
		MerchantOrderNo: o.orderNo,
		TradeNo:         o.tradeNo,
		Amount:          o.amountText,
		Status:          o.status,
		ServiceAmount:   o.feeText(),
		ErrorCode:       o.errorCode,
		ErrorMessage:    o.errorMessage,
		CompleteTime:    o.completeTime(),
	}
}

func (o *order) callback() callbackBody {
	return callbackBody{
		MerchantOrderNo: o.orderNo,
		TradeNo:         o.tradeNo,
		Amount:          o.amountText,
		ServiceAmount:   o.feeText(),
		Status:          o.status,
		ErrorCode:       o.errorCode,
		ErrorMessage:    o.errorMessage,
		CompleteTime:    o.completeTime(),
	}
}

// notify sends a callback, signed with the platform key, a fresh nonce
// and the current timestamp when it is first sent. Every retry (on any
// answer but the plain text SUCCESS) repeats that copy's exact headers and
// bytes (sandboxkit.Webhook.Build), as a sender that retries a failed HTTP
// request does: a retry arrives with a timestamp as old as its first
// attempt, and with a nonce already seen if the first attempt was kept
// but its answer lost. A duplicated callback is two sends, signed apart.
func (s *Sandbox) notify(url string, cb callbackBody) {
	body, err := json.Marshal(cb)
	if err != nil {
		return
	}
	s.kit.Notifier.Send(sandboxkit.Webhook{
		URL: url,
		Build: func(int) (http.Header, []byte) {
			nonce := newNonce()
			signed, err := signCallback(s.creds.PlatformKey, body, nonce)
			if err != nil {
				signed = body
			}
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			h.Set(headerTimestamp, strconv.FormatInt(s.kit.Clock.Now().UnixMilli(), 10))
			h.Set(headerNonce, nonce)
			h.Set(headerCountry, "PE")
			h.Set(headerCallbackAppCode, s.creds.AppCode)
			return h, signed
		},
		Accepted: func(status int, body []byte) bool {
			return status == http.StatusOK && strings.TrimSpace(string(body)) == ackBody
		},
	})
}

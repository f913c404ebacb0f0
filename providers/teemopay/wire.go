package teemopay

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The wire messages of TeemoPay's Peru payout API (PROVIDERS.md 3.2-3.4),
// shared with the sandbox. Field order is the order payrun writes them; the
// signature does not depend on it.

// Paths of the payout API.
const (
	PathCreate = "/api/pay/payout/create/v1"
	pathQuery  = "/api/pay/payout/query/v1"
)

// Headers. Requests carry app_code; callbacks carry appCode (sic).
const (
	headerAppCode         = "app_code"
	HeaderCallbackAppCode = "appCode"
	HeaderCountry         = "country"
	HeaderNonce           = "nonce"
	HeaderTimestamp       = "timestamp"
)

// Payout statuses (data.status).
const (
	statusProcessing = 1
	StatusSuccess    = 2
	statusFailed     = 3
	statusRefunded   = 4
)

// Account types (accountType).
const (
	accountSavings  = 101 // AHORRO
	accountChecking = 102 // CORRIENTE
	accountWallet   = 103 // WALLET (YAPE)
)

// envelope codes. TeemoPay publishes only 200, 400 ("Order not found") and
// 425; the others are the sandbox's and payrun's choice [I] (PROVIDERS.md
// 3.2 gap), mapped in errors.go.
const (
	codeOK                  = 200
	codeBadRequest          = 400 // validation; "Order not found" on query
	codeSignature           = 401 // bad sign, unknown app_code
	codeExpired             = 403 // timestamp outside ±30 s, nonce reused
	codeDuplicate           = 409 // merchantOrderNo already used
	codeInsufficientBalance = 425
	codeRateLimited         = 429
	codeSystem              = 500
	codeUnavailable         = 503
)

// createRequest is the body of POST /api/pay/payout/create/v1 (without sign).
type createRequest struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	Amount          string `json:"amount"`
	Phone           string `json:"phone,omitempty"`
	BankCode        string `json:"bankCode"`
	BankName        string `json:"bankName"`
	AccountType     int    `json:"accountType"`
	BankAccount     string `json:"bankAccount"`
	CCINumber       string `json:"cciNumber,omitempty"`
	RealName        string `json:"realName"`
	IDCardNumber    string `json:"idCardNumber"`
	IDType          string `json:"idType"`
	CallbackURL     string `json:"callbackUrl,omitempty"`
}

// queryRequest is the body of POST /api/pay/payout/query/v1 (without sign).
type queryRequest struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
}

// envelope is every answer of the API.
type envelope struct {
	Code    int             `json:"code"`
	Msg     string          `json:"msg"`
	TraceID string          `json:"traceId,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// createData is the create answer's data.
type createData struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	TradeNo         string `json:"tradeNo"`
	Status          Int    `json:"status"`
	Amount          Text   `json:"amount"`
}

// queryData is the query answer's data.
type queryData struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	TradeNo         string `json:"tradeNo"`
	Amount          Text   `json:"amount"`
	Status          Int    `json:"status"`
	ServiceAmount   Text   `json:"serviceAmount,omitempty"`
	ImmService      Text   `json:"immService,omitempty"`
	ServiceRate     Text   `json:"serviceRate,omitempty"`
	ErrorCode       Text   `json:"errorCode,omitempty"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
	CompleteTime    string `json:"completeTime,omitempty"`
}

// Callback is the body of a payout callback (the sign field aside).
type Callback struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	TradeNo         string `json:"tradeNo"`
	Amount          Text   `json:"amount"`
	ServiceAmount   Text   `json:"serviceAmount,omitempty"`
	Remark          string `json:"remark,omitempty"`
	Status          Int    `json:"status"`
	ErrorCode       Text   `json:"errorCode,omitempty"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
	CompleteTime    string `json:"completeTime,omitempty"`
}

// Int is an integer that TeemoPay writes either as a JSON number or as a
// string (the docs show both for status and accountType).
type Int int

// UnmarshalJSON accepts 2, "2", null and "".
func (i *Int) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(bytes.TrimSpace(b), `"`)
	if len(b) == 0 || string(b) == "null" {
		*i = 0
		return nil
	}
	var n json.Number = json.Number(b)
	v, err := n.Int64()
	if err != nil {
		return fmt.Errorf("teemopay: %q is not an integer", b)
	}
	*i = Int(v)
	return nil
}

// Text is a value TeemoPay writes as a string or a number (amounts,
// errorCode); it keeps the exact text.
type Text string

// UnmarshalJSON accepts a string, a number or null.
func (t *Text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Text(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("teemopay: %s is neither a string nor a number", b)
		}
		*t = Text(n)
	}
	return nil
}

package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// The sandbox's own wire types and tables, written from TeemoPay's
// documents (PROVIDERS.md section 3, excerpt 003) independently of payrun's
// client, so that a misreading in one is refused by the other rather than
// mirrored.

// name is the provider's name in the sandbox's ledger.
const name = "teemopay"

// Paths of the payout API.
const (
	pathCreate = "/api/pay/payout/create/v1"
	pathQuery  = "/api/pay/payout/query/v1"
)

// Headers. Requests carry app_code; callbacks carry appCode (sic).
const (
	headerAppCode         = "app_code"
	headerCallbackAppCode = "appCode"
	headerCountry         = "country"
	headerNonce           = "nonce"
	headerTimestamp       = "timestamp"
)

// Payout statuses (data.status, callback status).
const (
	statusProcessing = 1
	statusSuccess    = 2
	statusFailed     = 3
	statusRefunded   = 4
)

// Account types: 101 AHORRO (savings), 102 CORRIENTE (current), 103
// WALLET (YAPE) on the live page.
const (
	accountSavings = 101
	accountCurrent = 102
	accountWallet  = 103
)

// Envelope codes. TeemoPay publishes 200, 400 ("Order not found") and 425;
// the others are the sandbox's (docs/PROVIDER_GUESSES.md).
const (
	codeOK                  = 200
	codeBadRequest          = 400
	codeSignature           = 401
	codeExpired             = 403
	codeDuplicate           = 409
	codeInsufficientBalance = 425
	codeRateLimited         = 429
	codeUnavailable         = 503
)

const msgOrderNotFound = "Order not found"

// yapeBankCode is the bankCode the sandbox takes for Yape: TeemoPay's bank
// list has no Yape entry, and "YAPE" is payrun's guess (the client's
// default), kept here so that the guess is exercised, not confirmed.
const yapeBankCode = "YAPE"

// accountLengths are the account number lengths per TeemoPay bank code
// (1 BCP 13 or 14, 2 Interbank 13, 3 BBVA 18, 4 Scotiabank 10); a 20-digit
// CCI is not an account number.
var accountLengths = map[string][]int{"1": {13, 14}, "2": {13}, "3": {18}, "4": {10}}

// completeTimeLayout is "yyyy-MM-dd HH:mm:ss", in Peru's time.
const completeTimeLayout = "2006-01-02 15:04:05"

// lima is America/Lima, or its fixed UTC-5 where the system has no zone
// database (Peru has kept UTC-5 without summer time since 1994).
var lima = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("America/Lima"); err == nil {
		return loc
	}
	return time.FixedZone("PET", -5*60*60)
})

// flexInt is an integer TeemoPay's examples write as a number or a string
// ("accountType": "101").
type flexInt int

func (i *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(bytes.TrimSpace(b), `"`)
	if len(b) == 0 || string(b) == "null" {
		*i = 0
		return nil
	}
	n, err := json.Number(b).Int64()
	if err != nil {
		return fmt.Errorf("%q is not an integer", b)
	}
	*i = flexInt(n)
	return nil
}

// createBody is the create request as the sandbox reads it.
type createBody struct {
	MerchantOrderNo string  `json:"merchantOrderNo"`
	Amount          string  `json:"amount"`
	Phone           string  `json:"phone"`
	BankCode        string  `json:"bankCode"`
	BankName        string  `json:"bankName"`
	AccountType     flexInt `json:"accountType"`
	BankAccount     string  `json:"bankAccount"`
	CCINumber       string  `json:"cciNumber"`
	RealName        string  `json:"realName"`
	IDCardNumber    string  `json:"idCardNumber"`
	IDType          string  `json:"idType"`
	CallbackURL     string  `json:"callbackUrl"`
	Sign            string  `json:"sign"`
}

type queryBody struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	Sign            string `json:"sign"`
}

type createData struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	TradeNo         string `json:"tradeNo"`
	Status          int    `json:"status"`
	Amount          string `json:"amount"`
}

// queryData is the query answer's data and, with sign, a callback's body.
type queryData struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	TradeNo         string `json:"tradeNo"`
	Amount          string `json:"amount"`
	Status          int    `json:"status"`
	ServiceAmount   string `json:"serviceAmount,omitempty"`
	ErrorCode       string `json:"errorCode,omitempty"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
	CompleteTime    string `json:"completeTime,omitempty"`
}

// callbackBody is what the platform posts to callbackUrl.
type callbackBody struct {
	MerchantOrderNo string `json:"merchantOrderNo"`
	TradeNo         string `json:"tradeNo"`
	Amount          string `json:"amount"`
	ServiceAmount   string `json:"serviceAmount,omitempty"`
	Status          int    `json:"status"`
	ErrorCode       string `json:"errorCode,omitempty"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
	CompleteTime    string `json:"completeTime,omitempty"`
}

// ackBody is the plain text answer that ends a callback's retries.
const ackBody = "SUCCESS"

package monnet

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Wire structs of Monnet's payout, card push and Payin V3 APIs, as the
// client writes and reads them (the sandbox has its own, written from the
// documents). encoding/json matches keys case-insensitively when reading,
// which absorbs Monnet's "Id"/"id" variations.

// payoutRequest is the body of POST /api/v1/{merchantId}/payouts.
type payoutRequest struct {
	Country     string          `json:"country"`
	Amount      int64           `json:"amount"`
	Currency    string          `json:"currency"`
	OrderID     string          `json:"orderId"`
	Description string          `json:"description,omitempty"`
	Beneficiary beneficiaryWire `json:"beneficiary"`
	Destination destinationWire `json:"destination"`
}

// beneficiaryWire is the payout's beneficiary.
type beneficiaryWire struct {
	Name     string       `json:"name"`
	LastName string       `json:"lastName"`
	Email    string       `json:"email,omitempty"`
	Document documentWire `json:"document"`
}

// documentWire is a beneficiary's identity document; Type is a number.
type documentWire struct {
	Type   int    `json:"type"`
	Number string `json:"number"`
}

// destinationWire wraps the bank account.
type destinationWire struct {
	BankAccount bankAccountWire `json:"bankAccount"`
}

// bankAccountWire is where the money goes. AccountType is sent as a JSON
// number (error 1116 says so, although the docs' examples quote it).
type bankAccountWire struct {
	BankCode      string `json:"bankCode,omitempty"`
	AccountType   int    `json:"accountType"`
	AccountNumber string `json:"accountNumber,omitempty"`
	CCI           string `json:"cci,omitempty"`
}

// cardPushRequest is the body of POST /api-payout-plus-real-time/{merchantId}.
// The excerpt's schema also lists top-level "email", "document" and
// "accountType" as required, but its own example nests them under
// beneficiary and destination; we follow the example.
type cardPushRequest struct {
	Country        string          `json:"country"`
	Amount         int64           `json:"amount"`
	Currency       string          `json:"currency"`
	OrderID        string          `json:"orderId"`
	Beneficiary    beneficiaryWire `json:"beneficiary"`
	Destination    destinationWire `json:"destination"`
	TimeoutURL     string          `json:"timeoutUrl"`
	MerchantLogo   string          `json:"merchantLogo,omitempty"`
	ExpirationTime string          `json:"expirationTime,omitempty"` // minutes, e.g. "03"
}

// cardPushResponse is the card push answer: the iframe the beneficiary opens.
type cardPushResponse struct {
	Iframe string `json:"iframe"`
}

// payoutResponse is the create and status answer, and the notification
// body. Code is read in case an answer carries an error code at the top
// level, as Monnet's error answers do.
type payoutResponse struct {
	Payout payoutInfo  `json:"payout"`
	Output outputWire  `json:"output"`
	Errors []errorWire `json:"errors,omitempty"`
	Code   flex        `json:"code,omitempty"`
}

// payoutInfo describes a payout as Monnet echoes it.
type payoutInfo struct {
	ID         flex   `json:"Id"`
	MerchantID flex   `json:"merchantId,omitempty"`
	Country    string `json:"country,omitempty"`
	Amount     flex   `json:"amount"`
	Currency   string `json:"currency"`
	OrderID    string `json:"orderId"`
}

// outputWire is the payout's stage (drives logic) and status (informative).
type outputWire struct {
	Stage                string `json:"stage"`
	Status               string `json:"status"`
	StatusChangeDateTime string `json:"statusChangeDateTime,omitempty"`
	AuthorizationCode    string `json:"authorizationCode,omitempty"`
	AuthorizationDate    string `json:"authorizationDate,omitempty"`
}

// errorWire is one error of a notification or status answer.
type errorWire struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorResponse is an API error answer: code plus an array of messages.
type errorResponse struct {
	Code    flex     `json:"code"`
	Message messages `json:"message"`
}

// balanceWire is one entry of GET /api/v1/{merchantId}/balance.
type balanceWire struct {
	Country          string `json:"country"`
	Currency         string `json:"currency"`
	AvailableBalance flex   `json:"availableBalance"`
	Balance          flex   `json:"balance"`
}

// payinRequest is the Payin V3 create body. Every field is sent, as the
// docs demand, except the card fields (payinPan, payinCvv,
// payinCardExpiration) of the back-to-back card service: payrun never
// holds card numbers, and New refuses the card methods that need them.
type payinRequest struct {
	MerchantID              string `json:"payinMerchantID"`
	Amount                  string `json:"payinAmount"`
	Currency                string `json:"payinCurrency"`
	OperationNumber         string `json:"payinMerchantOperationNumber"`
	Method                  string `json:"payinMethod"`
	Verification            string `json:"payinVerification"`
	CustomerName            string `json:"payinCustomerName"`
	CustomerLastName        string `json:"payinCustomerLastName"`
	CustomerEmail           string `json:"payinCustomerEmail"`
	CustomerPhone           string `json:"payinCustomerPhone"`
	CustomerTypeDocument    string `json:"payinCustomerTypeDocument"`
	CustomerDocument        string `json:"payinCustomerDocument"`
	RegularCustomer         string `json:"payinRegularCustomer"`
	CustomerID              string `json:"payinCustomerID"`
	DiscountCoupon          string `json:"payinDiscountCoupon"`
	Language                string `json:"payinLanguage"`
	ExpirationTime          string `json:"payinExpirationTime"`
	DateTime                string `json:"payinDateTime"`
	TransactionOKURL        string `json:"payinTransactionOKURL"`
	TransactionErrorURL     string `json:"payinTransactionErrorURL"`
	FilterBy                string `json:"payinFilterBy"`
	CustomerAddress         string `json:"payinCustomerAddress"`
	CustomerCity            string `json:"payinCustomerCity"`
	CustomerRegion          string `json:"payinCustomerRegion"`
	CustomerCountry         string `json:"payinCustomerCountry"`
	CustomerZipCode         string `json:"payinCustomerZipCode"`
	CustomerShippingName    string `json:"payinCustomerShippingName"`
	CustomerShippingPhone   string `json:"payinCustomerShippingPhone"`
	CustomerShippingAddress string `json:"payinCustomerShippingAddress"`
	CustomerShippingCity    string `json:"payinCustomerShippingCity"`
	CustomerShippingRegion  string `json:"payinCustomerShippingRegion"`
	CustomerShippingCountry string `json:"payinCustomerShippingCountry"`
	CustomerShippingZipCode string `json:"payinCustomerShippingZipCode"`
	ProductID               string `json:"payinProductID"`
	ProductDescription      string `json:"payinProductDescription"`
	ProductAmount           string `json:"payinProductAmount"`
	ProductSku              string `json:"payinProductSku"`
	ProductQuantity         string `json:"payinProductQuantity"`
	URLMonnet               string `json:"URLMonnet"`
	TypePost                string `json:"typePost"`
}

// payinCreateResponse is the Payin V3 answer.
type payinCreateResponse struct {
	URL          string `json:"url"`
	ErrorCode    string `json:"payinErrorCode"`
	ErrorMessage string `json:"payinErrorMessage"`
	TrxOperation string `json:"payinTrxOperation"`
}

// payinNotification is what Monnet posts when a payin changes state.
// Numbers arrive as strings or numbers; flex keeps their exact text, which
// is what payinVerification covers.
type payinNotification struct {
	StateID         flex              `json:"payinStateID"`
	State           string            `json:"payinState"`
	MerchantID      flex              `json:"payinMerchantID"`
	Amount          flex              `json:"payinAmount"`
	Currency        string            `json:"payinCurrency"`
	OperationNumber string            `json:"payinMerchantOperationNumber"`
	Method          string            `json:"payinMethod"`
	Verification    string            `json:"payinVerification"`
	ErrorDetails    *payinErrorDetail `json:"errorDetails,omitempty"`
}

// payinErrorDetail is a payin failure reason.
type payinErrorDetail struct {
	Code    string `json:"codeErrorTrx"`
	Message string `json:"messageErrorTrx"`
}

// payinStatusRequest queries operations by our operation number.
type payinStatusRequest struct {
	OperationNumber string `json:"payinMerchantOperationNumber"`
}

// payinStatusResponse lists the operations found.
type payinStatusResponse struct {
	MerchantID flex             `json:"payinMerchantID"`
	Operations []payinOperation `json:"operations"`
}

// payinOperation is one payin in a status answer.
type payinOperation struct {
	StateID         flex   `json:"payinStateID"`
	State           string `json:"payinState"`
	Amount          flex   `json:"payinAmount"`
	Currency        string `json:"payinCurrency"`
	OperationNumber string `json:"payinMerchantOperationNumber"`
	PayinID         flex   `json:"payinID"`
}

// flex is a JSON value that Monnet sends as a string in one place and a
// number in another ("amount":"10000" vs 10000). It keeps the exact text.
type flex string

// UnmarshalJSON accepts a string, a number or null.
func (f *flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flex(n)
	return nil
}

// Int returns the value as an integer.
func (f flex) Int() (int64, bool) {
	n, err := strconv.ParseInt(string(f), 10, 64)
	return n, err == nil
}

// messages is an error message array that sometimes arrives as one string.
type messages []string

// UnmarshalJSON accepts ["a","b"], "a" or null.
func (m *messages) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = messages{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*m = ss
	return nil
}

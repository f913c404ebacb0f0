package monnet

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// Wire structs of Monnet's payout, card push and Payin V3 APIs. Exported so
// that the sandbox speaks exactly the same shapes. encoding/json matches
// keys case-insensitively, which absorbs Monnet's "Id"/"id" variations.

// PayoutRequest is the body of POST /api/v1/{merchantId}/payouts.
type PayoutRequest struct {
	Country     string          `json:"country"`
	Amount      int64           `json:"amount"`
	Currency    string          `json:"currency"`
	OrderID     string          `json:"orderId"`
	Description string          `json:"description,omitempty"`
	Beneficiary BeneficiaryWire `json:"beneficiary"`
	Destination DestinationWire `json:"destination"`
}

// BeneficiaryWire is the payout's beneficiary.
type BeneficiaryWire struct {
	Name     string       `json:"name"`
	LastName string       `json:"lastName"`
	Email    string       `json:"email,omitempty"`
	Document DocumentWire `json:"document"`
}

// DocumentWire is a beneficiary's identity document; Type is a number.
type DocumentWire struct {
	Type   int    `json:"type"`
	Number string `json:"number"`
}

// DestinationWire wraps the bank account.
type DestinationWire struct {
	BankAccount BankAccountWire `json:"bankAccount"`
}

// BankAccountWire is where the money goes. AccountType is sent as a JSON
// number (error 1116 says so, although the docs' examples quote it).
type BankAccountWire struct {
	BankCode      string `json:"bankCode,omitempty"`
	AccountType   int    `json:"accountType"`
	AccountNumber string `json:"accountNumber,omitempty"`
	CCI           string `json:"cci,omitempty"`
}

// CardPushRequest is the body of POST /api-payout-plus-real-time/{merchantId}.
// The excerpt's schema also lists top-level "email", "document" and
// "accountType" as required, but its own example nests them under
// beneficiary and destination; we follow the example.
type CardPushRequest struct {
	Country        string          `json:"country"`
	Amount         int64           `json:"amount"`
	Currency       string          `json:"currency"`
	OrderID        string          `json:"orderId"`
	Beneficiary    BeneficiaryWire `json:"beneficiary"`
	Destination    DestinationWire `json:"destination"`
	TimeoutURL     string          `json:"timeoutUrl"`
	MerchantLogo   string          `json:"merchantLogo,omitempty"`
	ExpirationTime string          `json:"expirationTime,omitempty"` // minutes, e.g. "03"
}

// CardPushResponse is the card push answer: the iframe the beneficiary opens.
type CardPushResponse struct {
	Iframe string `json:"iframe"`
}

// PayoutResponse is the create and status answer, and the notification body.
type PayoutResponse struct {
	Payout PayoutInfo  `json:"payout"`
	Output OutputWire  `json:"output"`
	Errors []ErrorWire `json:"errors,omitempty"`
}

// PayoutInfo describes a payout as Monnet echoes it.
type PayoutInfo struct {
	ID         Flex   `json:"Id"`
	MerchantID Flex   `json:"merchantId,omitempty"`
	Country    string `json:"country,omitempty"`
	Amount     Flex   `json:"amount"`
	Currency   string `json:"currency"`
	OrderID    string `json:"orderId"`
}

// OutputWire is the payout's stage (drives logic) and status (informative).
type OutputWire struct {
	Stage                string `json:"stage"`
	Status               string `json:"status"`
	StatusChangeDateTime string `json:"statusChangeDateTime,omitempty"`
	AuthorizationCode    string `json:"authorizationCode,omitempty"`
	AuthorizationDate    string `json:"authorizationDate,omitempty"`
}

// ErrorWire is one error of a notification or status answer.
type ErrorWire struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorResponse is an API error answer: code plus an array of messages.
type ErrorResponse struct {
	Code    Flex     `json:"code"`
	Message Messages `json:"message"`
}

// BalanceWire is one entry of GET /api/v1/{merchantId}/balance.
type BalanceWire struct {
	Country          string `json:"country"`
	Currency         string `json:"currency"`
	AvailableBalance Flex   `json:"availableBalance"`
	Balance          Flex   `json:"balance"`
}

// PayinRequest is the Payin V3 create body. Every field is sent, as the
// docs demand; the PAN fields are left out because payrun never holds card
// numbers (they are for PCI-certified merchants posting through the proxy).
type PayinRequest struct {
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

// PayinCreateResponse is the Payin V3 answer.
type PayinCreateResponse struct {
	URL          string `json:"url"`
	ErrorCode    string `json:"payinErrorCode"`
	ErrorMessage string `json:"payinErrorMessage"`
}

// PayinNotification is what Monnet posts when a payin changes state.
// Numbers arrive as strings or numbers; Flex keeps their exact text, which
// is what payinVerification covers.
type PayinNotification struct {
	StateID         Flex              `json:"payinStateID"`
	State           string            `json:"payinState"`
	MerchantID      Flex              `json:"payinMerchantID"`
	Amount          Flex              `json:"payinAmount"`
	Currency        string            `json:"payinCurrency"`
	OperationNumber string            `json:"payinMerchantOperationNumber"`
	Method          string            `json:"payinMethod"`
	Verification    string            `json:"payinVerification"`
	ErrorDetails    *PayinErrorDetail `json:"errorDetails,omitempty"`
}

// PayinErrorDetail is a payin failure reason.
type PayinErrorDetail struct {
	Code    string `json:"codeErrorTrx"`
	Message string `json:"messageErrorTrx"`
}

// PayinStatusRequest queries operations by our operation number.
type PayinStatusRequest struct {
	OperationNumber string `json:"payinMerchantOperationNumber"`
}

// PayinStatusResponse lists the operations found.
type PayinStatusResponse struct {
	MerchantID Flex             `json:"payinMerchantID"`
	Operations []PayinOperation `json:"operations"`
}

// PayinOperation is one payin in a status answer.
type PayinOperation struct {
	StateID         Flex   `json:"payinStateID"`
	State           string `json:"payinState"`
	Amount          Flex   `json:"payinAmount"`
	Currency        string `json:"payinCurrency"`
	OperationNumber string `json:"payinMerchantOperationNumber"`
	PayinID         Flex   `json:"payinID"`
}

// Flex is a JSON value that Monnet sends as a string in one place and a
// number in another ("amount":"10000" vs 10000). It keeps the exact text.
type Flex string

// UnmarshalJSON accepts a string, a number or null.
func (f *Flex) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = Flex(s)
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
	*f = Flex(n)
	return nil
}

// Int returns the value as an integer.
func (f Flex) Int() (int64, bool) {
	n, err := strconv.ParseInt(string(f), 10, 64)
	return n, err == nil
}

// Messages is an error message array that sometimes arrives as one string.
type Messages []string

// UnmarshalJSON accepts ["a","b"], "a" or null.
func (m *Messages) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = Messages{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*m = ss
	return nil
}

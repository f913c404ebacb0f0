package sandbox

// The sandbox's own wire types and code tables, written from Monnet's
// documents (PROVIDERS.md sections 1 and 2, excerpts 000 and 001)
// independently of payrun's client, so that a misreading in one is refused
// by the other rather than mirrored. Requests are read loosely (looseRequest
// in validate.go, payin fields by name) so that a wrong type or a missing
// field gets Monnet's own code.

// name is the provider's name in the sandbox's ledger and notifications.
const name = "monnet"

// Stages drive logic at Monnet; statuses refine them (PROVIDERS.md 1.4).
const (
	stageInProgress = "IN_PROGRESS"
	stagePending    = "PENDING"
	stageSuccess    = "SUCCESS"
	stageRejected   = "REJECTED"

	statusCreated        = "CREATED"
	statusAuthorized     = "AUTHORIZED"
	statusPendingBalance = "PENDING_BALANCE"
	statusProcessed      = "PROCESSED"
	statusNoBalance      = "NO_BALANCE"
	statusReversed       = "REVERSED"
	// statusBusiness is spelt as Monnet's status page spells it.
	statusBusiness = "BUSSINESS_ERROR"
)

// Error codes the sandbox answers with (Monnet's error codes page).
const (
	codeAuth      = "1001" // Missing or invalid Authentication
	codeDuplicate = "2005" // [orderId] Duplicated
	// codeCardTimeout is the iframe's timeout event, which the sandbox also
	// uses as the error code of the REJECTED notification it sends when an
	// iframe expires: how a timeout reaches the merchant's server is not
	// documented (docs/PROVIDER_GUESSES.md).
	codeCardTimeout = "mps-payout-finished-timeout"
)

// Account types for Peru (PROVIDERS.md 1.3).
const (
	accountCurrent = 1
	accountSavings = 2
	accountPhone   = 4
	accountCard    = 5
)

// Limits in céntimos (PROVIDERS.md 1.3; errors 1224, 1227, 3005) and field
// lengths (orderId 20 for Peru, description 50).
const (
	walletLimit    = 500_00
	yapeLimit      = 3_000_00
	bankLimit      = 30_000_00
	fraudLimit     = 25_000_00
	maxOrderID     = 20
	maxDescription = 50
)

// banks are the Peru bank codes the sandbox accepts (Monnet's Peru.md).
var banks = map[string]string{
	"001": "BBVA", "002": "BCP", "003": "Interbank", "004": "Scotiabank",
	"033": "BIM", "037": "Yape", "040": "Plin", "123": "Kasnet",
}

// walletBanks only take accountType 4 (error 1241).
var walletBanks = map[string]bool{"033": true, "037": true, "040": true}

// cciPrefix is the first three digits a CCI of a bank must have (errors
// 1215, 1216, 1219, 1220): BBVA CCIs begin 011, Scotiabank's 009.
var cciPrefix = map[string]struct{ prefix, code string }{
	"001": {"011", "1215"}, "002": {"002", "1216"}, "003": {"003", "1219"}, "004": {"009", "1220"},
}

// payoutJSON is the payout part of a create or status answer: Monnet's
// numeric "Id" and amount.
type payoutJSON struct {
	ID       int64  `json:"Id"`
	Country  string `json:"country"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	OrderID  string `json:"orderId"`
}

type outputJSON struct {
	Stage                string `json:"stage"`
	Status               string `json:"status"`
	StatusChangeDateTime string `json:"statusChangeDateTime"`
	AuthorizationCode    string `json:"authorizationCode,omitempty"`
	AuthorizationDate    string `json:"authorizationDate,omitempty"`
}

type errorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// payoutAnswer is the create (201) and status (200) body.
type payoutAnswer struct {
	Payout payoutJSON  `json:"payout"`
	Output outputJSON  `json:"output"`
	Errors []errorItem `json:"errors,omitempty"`
}

// errorAnswer is Monnet's API error: a code and an array of messages.
type errorAnswer struct {
	Code    string   `json:"code"`
	Message []string `json:"message"`
}

// notificationJSON is the body of a payout notification (PROVIDERS.md
// 1.5): string id and amount, lower-case "id".
type notificationJSON struct {
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
	Output outputJSON  `json:"output"`
	Errors []errorItem `json:"errors,omitempty"`
}

// balanceItem is one entry of the balance answer, an array of arrays of
// these (the Get Balance page's schema); amounts in minor units.
type balanceItem struct {
	Country          string `json:"country"`
	Currency         string `json:"currency"`
	AvailableBalance int64  `json:"availableBalance"`
	Balance          int64  `json:"balance"`
}

// Payin V3 (excerpt 001, the Payin API's Peru page).

// Payin state ids and their words (PAYINs status codes).
const (
	payinCreated    = 1
	payinPending    = 2
	payinExpired    = 3
	payinAuthorized = 5
	payinDenied     = 6
	payinRefunded   = 10
)

var payinStateNames = map[int]string{
	payinCreated: "Creado", payinPending: "Pendiente de pago", payinExpired: "Expirado",
	payinAuthorized: "Autorizado", payinDenied: "Denegado", 9: "Liquidado",
	payinRefunded: "Reembolsado", 11: "Devuelto",
}

// payinFields are every field of the create request, in the documents'
// order: "all fields must be included on request no matter if they are
// required or optional". The card fields (payinPan, payinCvv,
// payinCardExpiration) are required for card methods only (payinCardFields).
var payinFields = []string{
	"payinMerchantID", "payinAmount", "payinCurrency", "payinMerchantOperationNumber", "payinMethod",
	"payinVerification", "payinTransactionOKURL", "payinTransactionErrorURL", "payinExpirationTime",
	"payinLanguage", "payinCustomerEmail", "payinCustomerName", "payinCustomerLastName",
	"payinCustomerTypeDocument", "payinCustomerDocument", "payinCustomerPhone", "payinCustomerAddress",
	"payinCustomerCity", "payinCustomerRegion", "payinCustomerCountry", "payinCustomerZipCode",
	"payinCustomerShippingName", "payinCustomerShippingPhone", "payinCustomerShippingAddress",
	"payinCustomerShippingCity", "payinCustomerShippingRegion", "payinCustomerShippingCountry",
	"payinCustomerShippingZipCode", "payinRegularCustomer", "payinCustomerID", "payinDiscountCoupon",
	"payinFilterBy", "payinProductID", "payinProductDescription", "payinProductAmount", "payinDateTime",
	"payinProductSku", "payinProductQuantity", "URLMonnet", "typePost",
}

// payinNotEmpty must carry a value: the four customer fields the documents
// single out, and the product fields that "can not be empty".
var payinNotEmpty = []string{
	"payinCustomerName", "payinCustomerLastName", "payinCustomerEmail", "payinCustomerPhone",
	"payinProductID", "payinProductDescription", "payinProductAmount", "payinDateTime",
	"payinProductSku", "payinProductQuantity", "payinLanguage", "payinExpirationTime",
}

// payinCardFields are what a card payment (methods TCTD, TC, TD) must carry:
// the back-to-back request of excerpt 001, PCI-certified merchants only.
var payinCardFields = []string{"payinPan", "payinCvv", "payinCardExpiration"}

// payinMethods is Monnet's payin method list; cardMethods need the card
// fields.
var (
	payinMethods = map[string]bool{"TCTD": true, "TC": true, "TD": true, "Cash": true, "BankTransfer": true,
		"BankTransfer_Businesses": true, "Wallet": true, "QR": true, "VA": true}
	cardMethods = map[string]bool{"TCTD": true, "TC": true, "TD": true}
)

// Payin creation codes (PAYINs error codes).
const (
	payinOK              = "0000"
	payinBadMerchant     = "0009"
	payinBadVerification = "0010"
	payinBadProcessor    = "0018"
	// payinMissing is the sandbox's code for a field left out or empty:
	// Monnet documents the rule, not its code.
	payinMissing = "0089"
	// payinDuplicate answers a repeated operation number: Monnet's
	// "Duplicate transmission"; what Monnet really answers is not
	// documented.
	payinDuplicate = "9094"
)

type payinCreateAnswer struct {
	URL          string `json:"url,omitempty"`
	ErrorCode    string `json:"payinErrorCode"`
	ErrorMessage string `json:"payinErrorMessage"`
	TrxOperation string `json:"payinTrxOperation,omitempty"`
}

type payinStatusRequest struct {
	OperationNumber *string `json:"payinMerchantOperationNumber"`
	StartDate       string  `json:"payinStartDate"`
	EndDate         string  `json:"payinEndDate"`
}

type payinOperationJSON struct {
	StateID         string `json:"payinStateID"`
	State           string `json:"payinState"`
	Amount          string `json:"payinAmount"`
	Currency        string `json:"payinCurrency"`
	OperationNumber string `json:"payinMerchantOperationNumber"`
	PayinID         string `json:"payinID"`
}

type payinStatusAnswer struct {
	MerchantID string               `json:"payinMerchantID"`
	Operations []payinOperationJSON `json:"operations"`
}

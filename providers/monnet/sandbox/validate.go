package sandbox

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// rejection is a Monnet validation answer: HTTP 400, a code and a message.
type rejection struct {
	code, msg string
}

// looseRequest reads a create body without trusting its types, so that a
// string where Monnet wants a number gets Monnet's own code. It holds every
// attribute Monnet documents for Peru's payouts and card push payouts
// (with the HMAC page's customerId, userName and clabe, and the card push
// schema's top-level email, document and accountType); names are matched
// case-sensitively and any other attribute is refused with 1035, whose
// message asks to "validate attribute exist and comply with case
// sensitive".
type looseRequest struct {
	Country     string          `json:"country"`
	Amount      json.RawMessage `json:"amount"`
	Currency    string          `json:"currency"`
	OrderID     string          `json:"orderId"`
	Description string          `json:"description"`
	Beneficiary *struct {
		Name       string `json:"name"`
		LastName   string `json:"lastName"`
		Email      string `json:"email"`
		CustomerID string `json:"customerId"`
		UserName   string `json:"userName"`
		Document   *struct {
			Type   json.RawMessage `json:"type"`
			Number string          `json:"number"`
		} `json:"document"`
	} `json:"beneficiary"`
	Destination *struct {
		BankAccount *struct {
			BankCode      string          `json:"bankCode"`
			AccountType   json.RawMessage `json:"accountType"`
			AccountNumber string          `json:"accountNumber"`
			CCI           string          `json:"cci"`
			CLABE         string          `json:"clabe"`
		} `json:"bankAccount"`
	} `json:"destination"`
	TimeoutURL     string          `json:"timeoutUrl"`
	MerchantLogo   string          `json:"merchantLogo"`
	ExpirationTime string          `json:"expirationTime"`
	Email          string          `json:"email"`
	Document       json.RawMessage `json:"document"`
	AccountType    json.RawMessage `json:"accountType"`
}

// checked is a validated request.
type checked struct {
	orderID, currency, description  string
	amount                          int64
	accountType                     int
	bankCode, accountNumber, cci    string
	name, lastName, email, document string
}

// attribute names the member a decoding error is about, or "body".
func attribute(err error) string {
	var se *jsonv2.SemanticError
	if errors.As(err, &se) && se.JSONPointer != "" {
		return strings.ReplaceAll(strings.TrimPrefix(string(se.JSONPointer), "/"), "/", ".")
	}
	return "body"
}

func jsonInt(raw json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(raw))
	if !sandboxkit.Digits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// validate applies Monnet's Peru rules (PROVIDERS.md 1.3, Monnet's error
// codes page). cardPush selects the push-payment endpoint's rules.
func validate(body []byte, cardPush bool) (checked, *rejection) {
	var q looseRequest
	if err := jsonv2.Unmarshal(body, &q, jsonv2.RejectUnknownMembers(true)); err != nil {
		return checked{}, &rejection{"1035", "The following attribute is not valid: " + attribute(err) + ". Validate attribute exist and comply with case sensitive."}
	}
	missing := func(code, field string) (checked, *rejection) {
		return checked{}, &rejection{code, "Missing field [" + field + "]"}
	}
	switch {
	case q.Country == "":
		return missing("1010", "country")
	case len(q.Amount) == 0 || string(q.Amount) == "null":
		return missing("1011", "amount")
	case q.Currency == "":
		return missing("1012", "currency")
	case q.OrderID == "":
		return missing("1013", "orderId")
	case q.Beneficiary == nil:
		return missing("1014", "beneficiary")
	case q.Beneficiary.Name == "":
		return missing("1015", "beneficiary.name")
	case q.Beneficiary.LastName == "":
		return missing("1016", "beneficiary.lastName")
	case q.Beneficiary.Document == nil:
		return missing("1017", "beneficiary.document")
	case len(q.Beneficiary.Document.Type) == 0:
		return missing("1019", "beneficiary.document.type")
	case q.Beneficiary.Document.Number == "":
		return missing("1022", "beneficiary.document.number")
	case q.Destination == nil:
		return missing("1020", "destination")
	case q.Destination.BankAccount == nil:
		return missing("1021", "destination.bankAccount")
	case len(q.Destination.BankAccount.AccountType) == 0:
		return missing("1024", "destination.bankAccount.accountType")
	}
	c := checked{orderID: q.OrderID, currency: q.Currency, description: q.Description,
		name: q.Beneficiary.Name, lastName: q.Beneficiary.LastName, email: q.Beneficiary.Email,
		document: q.Beneficiary.Document.Number}
	ba := q.Destination.BankAccount
	c.bankCode, c.accountNumber, c.cci = ba.BankCode, ba.AccountNumber, ba.CCI
	reject := func(code, msg string) (checked, *rejection) { return checked{}, &rejection{code, msg} }
	var ok bool
	if c.amount, ok = jsonInt(q.Amount); !ok || c.amount <= 0 {
		return reject("1117", "[amount] must be a number")
	}
	if len(strings.TrimSpace(string(q.Amount))) > 10 {
		return reject("1110", "[amount] invalid length")
	}
	docType, ok := jsonInt(q.Beneficiary.Document.Type)
	if !ok {
		return reject("1118", "[beneficiary.document.type] must be a number")
	}
	at, ok := jsonInt(ba.AccountType)
	if !ok {
		return reject("1116", "[destination.bankAccount.accountType] must be a number")
	}
	c.accountType = int(at)
	if q.Country != "PER" {
		return reject("1102", "[country] invalid")
	}
	if q.Currency != "PEN" && q.Currency != "USD" {
		return reject("1104", "[currency] invalid")
	}
	if utf8.RuneCountInString(q.OrderID) > maxOrderID {
		return reject("1031", "[orderId] exceeds allowed characters")
	}
	if utf8.RuneCountInString(q.Description) > maxDescription {
		return reject("1031", "[description] exceeds allowed characters")
	}
	if r := validateDocument(int(docType), c.document, c.bankCode); r != nil {
		return checked{}, r
	}
	if cardPush {
		switch {
		case c.accountType != accountCard:
			return reject("1108", "[destination.bankAccount.accounType] invalid")
		case q.TimeoutURL == "":
			return reject("1121", "The field [Timeout_URL] is mandatory when [destination.bankAccount.accountType] = Card")
		case c.email == "":
			return missing("1033", "beneficiary.email")
		}
		return c, nil
	}
	switch c.accountType {
	case accountCard:
		return reject("1122", "For [country] = PER and [destination.bankAccount.accountType] = Card, use the Create PushPayment endpoint.")
	case accountPhone:
		return validateWallet(c)
	case accountCurrent, accountSavings:
		return validateBank(c)
	}
	return reject("1108", "[destination.bankAccount.accounType] invalid")
}

func validateDocument(docType int, number, bankCode string) *rejection {
	n := len(number)
	switch docType {
	case 1:
		if !sandboxkit.Digits(number) || n != 8 {
			return &rejection{"1201", "[beneficiary.document.number] must have 8 digits for [beneficiary.document.type] = DNI"}
		}
	case 2:
		if n < 7 || n > 12 {
			return &rejection{"1202", "[beneficiary.document.number] must have between 7-12 digits for [beneficiary.document.type] = PAS"}
		}
	case 3:
		if !sandboxkit.Digits(number) || n < 8 || n > 12 {
			return &rejection{"1203", "[beneficiary.document.number] must have between 8-12 digits for [beneficiary.document.type] = CE"}
		}
	case 4:
		if !sandboxkit.Digits(number) || n != 11 {
			return &rejection{"1204", "[beneficiary.document.number] must have 11 digits for [beneficiary.document.type] = RUC"}
		}
		if bankCode == "004" {
			return &rejection{"1105", "[beneficiary.document.type] invalid"}
		}
	default:
		return &rejection{"1105", "[beneficiary.document.type] invalid"}
	}
	return nil
}

func validateWallet(c checked) (checked, *rejection) {
	reject := func(code, msg string) (checked, *rejection) { return checked{}, &rejection{code, msg} }
	switch {
	case c.bankCode == "":
		return reject("1229", "[destination.bankAccount.bankCode] is mandatory when [destination.bankAccount.accountType]= Cellphone Number")
	case banks[c.bankCode] == "":
		return reject("1107", "[destination.bankAccount.bankCode] invalid")
	case c.accountNumber == "":
		return reject("1242", "[destination.bankAccount.accountNumber] is mandatory when [destination.bankAccount.accountType]= Cellphone Number")
	case !sandboxkit.Digits(c.accountNumber) || len(c.accountNumber) != 9 || c.accountNumber[0] != '9':
		return reject("1226", "[destination.bankAccount.accountNumber] must be numeric with 9 digits and start with the number “9” when [destination.bankAccount.accountType]= Cellphone Number")
	case c.currency != "PEN":
		return reject("1228", "[currency] must be PEN for [destination.bankAccount.accountType]= Cellphone number")
	case c.bankCode == "037" && c.description == "":
		return reject("1032", "Missing field [description]")
	case c.bankCode == "037" && c.amount > yapeLimit:
		return reject("1224", "[amount] exceeds the limit allowed for this destination bank")
	case c.bankCode != "037" && c.amount > walletLimit:
		return reject("1227", "[amount] must not exceed 500 PEN for [destination.bankAccount.accountType]= Cellphone number")
	}
	return c, nil
}

func validateBank(c checked) (checked, *rejection) {
	reject := func(code, msg string) (checked, *rejection) { return checked{}, &rejection{code, msg} }
	switch {
	case c.bankCode == "":
		return reject("1023", "Missing field [destination.bankAccount.bankCode]")
	case banks[c.bankCode] == "":
		return reject("1107", "[destination.bankAccount.bankCode] invalid")
	case walletBanks[c.bankCode]:
		return reject("1241", "[destination.bankAccount.accountType] must be “Cellphone number” when [destination.bankAccount.bankCode] = 033 (BIM), 037 (YAPE) and 040 (PLIN)")
	case c.accountNumber != "" && !sandboxkit.Digits(c.accountNumber):
		return reject("1109", "[destination.bankAccount.accountNumber] only accepts numeric values")
	case c.cci == "":
		return reject("1026", "Missing field [destination.bankAccount.cci]")
	case !sandboxkit.Digits(c.cci):
		return reject("1210", "[destination.bankAccount.cci] only accepts numeric values")
	case len(c.cci) != 20:
		return reject("1209", "[destination.bankAccount.cci] must have 20 digits")
	}
	if rule, ok := cciPrefix[c.bankCode]; ok && c.cci[:3] != rule.prefix {
		return reject(rule.code, "[destination.bankAccount.cci] must begin with '"+rule.prefix+"' for [destination.bankAccount.bankCode] = "+c.bankCode)
	}
	switch {
	case c.amount > bankLimit:
		return reject("1224", "[amount] exceeds the limit allowed for this destination bank")
	case c.amount > fraudLimit:
		return reject("3005", "Fraud Validation - Amount must not exceed 25,000")
	}
	return c, nil
}

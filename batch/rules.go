package batch

import (
	"github.com/payrun/payrun/providers"
)

// ProviderRules is what one provider accepts, declared as data from its
// documentation (PROVIDERS.md). The validator reads these tables; adding a
// provider or changing a limit is an edit here, not a new code path.
type ProviderRules struct {
	Name string
	// Methods lists the methods the provider pays with, and their rules.
	Methods map[providers.Method]MethodRules
	// Currencies the provider pays in (ISO 4217).
	Currencies []string
	// Countries the provider pays to (ISO 3166-1 alpha-2); empty = any.
	Countries []string
	// MaxReference is the longest merchant reference (payout_id) the
	// provider takes, per country ("" = every country); 0 = the schema's 64.
	MaxReference map[string]int
	// ReferenceField is the provider's own name for payout_id, for messages.
	ReferenceField string
	// MaxDescription is the longest description; 0 = no limit.
	MaxDescription int
	// MaxFullName caps name + " " + last name (TeemoPay realName); 0 = none.
	MaxFullName int
	// DocumentTypes the provider accepts; empty = any of the schema's.
	DocumentTypes []string
	// CELength is the length range of a CE number at this provider.
	CELength [2]int
	// DocumentNotForBank: a document type some banks refuse at this
	// provider (Monnet: no RUC for Scotiabank 004).
	DocumentNotForBank map[string][]string
	// CardToken is the form of a card token this provider issues; "" = no
	// rule beyond "not a card number".
	CardToken TokenForm
}

// MethodRules are a provider's rules for one payout method.
type MethodRules struct {
	// Required lists column groups: each group needs at least one of its
	// columns filled ({"account_number", "cci"} = either will do).
	Required [][]string
	// Currencies narrows the provider's currencies for this method; empty
	// = all of the provider's.
	Currencies []string
	// Limits cap the amount; the first limit whose currency (and bank
	// code, when set) matches the row applies.
	Limits []Limit
	// DescriptionForBanks: description is mandatory for these bank codes.
	DescriptionForBanks []string
	// AccountLengths: for bank transfers without a CCI, the account number
	// lengths each bank accepts; a bank not listed needs the CCI. Nil = no
	// rule.
	AccountLengths map[string][]int
}

// Limit is a maximum amount per payout, as a decimal string.
type Limit struct {
	Currency string
	BankCode string // "" = any bank
	Max      string
	Why      string // the name of the limit in the provider's terms
}

// TokenForm is the shape of a provider's card token.
type TokenForm string

// Token forms.
const (
	TokenHex64 TokenForm = "hex64" // a 64-character hexadecimal hash (Bank 131, Smart Glocal)
)

// Provider names, as in the provider column and the configuration.
const (
	Monnet      = "monnet"
	TeemoPay    = "teemopay"
	Bank131     = "bank131"
	SmartGlocal = "smartglocal"
)

// Rules holds every provider's rules, in one visible table.
var Rules = map[string]ProviderRules{
	Monnet: {
		Name: Monnet,
		Methods: map[providers.Method]MethodRules{
			providers.BankTransfer: {
				Required: [][]string{{ColBeneficiaryName}, {ColDocumentType}, {ColDocumentNumber},
					{ColBankCode}, {ColAccountNumber, ColCCI}},
				Limits: []Limit{{Currency: "PEN", Max: "30000", Why: "Monnet bank account payouts"}},
				// Monnet Peru: BBVA 18/20, BCP 13 current/14 savings,
				// Interbank 13, Scotiabank 10; other banks by 20-digit CCI.
				AccountLengths: map[string][]int{"001": {18, 20}, "002": {13, 14}, "003": {13}, "004": {10}},
			},
			providers.Wallet: {
				Required:   [][]string{{ColBeneficiaryName}, {ColDocumentType}, {ColDocumentNumber}, {ColPhone}, {ColBankCode}},
				Currencies: []string{"PEN"},
				Limits: []Limit{
					{Currency: "PEN", BankCode: "037", Max: "3000", Why: "Monnet Yape payouts"},
					{Currency: "PEN", Max: "500", Why: "Monnet wallet payouts"},
				},
				DescriptionForBanks: []string{"037"},
			},
			// The card push request carries the beneficiary's document
			// (excerpt 000); Payin V3 needs the customer's name, last name,
			// email and phone (the sandbox answers 0089 without them).
			providers.CardPush: {
				Required: [][]string{{ColBeneficiaryName}, {ColEmail}, {ColDocumentType}, {ColDocumentNumber}},
				Limits:   []Limit{{Currency: "PEN", Max: "30000", Why: "Monnet payouts"}},
			},
			providers.PaymentLink: {
				Required: [][]string{{ColBeneficiaryName}, {ColBeneficiaryLastName}, {ColEmail}, {ColPhone}},
				Limits:   []Limit{{Currency: "PEN", Max: "30000", Why: "Monnet payouts"}},
			},
		},
		Currencies:         []string{"PEN", "USD"},
		Countries:          []string{"PE"},
		MaxReference:       map[string]int{"PE": 20},
		ReferenceField:     "orderId",
		MaxDescription:     50,
		DocumentTypes:      []string{"DNI", "RUC", "CE", "PAS"},
		CELength:           [2]int{8, 12},
		DocumentNotForBank: map[string][]string{"RUC": {"004"}},
	},
	TeemoPay: {
		Name: TeemoPay,
		Methods: map[providers.Method]MethodRules{
			providers.BankTransfer: {
				Required: [][]string{{ColBeneficiaryName}, {ColDocumentType}, {ColDocumentNumber},
					{ColBankCode}, {ColAccountType}, {ColAccountNumber, ColCCI}},
			},
			providers.Wallet: {
				Required: [][]string{{ColBeneficiaryName}, {ColDocumentType}, {ColDocumentNumber}, {ColPhone}, {ColBankCode}},
			},
		},
		Currencies:     []string{"PEN"},
		Countries:      []string{"PE"},
		MaxReference:   map[string]int{"": 32},
		ReferenceField: "merchantOrderNo",
		MaxFullName:    40,
		DocumentTypes:  []string{"DNI", "RUC", "CE", "PAS"},
		CELength:       [2]int{9, 9},
	},
	Bank131: {
		Name: Bank131,
		Methods: map[providers.Method]MethodRules{
			providers.CardToken: {Required: [][]string{{ColCardToken}}},
		},
		Currencies: []string{"RUB", "USD", "EUR"},
		CardToken:  TokenHex64,
	},
	SmartGlocal: {
		Name: SmartGlocal,
		Methods: map[providers.Method]MethodRules{
			providers.CardToken: {Required: [][]string{{ColCardToken}}},
		},
		Currencies: []string{"USD", "EUR", "RUB"},
		CardToken:  TokenHex64,
	},
}

// ProviderNames lists the known providers in documentation order.
var ProviderNames = []string{Monnet, TeemoPay, Bank131, SmartGlocal}

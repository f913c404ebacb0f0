package monnet

import "github.com/payrun/payrun/providers"

// Rules are what Monnet accepts in a payout file, from its Peru country
// requirements (PROVIDERS.md 1.3; Monnet-Docu PAYOUTs/02-Country
// Requirements/Peru.md), the card push excerpt (000) and Payin V3 (001).
func Rules() providers.Rules {
	const (
		country  = providers.ColumnCountry
		name     = providers.ColumnBeneficiaryName
		lastName = providers.ColumnBeneficiaryLastName
		email    = providers.ColumnEmail
		phone    = providers.ColumnPhone
		docType  = providers.ColumnDocumentType
		docNum   = providers.ColumnDocumentNumber
		bank     = providers.ColumnBankCode
		account  = providers.ColumnAccountNumber
		cci      = providers.ColumnCCI
	)
	return providers.Rules{
		Label: "Monnet",
		Methods: map[providers.Method]providers.MethodRules{
			// Create payout: country, beneficiary name, last name and
			// document are required; the CCI stands in for the account
			// number (real-time banks need it).
			providers.BankTransfer: {
				Required: [][]string{{country}, {name}, {lastName}, {docType}, {docNum}, {bank}, {account, cci}},
				Limits:   []providers.Limit{{Currency: "PEN", Max: "30000", Why: "Monnet bank account payouts"}},
				// BBVA 18/20, BCP 13 current/14 savings, Interbank 13,
				// Scotiabank 10; other banks by their 20-digit CCI.
				AccountLengths: map[string][]int{"001": {18, 20}, "002": {13, 14}, "003": {13}, "004": {10}},
				CCIInstead:     true,
			},
			// Account type 4 (cellphone number): PEN only, bankCode
			// mandatory, description mandatory for Yape (037).
			providers.Wallet: {
				Required:   [][]string{{country}, {name}, {lastName}, {docType}, {docNum}, {phone}, {bank}},
				Currencies: []string{"PEN"},
				Limits: []providers.Limit{
					{Currency: "PEN", BankCode: "037", Max: "3000", Why: "Monnet Yape payouts"},
					{Currency: "PEN", Max: "500", Why: "Monnet wallet payouts"},
				},
				DescriptionForBanks: []string{"037"},
			},
			// Card push (excerpt 000): beneficiary name, lastName, email
			// (the cardholder's, mandatory for account type 5) and document.
			providers.CardPush: {
				Required: [][]string{{country}, {name}, {lastName}, {email}, {docType}, {docNum}},
				Limits:   []providers.Limit{{Currency: "PEN", Max: "30000", Why: "Monnet payouts"}},
			},
			// Payin V3 (excerpt 001): the customer's name, last name, email
			// and phone must never be empty; type of document and document
			// are required too. The country is Monnet's, not the row's.
			providers.PaymentLink: {
				Required: [][]string{{name}, {lastName}, {email}, {phone}, {docType}, {docNum}},
				Limits:   []providers.Limit{{Currency: "PEN", Max: "30000", Why: "Monnet payouts"}},
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
	}
}

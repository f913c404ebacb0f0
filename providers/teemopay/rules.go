package teemopay

import "github.com/payrun/payrun/providers"

// Rules are what TeemoPay accepts in a payout file, from its payout create
// page (excerpt 003, PROVIDERS.md 3.2) and its Peru bank list.
func Rules() providers.Rules {
	const (
		name    = providers.ColumnBeneficiaryName
		docType = providers.ColumnDocumentType
		docNum  = providers.ColumnDocumentNumber
		bank    = providers.ColumnBankCode
		acctTyp = providers.ColumnAccountType
		account = providers.ColumnAccountNumber
	)
	return providers.Rules{
		Label: "TeemoPay",
		Methods: map[providers.Method]providers.MethodRules{
			// bankAccount is the account number itself: a 20-digit CCI
			// sent in its place would name no account at the bank.
			providers.BankTransfer: {
				Required: [][]string{{name}, {docType}, {docNum}, {bank}, {acctTyp}, {account}},
				// The banks of TeemoPay's list (banksBySBS).
				Banks: []string{"001", "002", "003", "004"},
				// BBVA 18, BCP 13 current/14 savings, Interbank 13,
				// Scotiabank 10.
				AccountLengths: map[string][]int{"001": {18}, "002": {13, 14}, "003": {13}, "004": {10}},
			},
			// Yape is the only wallet the client knows, and TeemoPay
			// documents neither a bank code nor an account type for it
			// (103 WALLET(YAPE) appears on a live page, not in the API
			// reference): sending one would be a guess with real money.
			providers.Wallet: {
				Refused: "TeemoPay's documentation describes no Yape (bank 037) or other wallet payout; pay wallets through Monnet",
			},
		},
		Currencies:     []string{"PEN"},
		Countries:      []string{"PE"},
		MaxReference:   map[string]int{"": 32}, // merchantOrderNo, excerpt 003
		ReferenceField: "merchantOrderNo",
		MaxFullName:    40, // realName
		DocumentTypes:  []string{"DNI", "RUC", "CE", "PAS"},
		CELength:       [2]int{9, 9},
	}
}

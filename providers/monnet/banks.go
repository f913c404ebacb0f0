package monnet

import "github.com/payrun/payrun/providers"

// countries maps ISO 3166-1 alpha-2 to Monnet's alpha-3 country field.
// Only Peru is wired: the code tables below are Peru's.
var countries = map[string]string{"PE": "PER"}

// documentTypes are Monnet's Peru document codes (PROVIDERS.md 1.3).
var documentTypes = map[string]int{"DNI": 1, "PAS": 2, "CE": 3, "RUC": 4}

// Account type codes for Peru.
const (
	accountChecking = 1 // "Current account"
	accountSavings  = 2
	accountPhone    = 4 // wallets: phone number in accountNumber
	accountCard     = 5 // only through the card push endpoint
)

// accountTypes maps the canonical account_type to Monnet's code.
var accountTypes = map[string]int{"checking": accountChecking, "current": accountChecking, "savings": accountSavings}

// cciPrefixes maps the first three digits of a CCI to Monnet's bankCode
// where they differ: Monnet's errors 1215 and 1220 say BBVA (001) CCIs begin
// with 011 and Scotiabank (004) CCIs with 009. The canonical input carries
// the CCI prefix (PROVIDERS.md 7), so both spellings are accepted.
var cciPrefixes = map[string]string{"011": "001", "009": "004"}

// bankCode returns Monnet's bankCode for a canonical bank code.
func bankCode(canonical string) string {
	if m, ok := cciPrefixes[canonical]; ok {
		return m
	}
	return canonical
}

// accountTypeFor returns the Monnet accountType of a payout.
func accountTypeFor(p providers.Payout) (int, bool) {
	switch p.Method {
	case providers.Wallet:
		return accountPhone, true
	case providers.CardPush:
		return accountCard, true
	}
	t, ok := accountTypes[p.Beneficiary.AccountType]
	return t, ok
}

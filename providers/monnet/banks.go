package monnet

import "github.com/payrun/payrun/providers"

// countries maps ISO 3166-1 alpha-2 to Monnet's alpha-3 country field.
// Only Peru is wired: the code tables below are Peru's.
var countries = map[string]string{"PE": "PER"}

// DocumentTypes are Monnet's Peru document codes (PROVIDERS.md 1.3).
var DocumentTypes = map[string]int{"DNI": 1, "PAS": 2, "CE": 3, "RUC": 4}

// Account type codes for Peru.
const (
	AccountChecking = 1 // "Current account"
	AccountSavings  = 2
	AccountPhone    = 4 // wallets: phone number in accountNumber
	AccountCard     = 5 // only through the card push endpoint
)

// accountTypes maps the canonical account_type to Monnet's code.
var accountTypes = map[string]int{"checking": AccountChecking, "current": AccountChecking, "savings": AccountSavings}

// Banks are the Monnet Peru bank codes this client knows (PROVIDERS.md
// 1.3 and the Peru error codes; the full table is in Monnet's Peru.md).
var Banks = map[string]string{
	"001": "BBVA", "002": "BCP", "003": "Interbank", "004": "Scotiabank",
	"033": "BIM", "037": "Yape", "040": "Plin", "123": "Kasnet",
}

// cciPrefixes maps the first three digits of a CCI to Monnet's bankCode
// where they differ: Monnet's errors 1215 and 1220 say BBVA (001) CCIs begin
// with 011 and Scotiabank (004) CCIs with 009. The canonical input carries
// the CCI prefix (PROVIDERS.md 7), so both spellings are accepted.
var cciPrefixes = map[string]string{"011": "001", "009": "004"}

// BankCode returns Monnet's bankCode for a canonical bank code.
func BankCode(canonical string) string {
	if m, ok := cciPrefixes[canonical]; ok {
		return m
	}
	return canonical
}

// CCIPrefix returns the CCI prefix of a Monnet bankCode.
func CCIPrefix(bankCode string) string {
	for p, m := range cciPrefixes {
		if m == bankCode {
			return p
		}
	}
	return bankCode
}

// WalletBanks are the codes that only accept accountType 4 (error 1241).
var WalletBanks = map[string]bool{"033": true, "037": true, "040": true}

// Limits in minor units of PEN (PROVIDERS.md 1.3, errors 1224/1227).
const (
	WalletLimit     = 500_00
	YapeLimit       = 3_000_00
	BankLimit       = 30_000_00
	FraudLimit      = 25_000_00 // 3005
	MaxOrderIDLen   = 20
	MaxDescription  = 50
	defaultPayinMth = "TCTD"
)

// accountTypeFor returns the Monnet accountType of a payout.
func accountTypeFor(p providers.Payout) (int, bool) {
	switch p.Method {
	case providers.Wallet:
		return AccountPhone, true
	case providers.CardPush:
		return AccountCard, true
	}
	t, ok := accountTypes[p.Beneficiary.AccountType]
	return t, ok
}

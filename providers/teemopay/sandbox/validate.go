package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// bankCodes is TeemoPay's Peru bank list (teemopay/ttpaydoc
// en/peru/payout/bank.md), plus the Yape code payrun guesses.
var bankCodes = func() map[string]bool {
	m := map[string]bool{yapeBankCode: true}
	for _, c := range strings.Fields("1 2 3 4 5 6 7 8 9 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 43 58 62 63 91 93 94 96 99 836") {
		m[c] = true
	}
	return m
}()

// validateCreate checks a create request as TeemoPay does and returns the
// amount in céntimos, or the envelope message of the first problem (code 400).
func validateCreate(r createBody) (int64, string) {
	switch {
	case blank(r.MerchantOrderNo) || len(r.MerchantOrderNo) > 32:
		return 0, "merchantOrderNo is required (at most 32 characters)"
	case blank(r.BankCode) || !bankCodes[r.BankCode]:
		return 0, "Invalid bankCode"
	case blank(r.BankName) || len(r.BankName) > 50:
		return 0, "bankName is required (at most 50 characters)"
	case blank(r.BankAccount) || len(r.BankAccount) > 50:
		return 0, "bankAccount is required (at most 50 characters)"
	case blank(r.RealName) || utf8.RuneCountInString(r.RealName) > 40:
		return 0, "realName is required (at most 40 characters)"
	case r.Phone != "" && !isPhone(r.Phone):
		return 0, "phone must be 9 digits starting with 9"
	case r.CCINumber != "" && (len(r.CCINumber) != 20 || !sandboxkit.Digits(r.CCINumber)):
		return 0, "cciNumber must be 20 digits"
	case len(r.CallbackURL) > 200:
		return 0, "callbackUrl is longer than 200 characters"
	}
	if msg := validateAccount(r); msg != "" {
		return 0, msg
	}
	if msg := validateDocument(r.IDType, r.IDCardNumber); msg != "" {
		return 0, msg
	}
	amount, ok := parseAmount(r.Amount)
	if !ok {
		return 0, "Invalid amount"
	}
	return amount, ""
}

func validateAccount(r createBody) string {
	yape := r.BankCode == yapeBankCode
	switch int(r.AccountType) {
	case accountSavings, accountCurrent:
		if yape {
			return "Yape requires accountType 103"
		}
		if lengths, ok := accountLengths[r.BankCode]; ok && (!sandboxkit.Digits(r.BankAccount) || !slices.Contains(lengths, len(r.BankAccount))) {
			return fmt.Sprintf("bankAccount of bank %s must have %s digits (not a CCI)", r.BankCode, strings.Trim(strings.Join(strings.Fields(fmt.Sprint(lengths)), " or "), "[]"))
		}
	case accountWallet:
		if !yape {
			return "accountType 103 is for Yape only"
		}
		if !isPhone(r.BankAccount) {
			return "Yape bankAccount must be the phone number (9 digits starting with 9)"
		}
	default:
		return "Invalid accountType"
	}
	return ""
}

func validateDocument(idType, number string) string {
	ok := false
	switch idType {
	case "DNI":
		ok = len(number) == 8 && sandboxkit.Digits(number)
	case "RUC":
		ok = len(number) == 11 && sandboxkit.Digits(number)
	case "CE":
		ok = len(number) == 9 && sandboxkit.Digits(number)
	case "PA":
		ok = len(number) >= 7 && len(number) <= 12 && alnum(number)
	default:
		return "Invalid idType"
	}
	if !ok {
		return "Invalid idCardNumber for idType " + idType
	}
	return ""
}

// parseAmount accepts TeemoPay's amount: digits with at most two decimals
// after a dot, positive, in soles.
func parseAmount(s string) (int64, bool) {
	if s == "" || len(s) > 20 || strings.ContainsAny(s, ", +-") {
		return 0, false
	}
	v, err := money.ParseMinor(s, 2)
	return v, err == nil
}

func isPhone(s string) bool { return len(s) == 9 && s[0] == '9' && sandboxkit.Digits(s) }

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return s != ""
}

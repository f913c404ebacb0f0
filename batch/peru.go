package batch

import (
	"fmt"
	"strings"
)

// Peru's identifiers (PROVIDERS.md section 7). Each check returns "" when
// the value is valid, or the reason it is not, in an operator's words.

// checkCCI checks a Código de Cuenta Interbancario: 20 digits, bank (3) +
// branch (3) + account (12) + two check digits, the first over bank and
// branch, the second over the account.
func checkCCI(s string) string {
	if len(s) != 20 || !digits(s) {
		return fmt.Sprintf("cci must be exactly 20 digits (got %d characters)", len(s))
	}
	d1, d2 := cciCheckDigit(s[0:6]), cciCheckDigit(s[6:18])
	if s[18] != d1 || s[19] != d2 {
		return fmt.Sprintf("cci check digits are wrong (expected %c%c at the end)", d1, d2)
	}
	return ""
}

// cciCheckDigit weights the digits 1, 2, 1, 2, ... from the left, adds the
// decimal digits of each product (as Luhn does) and returns the digit that
// brings the sum to a multiple of ten.
func cciCheckDigit(s string) byte {
	sum := 0
	for i := 0; i < len(s); i++ {
		p := int(s[i]-'0') * (1 + i%2)
		sum += p/10 + p%10
	}
	return byte('0' + (10-sum%10)%10)
}

// rucWeights are SUNAT's weights over the first ten digits of a RUC.
var rucWeights = [10]int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}

// checkRUC checks a Registro Único de Contribuyentes: 11 digits, a known
// prefix and SUNAT's modulo 11 check digit.
func checkRUC(s string) string {
	if len(s) != 11 || !digits(s) {
		return fmt.Sprintf("RUC must be exactly 11 digits (got %d characters)", len(s))
	}
	switch s[:2] {
	case "10", "15", "17", "20":
	default:
		return "RUC must start with 10, 15, 17 or 20"
	}
	sum := 0
	for i, w := range rucWeights {
		sum += int(s[i]-'0') * w
	}
	check := byte('0' + (11-sum%11)%10)
	if s[10] != check {
		return fmt.Sprintf("RUC check digit is wrong (expected %c)", check)
	}
	return ""
}

// checkDNI checks a Documento Nacional de Identidad: exactly 8 digits.
// Leading zeros are part of the number; a 7-digit DNI almost always means a
// spreadsheet dropped one.
func checkDNI(s string) string {
	if !digits(s) {
		return "DNI must be 8 digits"
	}
	if len(s) < 8 {
		return fmt.Sprintf("DNI must be 8 digits (got %d: were leading zeros lost? format the column as Text)", len(s))
	}
	if len(s) != 8 {
		return fmt.Sprintf("DNI must be 8 digits (got %d)", len(s))
	}
	return ""
}

// checkCE checks a Carné de Extranjería of minLen to maxLen letters and
// digits.
func checkCE(s string, minLen, maxLen int) string {
	if !alnum(s) || len(s) < minLen || len(s) > maxLen {
		if minLen == maxLen {
			return fmt.Sprintf("CE must be %d letters or digits (got %d)", minLen, len(s))
		}
		return fmt.Sprintf("CE must be %d to %d letters or digits (got %d)", minLen, maxLen, len(s))
	}
	return ""
}

// checkPassport checks a passport number: 7 to 12 letters or digits.
func checkPassport(s string) string {
	if !alnum(s) || len(s) < 7 || len(s) > 12 {
		return fmt.Sprintf("passport (PAS) must be 7 to 12 letters or digits (got %d)", len(s))
	}
	return ""
}

// checkPeruPhone checks a mobile number as wallets (Yape, Plin) need it:
// 9 digits starting with 9, no country code.
func checkPeruPhone(s string) string {
	if len(s) != 9 || !digits(s) || s[0] != '9' {
		if strings.HasPrefix(s, "+51") || (strings.HasPrefix(s, "51") && len(s) == 11) {
			return "phone must be the 9-digit mobile number without the +51 country code"
		}
		return "phone must be 9 digits starting with 9 (a Peruvian mobile number)"
	}
	return ""
}

// checkDocument checks a document number against its type, with the CE
// length a provider accepts.
func checkDocument(docType, number string, ceMin, ceMax int) string {
	switch docType {
	case "DNI":
		return checkDNI(number)
	case "RUC":
		return checkRUC(number)
	case "CE":
		return checkCE(number, ceMin, ceMax)
	case "PAS":
		return checkPassport(number)
	}
	return ""
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func hexString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

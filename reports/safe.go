package reports

import (
	"strings"

	"github.com/payrun/payrun/internal/pan"
)

// Neutralise makes a text value inert in a spreadsheet: a value starting
// with '=', '+', '-', '@', tab or carriage return would be read by Excel or
// LibreOffice as a formula (or a DDE call), so it gets a leading single quote.
// Amounts written as numbers never pass through here; every text cell of
// every CSV and XLSX output does.
func Neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// MaskTail keeps the last four characters of an account or document number
// and replaces the rest with four asterisks: "****4477". Values of four
// characters or fewer are fully masked.
func MaskTail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r := []rune(s)
	if len(r) <= 4 {
		return "****"
	}
	return "****" + string(r[len(r)-4:])
}

// MaskCards replaces every run of 13 to 19 digits (single spaces or dashes
// between them allowed, as card numbers are often written) that passes the
// Luhn check with "****" and its last four digits. Card numbers must never
// appear in a report; payrun only ever holds card tokens, so this is the net
// under a mistake in an input file (a PAN typed into a description or an
// extra column). Card numbers written otherwise (no-break spaces, line
// breaks, dots: whatever package pan reads as one) are masked as pan
// masks them, in place.
func MaskCards(s string) string {
	if len(s) < 13 {
		return s
	}
	if !hasDigitRun(s, 13) {
		return pan.MaskText(s)
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		// Take the longest digit run starting here, with single separators.
		j, digits := i, make([]byte, 0, 19)
		end := i
		for j < len(s) {
			if isDigit(s[j]) {
				digits = append(digits, s[j])
				j++
				end = j
				continue
			}
			if (s[j] == ' ' || s[j] == '-') && j+1 < len(s) && isDigit(s[j+1]) && len(digits) > 0 {
				j++
				continue
			}
			break
		}
		if n := len(digits); n >= 13 && n <= 19 && luhn(digits) {
			b.WriteString("****")
			b.Write(digits[n-4:])
		} else {
			b.WriteString(s[i:end])
		}
		i = end
	}
	return pan.MaskText(b.String())
}

func hasDigitRun(s string, n int) bool {
	c := 0
	for i := 0; i < len(s); i++ {
		switch {
		case isDigit(s[i]):
			c++
			if c >= n {
				return true
			}
		case s[i] == ' ' || s[i] == '-':
		default:
			c = 0
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// text is what every free-text cell goes through: card numbers masked,
// then formula neutralised.
func text(s string) string { return Neutralise(MaskCards(s)) }

// ident is for identifiers (payout id, provider reference, batch id):
// neutralised, and masked only where package pan reads a card number, in
// place ("411111******1111"), so that an identifier stays findable. No
// payout id of payrun's is one (the reader refuses a card number in any
// column); what is masked is a merchant reference or an id a provider
// sent, about a payout payrun never sent.
func ident(s string) string { return Neutralise(pan.MaskText(s)) }

// sensitive is for account and document numbers.
func (o Options) sensitive(s string) string {
	if !o.Unmasked {
		return Neutralise(MaskTail(s))
	}
	return text(s)
}

// link is for a beneficiary's link (a card push page, a payment link):
// whoever holds it can choose the card the money goes to.
func (o Options) link(s string) string {
	if !o.Unmasked {
		return Neutralise(MaskLink(s))
	}
	return text(s)
}

// sensitiveColumn reports whether an input column holds an account or
// document number, by its canonical name or a team's usual header for it.
func sensitiveColumn(name string) bool {
	n := strings.ToLower(name)
	for _, k := range []string{"account", "cuenta", "document", "documento", "cci", "dni", "ruc", "iban", "clabe", "cbu"} {
		if strings.Contains(n, k) {
			return true
		}
	}
	return false
}

// inputValue renders a raw input value found in column.
func (o Options) inputValue(column, value string) string {
	if sensitiveColumn(column) {
		return o.sensitive(value)
	}
	return text(value)
}

package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Money is an exact amount: Minor units of Currency (150050 PEN is 1,500.50).
type Money struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// Parse errors. Every one of them is a refusal: Parse never rounds.
var (
	ErrEmpty         = errors.New("amount is empty")
	ErrSyntax        = errors.New("amount is not a plain decimal number (digits, one '.' or ',' as decimal point)")
	ErrNegative      = errors.New("amount is negative")
	ErrZero          = errors.New("amount is zero")
	ErrTooPrecise    = errors.New("amount has more decimals than the currency allows")
	ErrOverflow      = errors.New("amount is too large")
	ErrCurrency      = errors.New("unknown currency")
	ErrAmbiguousMark = errors.New("amount groups digits or could be read two ways (1.500 is fifteen hundred to some, one and a half to others); write it as 1500 or 1.50, with one '.' or ',' as decimal point")
)

// maxDigits bounds the integer part read, before the value is.
const maxDigits = 15

// MaxMinor is the largest amount of one payout, in minor units (about ten
// billion in a currency of two decimals): a file of max_rows' default two
// million such payouts still totals within an int64, with room for many
// files in a report, and a spreadsheet's number cell holds every amount up
// to it exactly (a float64 keeps fifteen significant digits).
const MaxMinor = 999_999_999_999

// Parse reads a decimal string such as "1500.50" or "1500,5" as an exact
// amount of the currency. It refuses (never rounds) more decimals than the
// currency allows, negative and zero amounts, exponents, NaN, grouping
// separators and anything that is not a plain number.
func Parse(s, currency string) (Money, error) {
	cur, ok := Lookup(currency)
	if !ok {
		return Money{}, fmt.Errorf("%w %q", ErrCurrency, currency)
	}
	minor, err := ParseMinor(s, cur.Exponent)
	if err != nil {
		return Money{}, err
	}
	return Money{Minor: minor, Currency: cur.Code}, nil
}

// ParseMinor reads a positive decimal string into minor units of a currency
// with the given exponent.
func ParseMinor(s string, exponent int) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	if s[0] == '-' {
		return 0, ErrNegative
	}
	if s[0] == '+' {
		return 0, ErrSyntax
	}
	dot := strings.IndexByte(s, '.')
	comma := strings.IndexByte(s, ',')
	if dot >= 0 && comma >= 0 {
		return 0, ErrAmbiguousMark
	}
	sep := dot
	if comma >= 0 {
		sep = comma
	}
	intPart, frac := s, ""
	if sep >= 0 {
		intPart, frac = s[:sep], s[sep+1:]
		if strings.ContainsAny(frac, ".,") {
			return 0, ErrAmbiguousMark
		}
		if frac == "" {
			return 0, ErrSyntax
		}
	}
	if intPart == "" {
		intPart = "0"
	}
	if !allDigits(intPart) || !allDigits(frac) {
		return 0, ErrSyntax
	}
	// A mark followed by exactly three digits reads as a thousands group
	// to half of the world and as decimals to the other half ("1.500" is
	// fifteen hundred in Lima, one and a half in London): refuse a comma
	// so, and a dot where the decimal reading would be taken ("1.500" as
	// 1.50; "1.005" is refused as too precise anyway, and "1.234" is how
	// a currency of three decimals is written). Not when the integer part
	// is zero: nobody groups "0.500".
	trimmed := strings.TrimRight(frac, "0")
	if sep >= 0 && len(frac) == 3 && strings.Trim(intPart, "0") != "" &&
		(comma >= 0 || (exponent != 3 && len(trimmed) <= exponent)) {
		return 0, ErrAmbiguousMark
	}
	if len(trimmed) > exponent {
		return 0, fmt.Errorf("%w (%d decimal places at most, got %q)", ErrTooPrecise, exponent, s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > maxDigits {
		return 0, ErrOverflow
	}
	var v int64
	for _, c := range intPart {
		v = v*10 + int64(c-'0')
	}
	for i := 0; i < exponent; i++ {
		d := int64(0)
		if i < len(trimmed) {
			d = int64(trimmed[i] - '0')
		}
		if v > (math.MaxInt64-d)/10 {
			return 0, ErrOverflow
		}
		v = v*10 + d
	}
	if v == 0 {
		return 0, ErrZero
	}
	if v > MaxMinor {
		return 0, fmt.Errorf("%w: a payout is at most %s", ErrOverflow, FormatMinor(MaxMinor, exponent))
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatMinor writes minor units as a plain decimal string with exactly the
// currency's number of decimals: 150050 with exponent 2 is "1500.50".
func FormatMinor(minor int64, exponent int) string {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = uint64(-minor)
	}
	digits := fmt.Sprintf("%d", u)
	if exponent > 0 {
		for len(digits) <= exponent {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-exponent] + "." + digits[len(digits)-exponent:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// Decimal returns the amount as a plain decimal string ("1500.50").
func (m Money) Decimal() string {
	cur, ok := Lookup(m.Currency)
	if !ok {
		return fmt.Sprintf("%d", m.Minor)
	}
	return FormatMinor(m.Minor, cur.Exponent)
}

// String returns "1500.50 PEN".
func (m Money) String() string { return m.Decimal() + " " + m.Currency }

// Exponent returns the currency's exponent, or 0 for an unknown currency.
func (m Money) Exponent() int {
	cur, _ := Lookup(m.Currency)
	return cur.Exponent
}

package money

import (
	"sort"
	"strings"
)

// Currency is an ISO 4217 currency with the number of digits after the
// decimal point of its minor unit.
type Currency struct {
	Code     string
	Exponent int
}

// currencies lists the currencies payrun handles. Exponents are those of
// ISO 4217, not those of any one provider (Colombia's peso has two decimals
// even though Monnet asks for amounts ending in 00).
var currencies = map[string]Currency{
	"ARS": {"ARS", 2},
	"BRL": {"BRL", 2},
	"CLP": {"CLP", 0},
	"COP": {"COP", 2},
	"EUR": {"EUR", 2},
	"GBP": {"GBP", 2},
	"JPY": {"JPY", 0},
	"MXN": {"MXN", 2},
	"PEN": {"PEN", 2},
	"RUB": {"RUB", 2},
	"USD": {"USD", 2},
	"BOB": {"BOB", 2},
	"UYU": {"UYU", 2},
	"CRC": {"CRC", 2},
	"GTQ": {"GTQ", 2},
	"HNL": {"HNL", 2},
	"KWD": {"KWD", 3},
	"BHD": {"BHD", 3},
}

// Lookup returns the currency with the given ISO code (any letter case).
func Lookup(code string) (Currency, bool) {
	c, ok := currencies[strings.ToUpper(strings.TrimSpace(code))]
	return c, ok
}

// Codes returns the known currency codes, for error messages and docs.
func Codes() []string {
	out := make([]string, 0, len(currencies))
	for k := range currencies {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package reports

import (
	"strconv"
	"strings"

	"github.com/payrun/payrun/money"
)

// exponent is the currency's number of decimals; unknown currencies show
// minor units as they are (exponent 0), which is at least exact.
func exponent(currency string) int {
	c, ok := money.Lookup(currency)
	if !ok {
		return 0
	}
	return c.Exponent
}

// decimal is an amount as exact decimal text: 150050 PEN is "1500.50".
func decimal(minor int64, currency string) string {
	return money.FormatMinor(minor, exponent(currency))
}

// numFmt is the spreadsheet number format of a currency: "#,##0.00" for
// two decimals, "#,##0" for none.
func numFmt(exp int) string {
	if exp <= 0 {
		return "#,##0"
	}
	return "#,##0." + strings.Repeat("0", exp)
}

// streamNumber returns the value to hand excelize's StreamWriter so that the
// sheet XML holds exactly the decimal text dec as a number, and false when
// that cannot be done (the caller then writes the exact text as a string).
//
// The StreamWriter has no raw-number path: integers go through
// strconv.FormatInt and everything else through
// strconv.FormatFloat(v, 'f', -1, 64). Integers are used when there are no
// decimals. Otherwise the float64 is only a carrier: it is parsed from dec
// and used only if excelize's formatting of it gives back dec (trailing
// fraction zeros aside, which a number does not have) byte for byte. That
// holds for every amount of up to 15 significant digits, which is also all
// that a spreadsheet number can hold; nothing is ever computed with it.
func streamNumber(dec string) (any, bool) {
	if !strings.Contains(dec, ".") {
		v, err := strconv.ParseInt(dec, 10, 64)
		return v, err == nil
	}
	canon := strings.TrimRight(strings.TrimRight(dec, "0"), ".")
	if canon == "-0" {
		canon = "0"
	}
	f, err := strconv.ParseFloat(canon, 64)
	if err != nil || strconv.FormatFloat(f, 'f', -1, 64) != canon {
		return nil, false
	}
	return f, true
}

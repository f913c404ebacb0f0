package reports

import (
	"strconv"
	"strings"
	"testing"
)

// TestStreamNumberExact checks that what excelize writes for a streamed
// amount (strconv.FormatFloat(v, 'f', -1, 64) for a float carrier,
// FormatInt for an integer) is the exact decimal, and that amounts beyond a
// spreadsheet number's 15 significant digits are refused, not rounded.
func TestStreamNumberExact(t *testing.T) {
	check := func(minor int64, cur string) {
		dec := decimal(minor, cur)
		v, ok := streamNumber(dec)
		if !ok {
			if sig := len(strings.TrimLeft(strings.ReplaceAll(strings.TrimPrefix(dec, "-"), ".", ""), "0")); sig <= 15 {
				t.Errorf("%s (%d significant digits) refused", dec, sig)
			}
			return
		}
		var got string
		switch x := v.(type) {
		case int64:
			got = strconv.FormatInt(x, 10)
		case float64:
			got = strconv.FormatFloat(x, 'f', -1, 64)
		}
		want := dec
		if strings.Contains(want, ".") {
			want = strings.TrimRight(strings.TrimRight(want, "0"), ".")
		}
		if want == "-0" {
			want = "0"
		}
		if got != want {
			t.Errorf("amount %s is written as %s", dec, got)
		}
	}
	x := uint64(88172645463325252)
	for i := 0; i < 200_000; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		minor := int64(x % 1_000_000_000_000_000) // up to 18 digits
		if i%3 == 0 {
			minor = int64(x % 100_000_000)
		}
		if i%5 == 0 {
			minor = -minor
		}
		check(minor, []string{"PEN", "CLP", "KWD"}[i%3])
	}
	for _, m := range []int64{0, 1, 10, 100, 99999999999999, 999999999999999, 9999999999999999, 123456789012345678} {
		check(m, "PEN")
	}
}

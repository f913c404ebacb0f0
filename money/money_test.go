package money

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"1500.50", "PEN", 150050, nil},
		{"1500,5", "PEN", 150050, nil},
		{"0.01", "USD", 1, nil},
		{".5", "EUR", 50, nil},
		{"007", "PEN", 700, nil},
		{"1500", "CLP", 1500, nil},
		{"1500.00", "CLP", 1500, nil},
		{"  12.30 ", "pen", 1230, nil},
		{"9999999999.99", "USD", 999999999999, nil},
		{"10000000000.00", "USD", 0, ErrOverflow},
		{"999999999999999.99", "USD", 0, ErrOverflow},
		{"999999999999", "CLP", 999999999999, nil},
		{"1000000000000", "CLP", 0, ErrOverflow},
		{"1.234", "KWD", 1234, nil},
		{"1.005", "PEN", 0, ErrTooPrecise},
		{"1,005", "PEN", 0, ErrAmbiguousMark},
		{"1.0051", "PEN", 0, ErrTooPrecise},
		{"1.055", "KWD", 1055, nil},
		{"1.5", "CLP", 0, ErrTooPrecise},
		{"-1", "PEN", 0, ErrNegative},
		{"0", "PEN", 0, ErrZero},
		{"0.00", "PEN", 0, ErrZero},
		{"1e3", "PEN", 0, ErrSyntax},
		{"NaN", "PEN", 0, ErrSyntax},
		{"Inf", "PEN", 0, ErrSyntax},
		{"", "PEN", 0, ErrEmpty},
		{"1,234.56", "PEN", 0, ErrAmbiguousMark},
		{"1.234,56", "PEN", 0, ErrAmbiguousMark},
		{"1,234", "PEN", 0, ErrAmbiguousMark},
		{"1.2.3", "PEN", 0, ErrAmbiguousMark},
		// A dot and three digits is as ambiguous as a comma: 1,500 or 1.5.
		{"1.500", "PEN", 0, ErrAmbiguousMark},
		{"10.000", "USD", 0, ErrAmbiguousMark},
		{"100.100", "PEN", 0, ErrAmbiguousMark},
		{"1.000", "CLP", 0, ErrAmbiguousMark},
		{"1,500", "KWD", 0, ErrAmbiguousMark},
		{"1,234", "BHD", 0, ErrAmbiguousMark},
		{"0.500", "PEN", 50, nil},
		{"0,500", "PEN", 50, nil},
		{"1.50", "PEN", 150, nil},
		{"1.5000", "PEN", 150, nil},
		{"12.345", "KWD", 12345, nil},
		{"1 234", "PEN", 0, ErrSyntax},
		{"+5", "PEN", 0, ErrSyntax},
		{"5.", "PEN", 0, ErrSyntax},
		{"S/ 5", "PEN", 0, ErrSyntax},
		{"9999999999999999", "PEN", 0, ErrOverflow},
		{"5", "XXX", 0, ErrCurrency},
		{"１２", "PEN", 0, ErrSyntax}, // full-width digits are not digits here
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.cur)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("Parse(%q, %s) error = %v, want %v", tt.in, tt.cur, err, tt.err)
			}
			continue
		}
		if err != nil || got.Minor != tt.want {
			t.Errorf("Parse(%q, %s) = %d, %v; want %d", tt.in, tt.cur, got.Minor, err, tt.want)
		}
	}
}

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		minor int64
		exp   int
		want  string
	}{
		{150050, 2, "1500.50"},
		{1, 2, "0.01"},
		{5, 0, "5"},
		{-205, 2, "-2.05"},
		{0, 2, "0.00"},
		{1234, 3, "1.234"},
	}
	for _, tt := range tests {
		if got := FormatMinor(tt.minor, tt.exp); got != tt.want {
			t.Errorf("FormatMinor(%d, %d) = %q, want %q", tt.minor, tt.exp, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1500.50", "0.01", "1e3", "NaN", "-1", "1,5", "999999999999999.99", "", "."} {
		f.Add(s, "PEN")
		f.Add(s, "CLP")
	}
	f.Fuzz(func(t *testing.T, s, cur string) {
		m, err := Parse(s, cur)
		if err != nil {
			return
		}
		if m.Minor <= 0 {
			t.Fatalf("Parse(%q) = %d: accepted a non-positive amount", s, m.Minor)
		}
		back, err := Parse(m.Decimal(), m.Currency)
		if err != nil || back != m {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", s, m, m.Decimal(), back, err)
		}
	})
}

package batch

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/internal/pan"
)

// testPAN is a Visa test number, in the grouped form a clerk pastes.
const testPAN = "4111 1111 1111 1111"

// panFile writes a payout file with a card number in every column (and in
// an extra column), one row per column, as CSV or XLSX. Each row is
// otherwise a valid template row.
func panFile(t *testing.T, xlsx bool) (string, []string) {
	t.Helper()
	header := append(append([]string(nil), CanonicalColumns...), "Notas")
	var rows [][]string
	for i, col := range header {
		r := templateRows[0]
		vals := make([]string, 0, len(header))
		for _, c := range CanonicalColumns {
			vals = append(vals, r.Get(c))
		}
		vals = append(vals, "nota")
		vals[i] = "ver " + testPAN
		if col == ColPayoutID || col == ColAmount {
			vals[i] = strings.ReplaceAll(testPAN, " ", "")
		}
		rows = append(rows, vals)
	}
	dir := t.TempDir()
	if !xlsx {
		var b strings.Builder
		writeQuoted(&b, header)
		for _, r := range rows {
			writeQuoted(&b, r)
		}
		return writeFile(t, "pan.csv", b.String()), header
	}
	f := excelize.NewFile()
	defer f.Close()
	setRow(t, f, "Sheet1", 1, header)
	for i, r := range rows {
		setRow(t, f, "Sheet1", i+2, r)
	}
	p := filepath.Join(dir, "pan.xlsx")
	must(t, f.SaveAs(p))
	return p, header
}

// TestCardNumbersNeverKept: a card number in any column of a file is
// masked as the row is read (the clear digits never leave the reader), and
// the row is refused with an error on that column showing the masked
// number only.
func TestCardNumbersNeverKept(t *testing.T) {
	for _, xlsx := range []bool{false, true} {
		path, header := panFile(t, xlsx)
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, rows, rerrs := readAll(t, path, ReadOptions{})
			if len(rerrs) > 0 || len(rows) != len(header) {
				t.Fatalf("%d rows, %v", len(rows), rerrs)
			}
			for _, r := range rows {
				for _, c := range CanonicalColumns {
					if pan.Contains(r.Get(c)) || strings.Contains(r.Get(c), "1111 1111") {
						t.Errorf("row %d keeps a card number in %s: %q", r.Number, c, r.Get(c))
					}
				}
				for _, x := range r.Extra {
					if pan.Contains(x) {
						t.Errorf("row %d keeps a card number in an extra column: %q", r.Number, x)
					}
				}
			}
			rep, err := ValidateFile(path, ReadOptions{}, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.ValidRows != 0 {
				t.Errorf("%d rows with a card number accepted", rep.ValidRows)
			}
			blamed := map[int]RowError{}
			for _, e := range rep.Errors {
				if strings.Contains(e.Error(), "1111 1111") || strings.Contains(e.Error(), "4111111111111111") {
					t.Errorf("an error shows the card number: %s", e.Error())
				}
				if strings.Contains(e.Reason, "holds a card number") {
					blamed[e.Row] = e
				}
			}
			for i, col := range header {
				e, ok := blamed[i+2]
				if !ok || e.Column != col || e.Value != "411111******1111" {
					t.Errorf("row %d (card number in %s): error %+v", i+2, col, e)
				}
			}
			if src.Extra[0] != "Notas" {
				t.Errorf("extra columns = %q", src.Extra)
			}
		})
	}
}

// TestCardNumberInHeader: a header cell is masked too.
func TestCardNumberInHeader(t *testing.T) {
	p := writeFile(t, "h.csv", minimalHeader+",tarjeta "+testPAN+"\nA,monnet,wallet,PE,PEN,1,x\n")
	rd, err := OpenFile(p, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if h := rd.Source().Header[6]; h != "tarjeta 4111 11** **** 1111" || rd.Source().Extra[0] != h {
		t.Errorf("header = %q, extra = %q", rd.Source().Header, rd.Source().Extra)
	}
}

// TestCardNumberInBuiltRow: a row built in code, not read, is masked by
// the validator before any message is written.
func TestCardNumberInBuiltRow(t *testing.T) {
	r := templateRows[0]
	r.Number = 2
	r.Description = "card " + testPAN
	r.Amount = "4111111111111111"
	_, _, errs := NewValidator(ValidateOptions{}).Check(Source{Name: "f.csv"}, r)
	cols := map[string]string{}
	for _, e := range errs {
		cols[e.Column] = e.Value
		if pan.Contains(e.Error()) {
			t.Errorf("error shows a card number: %s", e.Error())
		}
	}
	if cols[ColDescription] != "411111******1111" || cols[ColAmount] != "411111******1111" {
		t.Errorf("errors = %+v", errs)
	}
}

// TestHeaderOnlyRefused: a file with a header and no payout rows is
// refused as a header problem, which every caller refuses before writing
// anything.
func TestHeaderOnlyRefused(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	setRow(t, f, "Sheet1", 1, strings.Split(minimalHeader, ","))
	setRow(t, f, "Sheet1", 3, []string{" ", ""}) // a blank row is no row
	xlsx := filepath.Join(t.TempDir(), "empty.xlsx")
	must(t, f.SaveAs(xlsx))
	for _, p := range []string{
		writeFile(t, "empty.csv", minimalHeader+"\n"),
		writeFile(t, "blank.csv", minimalHeader+"\n,,,,,\n\n"),
		xlsx,
	} {
		_, err := OpenFile(p, ReadOptions{})
		var he *HeaderError
		if !errors.As(err, &he) || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "header but no payout rows") {
			t.Errorf("%s: err = %v", filepath.Base(p), err)
			continue
		}
		rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
		if err != nil || len(rep.Errors) != 1 || rep.Errors[0].Row != 1 {
			t.Errorf("%s: ValidateFile = %+v, %v", filepath.Base(p), rep, err)
		}
	}
}

// TestHeaderHints: a header cell close to a column the file lacks is a
// misspelling, refused with the column it most likely meant; one close to
// a column the file has is an extra column of the team's own.
func TestHeaderHints(t *testing.T) {
	aliases := map[string][]string{ColAccountNumber: {"Número de cuenta"}}
	tests := []struct {
		name, extra string
		want        string // "" = no hint, the file opens
	}{
		{"substitution", "benificiary_name", "`benificiary_name`: did you mean `beneficiary_name`?"},
		{"transposition", "emial", "`emial`: did you mean `email`?"},
		{"spaces and case", "Beneficiary Lastname", "`Beneficiary Lastname`: did you mean `beneficiary_last_name`?"},
		{"alias", "numero de cuneta", "`numero de cuneta`: did you mean `Número de cuenta` (an alias of account_number)?"},
		{"far from everything", "Cost center", ""},
		{"short and different", "ref", ""},
		{"close to a column the file has", "country2", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, "f.csv", minimalHeader+","+tt.extra+"\nA,monnet,wallet,PE,PEN,1,x\n")
			rd, err := OpenFile(p, ReadOptions{Aliases: aliases})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				rd.Close()
				return
			}
			var he *HeaderError
			if !errors.As(err, &he) || len(he.Misspelt) != 1 || he.Misspelt[0].String() != tt.want {
				t.Fatalf("err = %v, want the hint %s", err, tt.want)
			}
			rerrs := he.RowErrors()
			if len(rerrs) != 1 || !strings.Contains(rerrs[0].Reason, tt.want) || rerrs[0].Column != he.Misspelt[0].Column {
				t.Errorf("row errors = %+v", rerrs)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"email", "email", 0}, {"emial", "email", 1}, {"benificiary", "beneficiary", 1},
		{"mail", "email", 1}, {"kitten", "sitting", 3}, {"", "abc", 3},
	} {
		if d := editDistance([]rune(tc.a), []rune(tc.b)); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

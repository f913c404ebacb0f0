package batch

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// assertErrors checks that a report has exactly the errors "ROW COLUMN"
// (column "-" for the row as a whole), in any order.
func assertErrors(t *testing.T, rep *Report, want []string) {
	t.Helper()
	var got []string
	for _, e := range rep.Errors {
		c := e.Column
		if c == "" {
			c = "-"
		}
		got = append(got, fmt.Sprintf("%d %s", e.Row, c))
	}
	sort.Strings(got)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if !reflect.DeepEqual(got, w) {
		var all []string
		for _, e := range rep.Errors {
			all = append(all, e.Error())
		}
		t.Fatalf("errors = %v\nwant     %v\n%s", got, w, strings.Join(all, "\n"))
	}
}

func TestValidateErrorsFile(t *testing.T) {
	rep, err := ValidateFile("testdata/errors.csv", ReadOptions{}, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// One line per kind of error, on the row and column where it is.
	want := map[string]string{
		"2 amount":            "more decimals than the currency allows",
		"3 payout_id":         "may only hold letters",
		"4 provider":          "unknown provider",
		"5 method":            "unknown method",
		"6 country":           "ISO 3166",
		"7 currency":          "unknown currency",
		"8 email":             "not a valid address",
		"9 phone":             "9 digits starting with 9",
		"10 document_number":  "DNI must be 8 digits (got 7: were leading zeros lost?",
		"11 document_number":  "RUC check digit is wrong",
		"12 cci":              "cci check digits are wrong",
		"13 card_token":       "card_token holds a card number",
		"14 payout_id":        "Monnet takes at most 20 for PE (its orderId)",
		"15 amount":           "above the Monnet wallet payouts limit of 500.00 PEN",
		"16 description":      "description is required by Monnet for bank 037",
		"17 account_type":     "account_type is required for TeemoPay bank_transfer",
		"18 beneficiary_name": "TeemoPay takes at most 40",
		"19 method":           "Monnet does not pay by card_token",
		"20 currency":         "TeemoPay bank_transfer payouts are in PEN only",
		"21 payout_id":        "appears more than once in this file (also on row 22)",
		"22 payout_id":        "appears more than once in this file (also on row 21)",
		"23 card_token":       "64 hexadecimal characters",
		"24 account_type":     "savings or checking",
		"25 document_number":  "CE must be 9 letters or digits",
		"26 bank_code":        "does not match the CCI, which is of bank 002",
		"27 amount":           "amount is zero",
		"28 document_type":    "does not accept RUC documents for bank 004",
		"29 -":                "the line has 19 values but the header has 18 columns",
		"30 amount":           "Monnet Yape payouts limit of 3000.00 PEN",
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	assertErrors(t, rep, keys)
	for _, e := range rep.Errors {
		c := e.Column
		if c == "" {
			c = "-"
		}
		if k := fmt.Sprintf("%d %s", e.Row, c); !strings.Contains(e.Reason, want[k]) {
			t.Errorf("%s: reason %q does not say %q", k, e.Reason, want[k])
		}
		if e.File != "errors.csv" {
			t.Errorf("%s: file %q", e.Error(), e.File)
		}
	}
	if rep.Rows != 30 || rep.ValidRows != 1 {
		t.Errorf("rows %d valid %d, want 30 and 1", rep.Rows, rep.ValidRows)
	}
	for _, e := range rep.Errors {
		if strings.Contains(e.Error(), "4111") && strings.Contains(e.Error(), "1111 1111") {
			t.Errorf("a card number is echoed: %s", e.Error())
		}
		if e.Row == 13 && e.Value != "411111******1111" {
			t.Errorf("masked value = %q", e.Value)
		}
	}
}

func TestRowErrorMessage(t *testing.T) {
	e := &RowError{File: "payouts.csv", Row: 7, Column: "amount", Value: "1.005",
		Reason: "amount has more decimals than the currency allows"}
	if got, want := e.Error(), `payouts.csv row 7, column amount ("1.005"): amount has more decimals than the currency allows`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestPeruIdentifiers(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) string
		in    string
		ok    bool
	}{
		{"cci monnet example", checkCCI, "00243000584290204477", true},
		{"cci interbank", checkCCI, "00320000012345678937", true},
		{"cci first check digit", checkCCI, "00243000584290204467", false},
		{"cci second check digit", checkCCI, "00243000584290204478", false},
		{"cci 19 digits", checkCCI, "0024300058429020447", false},
		{"cci letters", checkCCI, "0024300058429020447A", false},
		{"ruc excerpt 000", checkRUC, "20629932888", true},
		{"ruc person", checkRUC, "10467793549", true},
		{"ruc check digit", checkRUC, "20629932887", false},
		{"ruc prefix", checkRUC, "30629932888", false},
		{"ruc short", checkRUC, "2062993288", false},
		{"dni", checkDNI, "01234567", true},
		{"dni 7", checkDNI, "1234567", false},
		{"dni 9", checkDNI, "123456789", false},
		{"dni letters", checkDNI, "1234567A", false},
		{"ce 9", func(s string) string { return checkCE(s, 9, 9) }, "001234567", true},
		{"ce 8 at teemopay", func(s string) string { return checkCE(s, 9, 9) }, "12345678", false},
		{"ce 12 at monnet", func(s string) string { return checkCE(s, 8, 12) }, "123456789012", true},
		{"ce 13 at monnet", func(s string) string { return checkCE(s, 8, 12) }, "1234567890123", false},
		{"passport", checkPassport, "AB1234567", true},
		{"passport 6", checkPassport, "AB1234", false},
		{"passport dash", checkPassport, "AB-123456", false},
		{"phone", checkPeruPhone, "987654321", true},
		{"phone 8", checkPeruPhone, "98765432", false},
		{"phone landline", checkPeruPhone, "014567890", false},
		{"phone +51", checkPeruPhone, "+51987654321", false},
	}
	for _, tt := range tests {
		if reason := tt.check(tt.in); (reason == "") != tt.ok {
			t.Errorf("%s: %q -> %q, want ok=%v", tt.name, tt.in, reason, tt.ok)
		}
	}
	// The rule's own arithmetic, on the documented examples.
	if d := cciCheckDigit("002430"); d != '7' {
		t.Errorf("cci check digit 1 = %c", d)
	}
	if d := cciCheckDigit("005842902044"); d != '7' {
		t.Errorf("cci check digit 2 = %c", d)
	}
}

// TestRules changes one value of a valid template row at a time and checks
// the column blamed.
func TestRules(t *testing.T) {
	row := func(i int, change func(*Row)) Row {
		r := templateRows[i]
		r.Number = 2
		change(&r)
		return r
	}
	const (
		monnetBank, monnetWallet, monnetPush, monnetLink, teemoBank, teemoBCP, b131, sg = 0, 1, 2, 3, 4, 5, 6, 7
	)
	tests := []struct {
		name string
		row  Row
		want []string // columns in error; none = valid
		opts ValidateOptions
	}{
		{"monnet bank valid", row(monnetBank, func(r *Row) {}), nil, ValidateOptions{}},
		{"monnet orderId 20", row(monnetBank, func(r *Row) { r.PayoutID = strings.Repeat("A", 20) }), nil, ValidateOptions{}},
		{"monnet orderId 21", row(monnetBank, func(r *Row) { r.PayoutID = strings.Repeat("A", 21) }), []string{ColPayoutID}, ValidateOptions{}},
		{"teemopay merchantOrderNo 32", row(teemoBank, func(r *Row) { r.PayoutID = strings.Repeat("A", 32) }), nil, ValidateOptions{}},
		{"teemopay merchantOrderNo 33", row(teemoBank, func(r *Row) { r.PayoutID = strings.Repeat("A", 33) }), []string{ColPayoutID}, ValidateOptions{}},
		{"schema payout_id 65", row(b131, func(r *Row) { r.PayoutID = strings.Repeat("A", 65) }), []string{ColPayoutID}, ValidateOptions{}},
		{"monnet wallet 500", row(monnetWallet, func(r *Row) { r.BankCode = "040"; r.Amount = "500" }), nil, ValidateOptions{}},
		{"monnet wallet 500.01", row(monnetWallet, func(r *Row) { r.BankCode = "040"; r.Amount = "500.01" }), []string{ColAmount}, ValidateOptions{}},
		{"monnet yape 3000", row(monnetWallet, func(r *Row) { r.Amount = "3000.00" }), nil, ValidateOptions{}},
		{"monnet wallet USD", row(monnetWallet, func(r *Row) { r.Currency = "USD" }), []string{ColCurrency}, ValidateOptions{}},
		{"monnet bank 30000", row(monnetBank, func(r *Row) { r.Amount = "30000" }), nil, ValidateOptions{}},
		{"monnet bank 30000.01", row(monnetBank, func(r *Row) { r.Amount = "30000.01" }), []string{ColAmount}, ValidateOptions{}},
		{"monnet bank USD no PEN limit", row(monnetBank, func(r *Row) { r.Currency = "USD"; r.Amount = "90000" }), nil, ValidateOptions{}},
		{"monnet description 51", row(monnetBank, func(r *Row) { r.Description = strings.Repeat("ñ", 51) }), []string{ColDescription}, ValidateOptions{}},
		{"monnet bank needs account or cci", row(monnetBank, func(r *Row) { r.CCI = "" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"monnet BCP account 14", row(monnetBank, func(r *Row) { r.CCI = ""; r.AccountNumber = "19112345678901" }), nil, ValidateOptions{}},
		{"monnet BCP account 12", row(monnetBank, func(r *Row) { r.CCI = ""; r.AccountNumber = "191123456789" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"monnet other bank needs cci", row(monnetBank, func(r *Row) { r.CCI = ""; r.BankCode = "011"; r.AccountNumber = "123456789" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"monnet account with dashes", row(monnetBank, func(r *Row) { r.AccountNumber = "191-1234567-0-12" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"monnet wallet needs phone", row(monnetWallet, func(r *Row) { r.Phone = "" }), []string{ColPhone}, ValidateOptions{}},
		{"monnet wallet needs bank", row(monnetWallet, func(r *Row) { r.BankCode = "" }), []string{ColBankCode}, ValidateOptions{}},
		{"monnet push needs email", row(monnetPush, func(r *Row) { r.Email = "" }), []string{ColEmail}, ValidateOptions{}},
		{"monnet push needs name", row(monnetPush, func(r *Row) { r.BeneficiaryName = "" }), []string{ColBeneficiaryName}, ValidateOptions{}},
		{"monnet link needs email", row(monnetLink, func(r *Row) { r.Email = "" }), []string{ColEmail}, ValidateOptions{}},
		{"monnet only Peru", row(monnetLink, func(r *Row) { r.Country = "MX" }), []string{ColCountry}, ValidateOptions{}},
		{"teemopay name 40", row(teemoBank, func(r *Row) {
			r.BeneficiaryName = strings.Repeat("a", 20)
			r.BeneficiaryLastName = strings.Repeat("b", 19)
		}), nil, ValidateOptions{}},
		{"teemopay name 41", row(teemoBank, func(r *Row) {
			r.BeneficiaryName = strings.Repeat("a", 20)
			r.BeneficiaryLastName = strings.Repeat("b", 20)
		}), []string{ColBeneficiaryName}, ValidateOptions{}},
		{"teemopay needs document", row(teemoBank, func(r *Row) { r.DocumentType = ""; r.DocumentNumber = "" }), []string{ColDocumentType, ColDocumentNumber}, ValidateOptions{}},
		{"teemopay passport", row(teemoBCP, func(r *Row) { r.DocumentType = "pas"; r.DocumentNumber = "AB123456" }), nil, ValidateOptions{}},
		{"teemopay no card push", row(teemoBank, func(r *Row) { r.Method = "card_push" }), []string{ColMethod}, ValidateOptions{}},
		{"spanish account type", row(teemoBank, func(r *Row) { r.AccountType = "Ahorros" }), nil, ValidateOptions{}},
		{"bank131 token or email required", row(b131, func(r *Row) { r.CardToken, r.Email = "", "" }), []string{ColCardToken}, ValidateOptions{}},
		{"bank131 collection: no token, an email", row(b131, func(r *Row) { r.CardToken, r.Email = "", "ivan@example.com" }), nil, ValidateOptions{}},
		{"smartglocal collection needs a name", row(sg, func(r *Row) {
			r.CardToken, r.Email, r.BeneficiaryName, r.BeneficiaryLastName = "", "anna@example.com", "", ""
		}), []string{ColBeneficiaryName}, ValidateOptions{}},
		{"bank131 collection: bad email", row(b131, func(r *Row) { r.CardToken, r.Email = "", "ivan@" }), []string{ColEmail}, ValidateOptions{}},
		{"bank131 token short", row(b131, func(r *Row) { r.CardToken = r.CardToken[:63] }), []string{ColCardToken}, ValidateOptions{}},
		{"bank131 PEN", row(b131, func(r *Row) { r.Currency = "PEN" }), []string{ColCurrency}, ValidateOptions{}},
		{"smartglocal wallet", row(sg, func(r *Row) { r.Method = "wallet" }), []string{ColMethod}, ValidateOptions{}},
		{"smartglocal not enabled", row(sg, func(r *Row) {}), []string{ColProvider}, ValidateOptions{Providers: []string{"monnet"}}},
		{"provider case", row(sg, func(r *Row) { r.Provider = "SmartGlocal" }), nil, ValidateOptions{Providers: []string{"smartglocal"}}},
		{"everything missing", Row{Number: 2, Description: "x"}, []string{ColPayoutID, ColProvider, ColMethod, ColCurrency, ColAmount}, ValidateOptions{}},
		// Which columns a row needs comes from its provider and method.
		{"bank131 card without country", row(b131, func(r *Row) { r.Country = "" }), nil, ValidateOptions{}},
		{"smartglocal card without country", row(sg, func(r *Row) { r.Country = "" }), nil, ValidateOptions{}},
		{"monnet bank without country", row(monnetBank, func(r *Row) { r.Country = "" }), []string{ColCountry}, ValidateOptions{}},
		{"monnet wallet without country", row(monnetWallet, func(r *Row) { r.Country = "" }), []string{ColCountry}, ValidateOptions{}},
		{"monnet link without country", row(monnetLink, func(r *Row) { r.Country = "" }), nil, ValidateOptions{}},
		{"teemopay without country", row(teemoBank, func(r *Row) { r.Country = "" }), nil, ValidateOptions{}},
		{"monnet bank needs last name", row(monnetBank, func(r *Row) { r.BeneficiaryLastName = "" }), []string{ColBeneficiaryLastName}, ValidateOptions{}},
		{"monnet push needs last name", row(monnetPush, func(r *Row) { r.BeneficiaryLastName = "" }), []string{ColBeneficiaryLastName}, ValidateOptions{}},
		{"monnet link needs document", row(monnetLink, func(r *Row) { r.DocumentType, r.DocumentNumber = "", "" }), []string{ColDocumentType, ColDocumentNumber}, ValidateOptions{}},
		{"monnet bank without email", row(monnetBank, func(r *Row) { r.Email = "" }), nil, ValidateOptions{}},
		{"monnet wallet without email", row(monnetWallet, func(r *Row) { r.Email = "" }), nil, ValidateOptions{}},
		// TeemoPay pays the account number itself, of the length its bank uses.
		{"teemopay BCP 13", row(teemoBCP, func(r *Row) { r.AccountNumber = "1911234567890" }), nil, ValidateOptions{}},
		{"teemopay BCP 14", row(teemoBCP, func(r *Row) {}), nil, ValidateOptions{}},
		{"teemopay BCP 12", row(teemoBCP, func(r *Row) { r.AccountNumber = "191123456789" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"teemopay Interbank 13", row(teemoBank, func(r *Row) {}), nil, ValidateOptions{}},
		{"teemopay Interbank 14", row(teemoBank, func(r *Row) { r.AccountNumber = "20030012345678" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"teemopay BBVA 18", row(teemoBank, func(r *Row) { r.BankCode, r.CCI, r.AccountNumber = "001", "", "001106660100012345" }), nil, ValidateOptions{}},
		{"teemopay BBVA 20", row(teemoBank, func(r *Row) { r.BankCode, r.CCI, r.AccountNumber = "001", "", "00110666010001234512" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"teemopay Scotiabank 10", row(teemoBank, func(r *Row) { r.BankCode, r.CCI, r.AccountNumber = "004", "", "0037651234" }), nil, ValidateOptions{}},
		{"teemopay Scotiabank 11", row(teemoBank, func(r *Row) { r.BankCode, r.CCI, r.AccountNumber = "004", "", "00376512345" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"teemopay CCI as account", row(teemoBank, func(r *Row) { r.AccountNumber = r.CCI }), []string{ColAccountNumber}, ValidateOptions{}},
		{"teemopay CCI without account", row(teemoBank, func(r *Row) { r.AccountNumber = "" }), []string{ColAccountNumber}, ValidateOptions{}},
		{"teemopay bank off its list", row(teemoBank, func(r *Row) { r.BankCode, r.CCI, r.AccountNumber = "011", "", "1234567890123" }), []string{ColBankCode}, ValidateOptions{}},
		{"teemopay yape", row(teemoBank, func(r *Row) {
			r.Method, r.BankCode, r.Phone, r.AccountType, r.AccountNumber, r.CCI = "wallet", "037", "923456789", "", "", ""
		}), []string{ColBankCode}, ValidateOptions{}},
		{"monnet yape", row(monnetWallet, func(r *Row) {}), nil, ValidateOptions{}},
		{"document number without type", row(monnetPush, func(r *Row) { r.DocumentType = "" }), []string{ColDocumentType}, ValidateOptions{}},
		{"amount with exponent", row(monnetPush, func(r *Row) { r.Amount = "1E3" }), []string{ColAmount}, ValidateOptions{}},
		{"amount and currency both wrong", row(monnetPush, func(r *Row) { r.Amount = "abc"; r.Currency = "SOL" }), []string{ColAmount, ColCurrency}, ValidateOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, prov, errs := NewValidator(tt.opts).Check(Source{Name: "f.csv"}, tt.row)
			var cols []string
			for _, e := range errs {
				cols = append(cols, e.Column)
			}
			sort.Strings(cols)
			want := append([]string(nil), tt.want...)
			sort.Strings(want)
			if !reflect.DeepEqual(cols, want) {
				t.Fatalf("columns = %v, want %v (%v)", cols, want, errs)
			}
			if len(errs) == 0 && (p.ID != tt.row.PayoutID || prov != strings.ToLower(tt.row.Provider) || p.Amount.Minor <= 0) {
				t.Errorf("payout = %+v, %s", p, prov)
			}
		})
	}
}

func TestDuplicateCounts(t *testing.T) {
	v := NewValidator(ValidateOptions{})
	a := templateRows[0]
	b := templateRows[2]
	b.PayoutID = a.PayoutID
	c := templateRows[3]
	c.PayoutID = a.PayoutID
	c.Amount = "x" // invalid on its own already
	for i, r := range []Row{a, templateRows[1], b, c} {
		r.Number = i + 2
		v.Check(Source{}, r)
	}
	errs := v.Finish()
	if len(errs) != 3 || errs[0].Row != 2 || errs[1].Row != 4 || errs[2].Row != 5 ||
		!strings.Contains(errs[0].Reason, "also on row 4, 5") {
		t.Fatalf("errors = %+v", errs)
	}
	if rows, valid := v.Counts(); rows != 4 || valid != 1 {
		t.Errorf("rows %d valid %d", rows, valid)
	}
}

func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimalHeader + "\n")
	for i := 0; i < MaxErrors+10; i++ {
		fmt.Fprintf(&b, "P%d,paypal,wallet,PE,PEN,1\n", i)
	}
	rep, err := ValidateFile(writeFile(t, "many.csv", b.String()), ReadOptions{}, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != MaxErrors || rep.Omitted != 10 || rep.Rows != MaxErrors+10 || rep.ValidRows != 0 {
		t.Fatalf("errors %d omitted %d rows %d", len(rep.Errors), rep.Omitted, rep.Rows)
	}
}

func TestTemplatePassesValidation(t *testing.T) {
	for _, xlsx := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteTemplate(&buf, xlsx); err != nil {
			t.Fatal(err)
		}
		name := "template.csv"
		if xlsx {
			name = "template.xlsx"
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Errors) > 0 || rep.Rows != len(templateRows) || rep.ValidRows != rep.Rows {
			t.Fatalf("%s: %+v", name, rep.Errors)
		}
		// One example per provider and method.
		seen := map[string]bool{}
		for _, r := range templateRows {
			seen[r.Provider+"/"+r.Method] = true
		}
		for _, name := range providerNames() {
			rules, _ := providerRules(name)
			for m, mr := range rules.Methods {
				if !seen[name+"/"+string(m)] && mr.Refused == "" {
					t.Errorf("template has no %s %s row", name, m)
				}
			}
		}
	}
}

// TestRuleMessages: a refusal names the provider and method whose rule it
// is, in the provider's own spelling.
func TestRuleMessages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		row    Row
		column string
		reason string
	}{
		{"monnet bank country", func() Row { r := templateRows[0]; r.Country = ""; return r }(),
			ColCountry, "country is required for Monnet bank_transfer payouts"},
		{"teemopay yape", func() Row {
			r := templateRows[4]
			r.Method, r.BankCode, r.Phone, r.AccountType, r.AccountNumber, r.CCI = "wallet", "037", "923456789", "", "", ""
			return r
		}(), ColBankCode, "describes no Yape (bank 037)"},
		{"teemopay cci", func() Row { r := templateRows[4]; r.AccountNumber = r.CCI; return r }(),
			ColAccountNumber, "a 20-digit number is a CCI, not an account number"},
		{"teemopay bank list", func() Row { r := templateRows[4]; r.BankCode, r.CCI = "011", ""; return r }(),
			ColBankCode, "TeemoPay bank_transfer payouts go to banks 001, 002, 003, 004 only"},
		{"monnet push email", func() Row { r := templateRows[2]; r.Email = ""; return r }(),
			ColEmail, "email is required for Monnet card_push payouts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.row.Number = 2
			_, _, errs := NewValidator(ValidateOptions{}).Check(Source{Name: "f.csv"}, tc.row)
			if len(errs) != 1 || errs[0].Column != tc.column || !strings.Contains(errs[0].Reason, tc.reason) {
				t.Fatalf("errors = %+v, want one on %s saying %q", errs, tc.column, tc.reason)
			}
		})
	}
}

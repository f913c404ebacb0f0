package batch

import (
	"fmt"
	"strings"

	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Row is one data row of a payout file in the canonical schema. Values are
// the cell text exactly as in the file, trimmed of surrounding spaces: an
// account number "00123456" stays "00123456", and an amount is still the
// decimal text the operator wrote ("1500.50").
//
// The csv tags are the canonical column names; gocsv fills the fields from
// the columns the reader has matched (see Source.Columns).
type Row struct {
	// Number is the 1-based line (CSV) or sheet row (XLSX) as a spreadsheet
	// user sees it; the header is row 1.
	Number int `csv:"-"`

	PayoutID            string `csv:"payout_id"`
	Provider            string `csv:"provider"`
	Method              string `csv:"method"`
	Country             string `csv:"country"`
	Currency            string `csv:"currency"`
	Amount              string `csv:"amount"`
	BeneficiaryName     string `csv:"beneficiary_name"`
	BeneficiaryLastName string `csv:"beneficiary_last_name"`
	Email               string `csv:"email"`
	Phone               string `csv:"phone"`
	DocumentType        string `csv:"document_type"`
	DocumentNumber      string `csv:"document_number"`
	BankCode            string `csv:"bank_code"`
	AccountType         string `csv:"account_type"`
	AccountNumber       string `csv:"account_number"`
	CCI                 string `csv:"cci"`
	CardToken           string `csv:"card_token"`
	Description         string `csv:"description"`

	// Extra holds the values of the file's other columns, in Source.Extra
	// order, so that an annotated copy of the input can give them back.
	Extra []string `csv:"-"`

	// cards lists the values in which a card number was found; the row
	// holds them masked (maskCards). scanned says the search was done.
	cards   []cardFound
	scanned bool

	// refused lists the values the reader refuses for what the file
	// shows rather than for their text: an amount cell that a spreadsheet
	// formats as a date holds a number (46000) that reads as an amount
	// but is shown as 2025-12-09. The validator reports each.
	refused []cellRefusal
}

// cardFound is a card number found in a row: the column (canonical, or an
// extra column's header) and the number masked.
type cardFound struct{ column, masked string }

// cellRefusal is a value the reader refuses: its canonical column and why.
type cellRefusal struct{ column, reason string }

// Canonical column names, in schema order: the providers' own names for
// them, which their rules use.
const (
	ColPayoutID            = providers.ColumnPayoutID
	ColProvider            = providers.ColumnProvider
	ColMethod              = providers.ColumnMethod
	ColCountry             = providers.ColumnCountry
	ColCurrency            = providers.ColumnCurrency
	ColAmount              = providers.ColumnAmount
	ColBeneficiaryName     = providers.ColumnBeneficiaryName
	ColBeneficiaryLastName = providers.ColumnBeneficiaryLastName
	ColEmail               = providers.ColumnEmail
	ColPhone               = providers.ColumnPhone
	ColDocumentType        = providers.ColumnDocumentType
	ColDocumentNumber      = providers.ColumnDocumentNumber
	ColBankCode            = providers.ColumnBankCode
	ColAccountType         = providers.ColumnAccountType
	ColAccountNumber       = providers.ColumnAccountNumber
	ColCCI                 = providers.ColumnCCI
	ColCardToken           = providers.ColumnCardToken
	ColDescription         = providers.ColumnDescription
)

// CanonicalColumns lists the canonical schema's columns in schema order.
var CanonicalColumns = []string{
	ColPayoutID, ColProvider, ColMethod, ColCountry, ColCurrency, ColAmount,
	ColBeneficiaryName, ColBeneficiaryLastName, ColEmail, ColPhone,
	ColDocumentType, ColDocumentNumber, ColBankCode, ColAccountType,
	ColAccountNumber, ColCCI, ColCardToken, ColDescription,
}

// RequiredColumns are the columns every payout file must have, whatever its
// providers. The columns a provider and method need beyond these (the
// country too) are checked row by row, from the provider's registration,
// so that a file for card payouts only needs neither a cci nor a country
// column.
var RequiredColumns = []string{ColPayoutID, ColProvider, ColMethod, ColCurrency, ColAmount}

// Get returns the value of a canonical column ("" for an unknown name).
func (r *Row) Get(column string) string {
	if p := r.field(column); p != nil {
		return *p
	}
	return ""
}

// set writes the value of a canonical column; unknown names are ignored.
func (r *Row) set(column, value string) {
	if p := r.field(column); p != nil {
		*p = value
	}
}

func (r *Row) field(column string) *string {
	switch column {
	case ColPayoutID:
		return &r.PayoutID
	case ColProvider:
		return &r.Provider
	case ColMethod:
		return &r.Method
	case ColCountry:
		return &r.Country
	case ColCurrency:
		return &r.Currency
	case ColAmount:
		return &r.Amount
	case ColBeneficiaryName:
		return &r.BeneficiaryName
	case ColBeneficiaryLastName:
		return &r.BeneficiaryLastName
	case ColEmail:
		return &r.Email
	case ColPhone:
		return &r.Phone
	case ColDocumentType:
		return &r.DocumentType
	case ColDocumentNumber:
		return &r.DocumentNumber
	case ColBankCode:
		return &r.BankCode
	case ColAccountType:
		return &r.AccountType
	case ColAccountNumber:
		return &r.AccountNumber
	case ColCCI:
		return &r.CCI
	case ColCardToken:
		return &r.CardToken
	case ColDescription:
		return &r.Description
	}
	return nil
}

// trim removes surrounding white space (including the no-break spaces
// spreadsheets paste) from every canonical value.
func (r *Row) trim() {
	for _, c := range CanonicalColumns {
		p := r.field(c)
		*p = strings.TrimSpace(*p)
	}
}

// maskCards masks, in place, every card number in the row's values
// (canonical columns and extra columns alike: a card number has no place
// in any of them) and records where it found one, for the validator to
// refuse the row. extra names the extra columns (Source.Extra). The clear
// digits are gone from the row once it returns: nothing downstream (the
// journal, a report, an error message) can show them.
func (r *Row) maskCards(extra []string) {
	r.scanned = true
	for _, c := range CanonicalColumns {
		p := r.field(c)
		if ms := pan.Find(*p); len(ms) > 0 {
			r.cards = append(r.cards, cardFound{column: c, masked: maskedList(ms)})
			*p = pan.MaskText(*p)
		}
	}
	cloned := false
	for i, v := range r.Extra {
		ms := pan.Find(v)
		if len(ms) == 0 {
			continue
		}
		if !cloned {
			// The caller's row shares this slice: mask a copy.
			r.Extra, cloned = append([]string(nil), r.Extra...), true
		}
		col := fmt.Sprintf("column %d", i+1)
		if i < len(extra) {
			col = extra[i]
		}
		r.cards = append(r.cards, cardFound{column: col, masked: maskedList(ms)})
		r.Extra[i] = pan.MaskText(v)
	}
}

func maskedList(ms []pan.Match) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.Masked
	}
	return strings.Join(s, ", ")
}

// blank reports whether the row has no value at all: such rows are
// skipped, not reported.
func (r *Row) blank() bool {
	for _, c := range CanonicalColumns {
		if *r.field(c) != "" {
			return false
		}
	}
	for _, x := range r.Extra {
		if strings.TrimSpace(x) != "" {
			return false
		}
	}
	return true
}

// accountTypes maps the spellings operators use to the canonical account
// type. Spanish words are what Peruvian banks print on statements.
var accountTypes = map[string]string{
	"savings":   "savings",
	"saving":    "savings",
	"ahorro":    "savings",
	"ahorros":   "savings",
	"checking":  "checking",
	"current":   "checking",
	"corriente": "checking",
}

// normal returns the row's enumerated values in canonical spelling:
// provider, method and account type in lower case, country, currency and
// document type in upper case. Identifiers are left exactly as written.
func (r Row) normal() Row {
	r.Provider = strings.ToLower(r.Provider)
	r.Method = strings.ToLower(r.Method)
	r.Country = strings.ToUpper(r.Country)
	r.Currency = strings.ToUpper(r.Currency)
	r.DocumentType = strings.ToUpper(r.DocumentType)
	if at, ok := accountTypes[strings.ToLower(r.AccountType)]; ok {
		r.AccountType = at
	}
	return r
}

// Payout builds the payout a provider client needs from the row, and
// returns the provider's name. Only the amount can fail here; whether the
// row is acceptable at all is the Validator's business.
func (r Row) Payout() (providers.Payout, string, error) {
	n := r.normal()
	amount, err := money.Parse(n.Amount, n.Currency)
	if err != nil {
		return providers.Payout{}, n.Provider, fmt.Errorf("row %d: amount %q: %w", r.Number, r.Amount, err)
	}
	return providers.Payout{
		ID:          n.PayoutID,
		Method:      providers.Method(n.Method),
		Country:     n.Country,
		Amount:      amount,
		Description: n.Description,
		Beneficiary: providers.Beneficiary{
			Name:           n.BeneficiaryName,
			LastName:       n.BeneficiaryLastName,
			Email:          n.Email,
			Phone:          n.Phone,
			DocumentType:   n.DocumentType,
			DocumentNumber: n.DocumentNumber,
			BankCode:       n.BankCode,
			AccountType:    n.AccountType,
			AccountNumber:  n.AccountNumber,
			CCI:            n.CCI,
			CardToken:      n.CardToken,
		},
	}, n.Provider, nil
}

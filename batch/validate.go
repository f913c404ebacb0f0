package batch

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// RowError is one problem with one value of one row: where it is, what the
// value was, and why it cannot be paid.
type RowError struct {
	File, Sheet string
	Row         int    // as the spreadsheet shows it; the header is row 1
	Column      string // the canonical column ("" for the row as a whole)
	Value       string // as in the file; a card number is masked
	Reason      string
}

func (e *RowError) Error() string {
	var b strings.Builder
	b.WriteString(where(e.File, e.Sheet))
	fmt.Fprintf(&b, " row %d", e.Row)
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %s", e.Column)
		fmt.Fprintf(&b, " (%q)", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap makes a row problem an ErrInput.
func (e *RowError) Unwrap() error { return ErrInput }

// ValidateOptions configure a Validator.
type ValidateOptions struct {
	// Providers names the enabled providers; empty = every known one.
	Providers []string
}

// Validator checks rows against the canonical schema and the rules of the
// row's provider (its registration's Rules), and remembers payout ids to find the ones a file
// repeats. Use one Validator per file. It is not safe for concurrent use.
type Validator struct {
	enabled map[string]bool
	// seen maps a payout_id to the first row carrying it, negated when
	// that row had other errors (so that a repeat counts it bad only if it
	// was not already).
	seen map[string]int
	// dups maps each payout_id seen more than once to all its rows.
	dups map[string][]int
	rows int
	bad  int
	// file and sheet name the errors of Finish.
	file, sheet string
}

// NewValidator returns a validator for one file.
func NewValidator(o ValidateOptions) *Validator {
	v := &Validator{seen: map[string]int{}, dups: map[string][]int{}}
	if len(o.Providers) > 0 {
		v.enabled = map[string]bool{}
		for _, p := range o.Providers {
			v.enabled[strings.ToLower(strings.TrimSpace(p))] = true
		}
	}
	return v
}

// rowCheck accumulates one row's errors, one per column: the first reason
// found for a column is the one reported.
type rowCheck struct {
	src Source
	r   Row // as in the file, card numbers masked
	n   Row // enumerations normalised
	// country is the row's country, or the only one its provider pays to
	// when the row leaves it blank: it says which national rules apply.
	country string
	errs    []RowError
}

func (c *rowCheck) fail(column, value, reason string) {
	for _, e := range c.errs {
		if e.Column == column && column != "" {
			return
		}
	}
	c.errs = append(c.errs, RowError{File: c.src.Name, Sheet: c.src.Sheet, Row: c.r.Number,
		Column: column, Value: value, Reason: reason})
}

func (c *rowCheck) failed(column string) bool {
	for _, e := range c.errs {
		if e.Column == column {
			return true
		}
	}
	return false
}

// failf reports a column with the row's own value of it.
func (c *rowCheck) failf(column, format string, a ...any) {
	c.fail(column, c.r.Get(column), fmt.Sprintf(format, a...))
}

// Check validates one row and, when it has no error, returns the payout
// and the provider's name. Errors are every problem of the row, not the
// first. Errors that need the whole file (a repeated payout_id) come from
// Finish.
func (v *Validator) Check(src Source, r Row) (providers.Payout, string, []RowError) {
	p, prov, errs := v.check(src, r)
	v.file, v.sheet = src.Name, src.Sheet
	v.rows++
	if len(errs) > 0 {
		v.bad++
	}
	v.remember(r.PayoutID, r.Number, len(errs) == 0)
	return p, prov, errs
}

// check validates one row on its own: unlike Check, it neither counts the
// row nor remembers its payout_id. Ingest calls it directly because it
// finds repeated payout_ids in the journal, so that its memory does not
// grow with the file.
func (v *Validator) check(src Source, r Row) (providers.Payout, string, []RowError) {
	if !r.scanned {
		// A row built in code rather than read: masked here, so that no
		// message below can show a card number.
		r.maskCards(src.Extra)
	}
	c := &rowCheck{src: src, r: r, n: r.normal()}
	rules, known := providerRules(c.n.Provider)
	c.country = c.n.Country
	if c.country == "" && known && len(rules.Countries) == 1 {
		c.country = rules.Countries[0]
	}
	checkCards(c)
	checkRefused(c)
	v.checkSchema(c)
	if known && !c.failed(ColProvider) && !c.failed(ColMethod) {
		checkProvider(c, c.n.Provider, rules)
	}
	if len(c.errs) > 0 {
		return providers.Payout{}, c.n.Provider, c.errs
	}
	p, prov, err := r.Payout()
	if err != nil { // checked above; kept so that a gap can never pass silently
		c.fail(ColAmount, r.Amount, err.Error())
		return providers.Payout{}, prov, c.errs
	}
	return p, prov, nil
}

// remember records a payout_id for Finish. Every row carrying a repeated
// payout_id is invalid, the first one too: a row valid on its own is
// counted bad when the repeat is seen.
func (v *Validator) remember(id string, row int, ok bool) {
	if id == "" {
		return
	}
	first, dup := v.seen[id]
	if !dup {
		mark := row
		if !ok {
			mark = -row
		}
		// A clone: the row's strings share the memory of the whole line.
		v.seen[strings.Clone(id)] = mark
		return
	}
	if ok {
		v.bad++
	}
	rows := v.dups[id]
	if len(rows) == 0 {
		if first > 0 {
			v.bad++ // the first row, valid until now
		}
		rows = []int{abs(first)}
	}
	// A clone on every write: a map assignment keeps the key it is given,
	// even for a key it already holds.
	v.dups[strings.Clone(id)] = append(rows, row)
}

// Finish returns the errors that need the whole file: a payout_id that
// appears on several rows is an error on every one of them. Call it once,
// after the last Check.
func (v *Validator) Finish() []RowError {
	out := repeatErrors(v.file, v.sheet, v.dups)
	v.dups = map[string][]int{}
	return out
}

// repeatErrors returns the error of every row carrying a payout_id that a
// file repeats; repeats maps each such payout_id to all its rows, in file
// order. The errors come by payout_id, in the order of each one's first
// row. Validator.Finish and Ingest (which finds the repeats in the
// journal) both report repeats through it, so that ingesting a file
// reports what validating it does.
func repeatErrors(file, sheet string, repeats map[string][]int) []RowError {
	ids := make([]string, 0, len(repeats))
	for id := range repeats {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return repeats[ids[a]][0] < repeats[ids[b]][0] })
	var out []RowError
	for _, id := range ids {
		rows := repeats[id]
		for i, row := range rows {
			others := make([]string, 0, len(rows)-1)
			for k, o := range rows {
				if k != i {
					others = append(others, strconv.Itoa(o))
				}
			}
			out = append(out, RowError{File: file, Sheet: sheet, Row: row, Column: ColPayoutID, Value: id,
				Reason: fmt.Sprintf("payout_id appears more than once in this file (also on row %s)", strings.Join(others, ", "))})
		}
	}
	return out
}

// Counts returns the rows checked and how many of them are valid so far
// (final after the last Check).
func (v *Validator) Counts() (rows, valid int) { return v.rows, v.rows - v.bad }

// refChars are the characters a payout_id may hold: every provider takes
// them in its merchant reference.
func refChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// maxPayoutID is the schema's limit; providers may have shorter ones.
const maxPayoutID = 64

func (v *Validator) checkSchema(c *rowCheck) {
	r, n := c.r, c.n
	switch {
	case r.PayoutID == "":
		c.failf(ColPayoutID, "payout_id is required")
	case !refChars(r.PayoutID):
		c.failf(ColPayoutID, "payout_id may only hold letters A-Z, digits, '-' and '_'")
	case len(r.PayoutID) > maxPayoutID:
		c.failf(ColPayoutID, "payout_id is %d characters long, the maximum is %d", len(r.PayoutID), maxPayoutID)
	}

	switch _, known := providerRules(n.Provider); {
	case r.Provider == "":
		c.failf(ColProvider, "provider is required (one of %s)", strings.Join(providerNames(), ", "))
	case !known:
		c.failf(ColProvider, "unknown provider (one of %s)", strings.Join(providerNames(), ", "))
	case v.enabled != nil && !v.enabled[n.Provider]:
		c.failf(ColProvider, "provider %s is not enabled in the configuration", n.Provider)
	}

	if r.Method == "" {
		c.failf(ColMethod, "method is required (one of %s)", methodList(providers.Methods))
	} else if !slices.Contains(providers.Methods, providers.Method(n.Method)) {
		c.failf(ColMethod, "unknown method (one of %s)", methodList(providers.Methods))
	}

	// Whether a row needs a country is its provider's and method's rule.
	if r.Country != "" && !isCountry(n.Country) {
		c.failf(ColCountry, "country must be an ISO 3166 two-letter code such as PE")
	}

	cur, curOK := money.Lookup(n.Currency)
	if r.Currency == "" {
		c.failf(ColCurrency, "currency is required (ISO 4217 code, e.g. PEN)")
	} else if !curOK {
		c.failf(ColCurrency, "unknown currency (one of %s)", strings.Join(money.Codes(), ", "))
	}

	if r.Amount == "" {
		c.failf(ColAmount, "amount is required")
	} else if curOK {
		if _, err := money.ParseMinor(r.Amount, cur.Exponent); err != nil {
			c.failf(ColAmount, "%s", amountReason(err, cur))
		}
	} else if _, err := money.ParseMinor(r.Amount, 3); err != nil && !errors.Is(err, money.ErrTooPrecise) {
		c.failf(ColAmount, "%s", amountReason(err, cur))
	}

	if r.Email != "" {
		if reason := checkEmail(r.Email); reason != "" {
			c.failf(ColEmail, "%s", reason)
		}
	}

	peru := c.country == "PE"
	if r.Phone != "" {
		if peru {
			if reason := checkPeruPhone(r.Phone); reason != "" {
				c.failf(ColPhone, "%s", reason)
			}
		} else if !phoneLike(r.Phone) {
			c.failf(ColPhone, "phone must be digits, optionally after a leading +")
		}
	}

	switch {
	case r.DocumentType == "" && r.DocumentNumber != "":
		c.failf(ColDocumentType, "document_type is required with a document_number (DNI, RUC, CE or PAS)")
	case r.DocumentType != "" && !slices.Contains(documentTypes, n.DocumentType):
		c.failf(ColDocumentType, "document_type must be DNI, RUC, CE or PAS")
	case r.DocumentType != "" && r.DocumentNumber == "":
		c.failf(ColDocumentNumber, "document_number is required with a document_type")
	}

	if r.BankCode != "" && peru && (len(r.BankCode) != 3 || !digits(r.BankCode)) {
		c.failf(ColBankCode, "bank_code must be the bank's 3-digit SBS code (e.g. 002 for BCP; the first 3 digits of its CCI)")
	}
	if r.AccountType != "" && n.AccountType != "savings" && n.AccountType != "checking" {
		c.failf(ColAccountType, "account_type must be savings or checking")
	}
	if r.AccountNumber != "" && peru && !digits(r.AccountNumber) {
		c.failf(ColAccountNumber, "account_number must be digits only, without dashes or spaces")
	}
	if r.CCI != "" {
		if reason := checkCCI(r.CCI); reason != "" {
			c.failf(ColCCI, "%s", reason)
		} else if r.BankCode != "" && !c.failed(ColBankCode) && r.CCI[:3] != r.BankCode {
			c.failf(ColBankCode, "bank_code %s does not match the CCI, which is of bank %s", r.BankCode, r.CCI[:3])
		}
	}
	checkDocuments(c)
}

// checkDocuments checks the document number with the provider's CE rule
// (8 to 12 characters when the provider is unknown).
func checkDocuments(c *rowCheck) {
	n := c.n
	if n.DocumentType == "" || n.DocumentNumber == "" || c.failed(ColDocumentType) {
		return
	}
	ce := [2]int{8, 12}
	if p, ok := providerRules(n.Provider); ok && p.CELength[0] > 0 {
		ce = p.CELength
	}
	if reason := checkDocument(n.DocumentType, n.DocumentNumber, ce[0], ce[1]); reason != "" {
		c.failf(ColDocumentNumber, "%s", reason)
	}
}

var documentTypes = []string{"DNI", "RUC", "CE", "PAS"}

func amountReason(err error, cur money.Currency) string {
	switch {
	case errors.Is(err, money.ErrTooPrecise):
		return fmt.Sprintf("amount has more decimals than the currency allows (%s: %d)", cur.Code, cur.Exponent)
	case errors.Is(err, money.ErrSyntax):
		return "amount must be a plain decimal number such as 1500.50 (no currency sign, no exponent)"
	}
	return err.Error()
}

func checkEmail(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "email is not a valid address (name@example.com)"
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "email domain is incomplete (name@example.com)"
	}
	return ""
}

func phoneLike(s string) bool {
	s = strings.TrimPrefix(s, "+")
	return digits(s) && len(s) >= 6 && len(s) <= 15
}

func isCountry(s string) bool {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.String() == s
}

func methodList(ms []providers.Method) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

func intList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " or ")
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// MaxErrors is how many errors a Report keeps; the rest are only counted.
const MaxErrors = 10_000

// Report is the outcome of validating a whole file.
type Report struct {
	File   string
	Source Source
	// Rows counts the non-blank data rows, ValidRows those without error.
	Rows, ValidRows int
	// Errors lists the problems in row order, at most MaxErrors of them.
	Errors []RowError
	// Omitted counts the errors beyond MaxErrors.
	Omitted int
}

func (rep *Report) add(errs ...RowError) {
	for _, e := range errs {
		if len(rep.Errors) >= MaxErrors {
			rep.Omitted++
			continue
		}
		rep.Errors = append(rep.Errors, e)
	}
}

// headerReport is the report on a file whose header cannot be used: the
// header's problems, as errors on the header row. ValidateFile and Ingest
// report such a file alike.
func headerReport(path string, he *HeaderError) *Report {
	rep := &Report{File: he.File, Source: Source{Path: path, Name: he.File, Sheet: he.Sheet}}
	rep.add(he.RowErrors()...)
	return rep
}

// ValidateFile reads and validates a whole file, streaming, and reports
// every problem. A header that cannot be used is reported as errors on the
// header row (the returned error is nil); a file that cannot be read at all
// (missing, too large, too many rows, not CSV or XLSX, a missing sheet) is
// an error wrapping ErrInput, or an I/O error.
func ValidateFile(path string, ro ReadOptions, vo ValidateOptions) (*Report, error) {
	rd, err := OpenFile(path, ro)
	if err != nil {
		var he *HeaderError
		if errors.As(err, &he) {
			return headerReport(path, he), nil
		}
		return nil, err
	}
	defer rd.Close()
	src := rd.Source()
	rep := &Report{File: src.Name, Source: src}
	v := NewValidator(vo)
	broken := 0
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var re *RowError
			if errors.As(err, &re) {
				broken++
				rep.add(*re)
				continue
			}
			return nil, err
		}
		_, _, errs := v.Check(src, row)
		rep.add(errs...)
	}
	rep.add(v.Finish()...)
	rows, valid := v.Counts()
	rep.Rows, rep.ValidRows = rows+broken, valid
	sort.SliceStable(rep.Errors, func(i, j int) bool { return rep.Errors[i].Row < rep.Errors[j].Row })
	return rep, nil
}

package batch

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
)

// registered is every provider's rules, from the one list of
// registrations (providers/all): batch keeps no provider list of its own.
var registered = sync.OnceValue(func() struct {
	rules map[string]providers.Rules
	names []string
} {
	regs := all.Registrations()
	out := struct {
		rules map[string]providers.Rules
		names []string
	}{rules: make(map[string]providers.Rules, len(regs))}
	for _, r := range regs {
		out.rules[r.Name] = r.Rules
		out.names = append(out.names, r.Name)
	}
	return out
})

// providerRules returns the rules of a provider by its name in the
// provider column (lower case).
func providerRules(name string) (providers.Rules, bool) {
	r, ok := registered().rules[name]
	return r, ok
}

// providerNames lists the known providers in registration order.
func providerNames() []string { return registered().names }

// checkCards refuses every value in which the reader found a card number.
// The row holds it masked already; the error shows it masked too.
func checkCards(c *rowCheck) {
	for _, f := range c.r.cards {
		hint := ""
		if f.column == ColCardToken {
			hint = "; give the provider's card token instead"
		}
		c.fail(f.column, f.masked, fmt.Sprintf("%s holds a card number: card numbers must never be in a payout file (PCI DSS); remove it%s", f.column, hint))
	}
}

// checkRefused reports the values the reader refused for what the file
// shows of them (an amount cell formatted as a date).
func checkRefused(c *rowCheck) {
	for _, f := range c.r.refused {
		c.failf(f.column, "%s", f.reason)
	}
}

// checkProvider applies the rules of the row's provider and method, from
// the provider's registration.
func checkProvider(c *rowCheck, name string, p providers.Rules) {
	r, n := c.r, c.n
	label := p.Label
	if label == "" {
		label = name
	}
	method := providers.Method(n.Method)
	m, ok := p.Methods[method]
	if !ok {
		var ms []providers.Method
		for _, x := range providers.Methods {
			if _, ok := p.Methods[x]; ok {
				ms = append(ms, x)
			}
		}
		c.failf(ColMethod, "%s does not pay by %s (it pays by %s)", label, n.Method, methodList(ms))
		return
	}
	if m.Refused != "" {
		col := ColMethod
		if r.BankCode != "" {
			col = ColBankCode
		}
		c.failf(col, "%s", m.Refused)
		return
	}

	currencies := p.Currencies
	if len(m.Currencies) > 0 {
		currencies = m.Currencies
	}
	if !c.failed(ColCurrency) && !slices.Contains(currencies, n.Currency) {
		c.failf(ColCurrency, "%s %s payouts are in %s only", label, n.Method, strings.Join(currencies, ", "))
	}
	if len(p.Countries) > 0 && r.Country != "" && !c.failed(ColCountry) && !slices.Contains(p.Countries, n.Country) {
		c.failf(ColCountry, "%s pays to %s only", label, strings.Join(p.Countries, ", "))
	}

	maxRef, ok := p.MaxReference[c.country]
	if !ok {
		maxRef = p.MaxReference[""]
	}
	if maxRef > 0 && len(r.PayoutID) > maxRef && !c.failed(ColPayoutID) {
		in := ""
		if _, byCountry := p.MaxReference[c.country]; byCountry {
			in = " for " + c.country
		}
		c.failf(ColPayoutID, "payout_id is %d characters long; %s takes at most %d%s (its %s)", len(r.PayoutID), label, maxRef, in, p.ReferenceField)
	}

	for _, group := range m.Required {
		filled := false
		for _, col := range group {
			if r.Get(col) != "" {
				filled = true
			}
		}
		if !filled {
			what := strings.Join(group, " or ")
			if len(group) > 1 {
				what = "one of " + what
			}
			c.fail(group[0], "", fmt.Sprintf("%s is required for %s %s payouts", what, label, n.Method))
		}
	}

	if cur, ok := money.Lookup(n.Currency); ok && !c.failed(ColAmount) {
		if amt, err := money.ParseMinor(r.Amount, cur.Exponent); err == nil {
			for _, l := range m.Limits {
				if l.Currency != cur.Code || (l.BankCode != "" && l.BankCode != r.BankCode) {
					continue
				}
				max, err := money.ParseMinor(l.Max, cur.Exponent)
				if err == nil && amt > max {
					c.failf(ColAmount, "amount is above the %s limit of %s %s", l.Why, money.FormatMinor(max, cur.Exponent), cur.Code)
				}
				break
			}
		}
	}

	if p.MaxDescription > 0 && utf8.RuneCountInString(r.Description) > p.MaxDescription {
		c.failf(ColDescription, "description is %d characters long; %s takes at most %d", utf8.RuneCountInString(r.Description), label, p.MaxDescription)
	}
	if r.Description == "" && slices.Contains(m.DescriptionForBanks, r.BankCode) {
		c.failf(ColDescription, "description is required by %s for bank %s", label, r.BankCode)
	}

	if p.MaxFullName > 0 {
		full := providers.Beneficiary{Name: r.BeneficiaryName, LastName: r.BeneficiaryLastName}.FullName()
		if n := utf8.RuneCountInString(full); n > p.MaxFullName {
			c.failf(ColBeneficiaryName, "name and last name together are %d characters long; %s takes at most %d", n, label, p.MaxFullName)
		}
	}

	if r.DocumentType != "" && !c.failed(ColDocumentType) {
		if len(p.DocumentTypes) > 0 && !slices.Contains(p.DocumentTypes, n.DocumentType) {
			c.failf(ColDocumentType, "%s accepts document types %s", label, strings.Join(p.DocumentTypes, ", "))
		}
		if banks := p.DocumentNotForBank[n.DocumentType]; slices.Contains(banks, r.BankCode) {
			c.failf(ColDocumentType, "%s does not accept %s documents for bank %s", label, n.DocumentType, r.BankCode)
		}
	}

	if len(m.Banks) > 0 && r.BankCode != "" && !c.failed(ColBankCode) && !slices.Contains(m.Banks, r.BankCode) {
		c.failf(ColBankCode, "%s %s payouts go to banks %s only (its bank list)", label, n.Method, strings.Join(m.Banks, ", "))
	}
	checkAccount(c, label, m)

	if p.CardToken == providers.TokenHex64 && r.CardToken != "" && !c.failed(ColCardToken) && (len(r.CardToken) != 64 || !hexString(r.CardToken)) {
		c.failf(ColCardToken, "%s card tokens are 64 hexadecimal characters (got %d characters)", label, len(r.CardToken))
	}
}

// checkAccount checks the account number's length for its bank.
func checkAccount(c *rowCheck, label string, m providers.MethodRules) {
	r := c.r
	if m.AccountLengths == nil || r.AccountNumber == "" || r.BankCode == "" || c.failed(ColAccountNumber) || c.failed(ColBankCode) {
		return
	}
	lengths, known := m.AccountLengths[r.BankCode]
	got := len(r.AccountNumber)
	if m.CCIInstead {
		if r.CCI != "" {
			return // the CCI is what is paid
		}
		switch {
		case !known && got != 20:
			c.failf(ColAccountNumber, "%s pays bank %s by its 20-digit CCI: fill the cci column", label, r.BankCode)
		case known && !slices.Contains(lengths, got):
			c.failf(ColAccountNumber, "account numbers of bank %s have %s digits at %s (got %d); or give the cci", r.BankCode, intList(lengths), label, got)
		}
		return
	}
	switch {
	case got == 20 && !slices.Contains(lengths, 20):
		c.failf(ColAccountNumber, "a 20-digit number is a CCI, not an account number: %s pays the account number itself (bank %s: %s digits); put the CCI in the cci column", label, r.BankCode, intList(lengths))
	case known && !slices.Contains(lengths, got):
		c.failf(ColAccountNumber, "account numbers of bank %s have %s digits at %s (got %d)", r.BankCode, intList(lengths), label, got)
	}
}

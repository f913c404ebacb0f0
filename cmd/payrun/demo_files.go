package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reports"
)

// demoRows builds n sample rows from the template's examples (every
// provider and method), with unique payout ids and amounts. Every seventh
// row's payout_id ends in "-F": the sandboxes are told to fail those.
func demoRows(prefix string, n int) []batch.Row {
	base := batch.TemplateRows()
	out := make([]batch.Row, 0, n)
	for i := 0; i < n; i++ {
		r := base[i%len(base)]
		r.PayoutID = fmt.Sprintf("D%s-%04d", prefix, i+1)
		if (i+1)%7 == 0 {
			r.PayoutID += "-F"
		}
		if r.Provider == "teemopay" && r.Method == "bank_transfer" && r.AccountNumber == "" {
			// TeemoPay pays the account number, never the CCI, and the
			// template's row has only its CCI (Interbank: 13 digits).
			r.AccountNumber = "2000001234567"
		}
		cur, _ := money.Lookup(r.Currency)
		m, err := money.Parse(r.Amount, r.Currency)
		if err == nil {
			r.Amount = money.FormatMinor(m.Minor+int64(i), cur.Exponent)
		}
		out = append(out, r)
	}
	return out
}

// writeDemoFile writes rows with the canonical header, as CSV or XLSX.
func writeDemoFile(path string, rows []batch.Row, xlsx bool) error {
	return reports.WriteFile(path, 0o640, func(w io.Writer) error { return batch.WriteRows(w, rows, xlsx) })
}

// demoCollectionRows are one Bank 131 and one Smart Glocal row without a
// card token: card collections, whose beneficiaries give their card on
// payrun's page through the provider's widget.
func demoCollectionRows(prefix string) []batch.Row {
	var out []batch.Row
	for _, r := range batch.TemplateRows() {
		if r.Method != "card_token" {
			continue
		}
		r.PayoutID = fmt.Sprintf("D%s-C%d", prefix, len(out)+1)
		r.CardToken = ""
		r.Email = strings.ToLower(r.BeneficiaryName) + "@example.com"
		r.Description = "Payout (card collected)"
		out = append(out, r)
	}
	return out
}

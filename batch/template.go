package batch

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/money"
)

// templateRows are example payouts, one per provider and method each
// provider pays, that pass validation (a test proves it). They show the
// forms operators get wrong: leading zeros of a DNI, a CCI, an account
// number of the length its bank uses, a Yape payout with its mandatory
// description, a card token that is a provider's hash and not a card.
var templateRows = []Row{
	{PayoutID: "PR-2026-0001", Provider: "monnet", Method: "bank_transfer", Country: "PE", Currency: "PEN", Amount: "1500.50",
		BeneficiaryName: "Sergio", BeneficiaryLastName: "Quispe Ramos", Email: "sergio.quispe@example.com", Phone: "987654321",
		DocumentType: "DNI", DocumentNumber: "01234567", BankCode: "002", AccountType: "savings",
		CCI: "00243000584290204477", Description: "Pago de planilla noviembre"},
	{PayoutID: "PR-2026-0002", Provider: "monnet", Method: "wallet", Country: "PE", Currency: "PEN", Amount: "250.00",
		BeneficiaryName: "María", BeneficiaryLastName: "Núñez", Phone: "912345678",
		DocumentType: "CE", DocumentNumber: "001234567", BankCode: "037", Description: "Reembolso de gastos"},
	{PayoutID: "PR-2026-0003", Provider: "monnet", Method: "card_push", Country: "PE", Currency: "PEN", Amount: "100.00",
		BeneficiaryName: "Lucía", BeneficiaryLastName: "Paredes", Email: "lucia.paredes@example.com",
		DocumentType: "DNI", DocumentNumber: "07654321", Description: "Premio"},
	{PayoutID: "PR-2026-0004", Provider: "monnet", Method: "payment_link", Country: "PE", Currency: "USD", Amount: "75.25",
		BeneficiaryName: "Jorge", BeneficiaryLastName: "Salas", Email: "jorge@example.com", Phone: "998877665",
		DocumentType: "DNI", DocumentNumber: "40123456", Description: "Cobro de servicio"},
	{PayoutID: "PR-2026-0005", Provider: "teemopay", Method: "bank_transfer", Country: "PE", Currency: "PEN", Amount: "3200.00",
		BeneficiaryName: "Comercial Andina SAC", DocumentType: "RUC", DocumentNumber: "20629932888",
		BankCode: "003", AccountType: "checking", AccountNumber: "2003001234567", CCI: "00320000012345678937",
		Description: "Factura F001-2231"},
	{PayoutID: "PR-2026-0006", Provider: "teemopay", Method: "bank_transfer", Country: "PE", Currency: "PEN", Amount: "80.00",
		BeneficiaryName: "Rosa", BeneficiaryLastName: "Huamán", DocumentType: "DNI", DocumentNumber: "45678912",
		BankCode: "002", AccountType: "savings", AccountNumber: "19112345678901", Description: "Bono"},
	{PayoutID: "PR-2026-0007", Provider: "bank131", Method: "card_token", Country: "RU", Currency: "RUB", Amount: "10000.00",
		BeneficiaryName: "Ivan", BeneficiaryLastName: "Petrov",
		CardToken: "8b1b924ff7cdbb10386fbf9f054185419eaabfbf37e8de0fc62ff7d06b3f5c2d", Description: "Payout"},
	{PayoutID: "PR-2026-0008", Provider: "smartglocal", Method: "card_token", Country: "DE", Currency: "EUR", Amount: "50.00",
		BeneficiaryName: "Anna", BeneficiaryLastName: "Schmidt",
		CardToken: "6b979c5f71b570ac402b30410a5b0c4cda4bee0e5dcd877be6acd86a32b8abcc", Description: "Payout"},
}

// TemplateRows returns the template's example rows.
func TemplateRows() []Row { return append([]Row(nil), templateRows...) }

// WriteTemplate writes a payout file with the canonical header and the
// example rows (see WriteRows).
func WriteTemplate(w io.Writer, xlsx bool) error { return WriteRows(w, templateRows, xlsx) }

// WriteRows writes rows under the canonical header: CSV (UTF-8,
// comma-separated), or an XLSX workbook whose cells are text so that
// Excel keeps the leading zeros of document and account numbers when the
// operator types over them, but for the amounts: numbers with their
// currency's decimals, so that the sheet adds up.
func WriteRows(w io.Writer, rows []Row, xlsx bool) error {
	if !xlsx {
		cw := csv.NewWriter(w)
		_ = cw.Write(CanonicalColumns)
		for _, r := range rows {
			rec := make([]string, len(CanonicalColumns))
			for i, c := range CanonicalColumns {
				rec[i] = r.Get(c)
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "Payouts"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": Text
	if err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, NumFmt: 49})
	if err != nil {
		return err
	}
	last, _ := excelize.ColumnNumberToName(len(CanonicalColumns))
	if err := f.SetColStyle(sheet, "A:"+last, text); err != nil {
		return err
	}
	if err := f.SetColWidth(sheet, "A", last, 18); err != nil {
		return err
	}
	for i, c := range CanonicalColumns {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		if err := f.SetCellStr(sheet, cell, c); err != nil {
			return err
		}
	}
	if err := f.SetRowStyle(sheet, 1, 1, bold); err != nil {
		return err
	}
	amountStyles := map[int]int{} // exponent -> style
	for j, r := range rows {
		for i, c := range CanonicalColumns {
			cell, _ := excelize.CoordinatesToCellName(i+1, j+2)
			if c == ColAmount {
				ok, err := setAmountCell(f, sheet, cell, r, amountStyles)
				if err != nil {
					return err
				}
				if ok {
					continue
				}
			}
			if err := f.SetCellStr(sheet, cell, r.Get(c)); err != nil {
				return err
			}
		}
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	_, err = f.WriteTo(w)
	return err
}

// setAmountCell writes a row's amount as a number with its currency's
// decimals, so that the sheet adds up; false (nothing written) when the
// amount is not one of its currency, and the caller writes the text.
// SetCellDefault stores the decimal text itself as the number: no float.
func setAmountCell(f *excelize.File, sheet, cell string, r Row, styles map[int]int) (bool, error) {
	m, err := money.Parse(r.Amount, r.Currency)
	if err != nil {
		return false, nil
	}
	cur, _ := money.Lookup(m.Currency)
	style, ok := styles[cur.Exponent]
	if !ok {
		format := "#,##0"
		if cur.Exponent > 0 {
			format += "." + strings.Repeat("0", cur.Exponent)
		}
		if style, err = f.NewStyle(&excelize.Style{CustomNumFmt: &format}); err != nil {
			return false, err
		}
		styles[cur.Exponent] = style
	}
	if err := f.SetCellDefault(sheet, cell, money.FormatMinor(m.Minor, cur.Exponent)); err != nil {
		return false, err
	}
	return true, f.SetCellStyle(sheet, cell, cell, style)
}

package reports

import (
	"time"

	"github.com/payrun/payrun/reconcile"
)

// The card number below is a well-known test PAN (it passes Luhn).
const testPAN = "4111111111111111"

var lima = time.FixedZone("America/Lima", -5*3600)

// fixture is a small reconciliation exercising every sheet: several
// currencies and providers, exceptions of several ages, hostile cell values
// (formula starters, a card number), and invalid input rows.
func fixture() (Meta, *reconcile.Result) {
	run := time.Date(2026, 11, 22, 7, 0, 0, 0, lima)
	created := time.Date(2026, 11, 21, 18, 5, 0, 0, lima)
	upd := time.Date(2026, 11, 21, 18, 9, 30, 0, lima)
	l := func(row int, id, prov, cur string, amt, fee int64, cat reconcile.Category, reason string) reconcile.Line {
		return reconcile.Line{
			BatchID: "B20261121", File: "payouts-2026-11-21.csv", Row: row, PayoutID: id, Provider: prov,
			Method: "bank_transfer", Currency: cur, Amount: amt, Fee: fee, Category: cat, Reason: reason,
			State: "succeeded", ProviderRef: "REF-" + id, Beneficiary: "María Pérez",
			Account: "00191234564477", Document: "45678912", Created: created, Updated: upd,
		}
	}
	lines := []reconcile.Line{
		l(2, "P-001", "teemopay", "PEN", 150050, 350, reconcile.Matched, ""),
		l(3, "P-002", "teemopay", "PEN", 2000, 0, reconcile.FailedAtProvider, "account closed"),
		l(4, "P-003", "monnet", "CLP", 125000, 0, reconcile.Matched, ""),
		l(5, "P-004", "monnet", "CLP", 990, 0, reconcile.Pending, "awaiting webhook"),
		l(6, "=HYPERLINK(\"http://evil\")", "monnet", "PEN", 1, 0, reconcile.Matched, "+cmd|' /C calc'!A0"),
		l(7, "P-006", "bank131", "RUB", 99999999999, 1250, reconcile.Stale, "-2+3"),
		l(8, "P-007", "bank131", "RUB", 100, 0, reconcile.InvalidInput, "amount: too precise"),
		l(0, "X-999", "bank131", "RUB", 5000, 0, reconcile.UnexpectedAtProvider, "@SUM(1)"),
	}
	lines[1].State, lines[1].ProviderCode = "failed", "E102"
	lines[3].State, lines[3].ProviderRef = "submitted", ""
	lines[5].State, lines[5].AgeDays, lines[5].AgeBucket = "submitted", 5, reconcile.AgeBucket(5*24*time.Hour)
	lines[5].Beneficiary = "\tTab Start"
	lines[5].Reason = "-2+3 card " + testPAN
	lines[6].State, lines[6].ProviderRef, lines[6].Updated = "invalid", "", time.Time{}
	lines[7].State, lines[7].ProviderStatus, lines[7].Account, lines[7].Document = "", "PAID", "", ""
	lines[2].ProviderAmount = 125000
	lines[0].Document = "=1+2"
	res := &reconcile.Result{
		Scope: "batch B20261121", GeneratedAt: run, TimeZone: "America/Lima",
		Lines: lines,
		Invalid: []reconcile.InvalidRow{
			{BatchID: "B20261121", File: "payouts-2026-11-21.csv", Row: 8, Column: "amount", Value: "1.005", Reason: "amount has more decimals than the currency allows"},
			{BatchID: "B20261121", File: "payouts-2026-11-21.csv", Row: 8, Column: "account_number", Value: "00191234569999", Reason: "=bad"},
			{BatchID: "B20261121", File: "payouts-2026-11-21.csv", Row: 8, Column: "description", Value: "pay " + testPAN, Reason: "card number in description"},
		},
	}
	res.Tally()
	meta := Meta{BatchIDs: []string{"B20261121"}, File: "payouts-2026-11-21.csv", RunAt: run, Location: lima}
	return meta, res
}

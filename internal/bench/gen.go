package bench

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/teemopay"
	"github.com/payrun/payrun/reconcile"
	"github.com/xuri/excelize/v2"
)

// genEpoch is the fixed clock of generated items and lines, so that two
// runs generate the same bytes.
var genEpoch = time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)

// Row returns generated payout row i: the template's example rows in turn
// (every provider and method), each with its own payout_id and the cents
// of its amount varied, all valid.
func Row(i int) batch.Row {
	tmpl := batch.TemplateRows()
	r := tmpl[i%len(tmpl)]
	r.Number = i + 2
	r.PayoutID = fmt.Sprintf("PR%010d", i)
	if whole, _, ok := strings.Cut(r.Amount, "."); ok {
		r.Amount = fmt.Sprintf("%s.%02d", whole, (i*7)%100)
	}
	return r
}

// teemoRow returns generated row i among the template's TeemoPay rows
// (bank transfers), with a payout_id under prefix.
func teemoRow(prefix string, i int) batch.Row {
	var rows []batch.Row
	for _, r := range batch.TemplateRows() {
		if r.Provider == teemopay.Name {
			rows = append(rows, r)
		}
	}
	r := rows[i%len(rows)]
	r.Number = i + 2
	r.PayoutID = fmt.Sprintf("%s%09d", prefix, i)
	if whole, _, ok := strings.Cut(r.Amount, "."); ok {
		r.Amount = fmt.Sprintf("%s.%02d", whole, (i*7)%100)
	}
	return r
}

// record returns the row's canonical cells.
func record(r batch.Row, rec []string) []string {
	rec = rec[:0]
	for _, c := range batch.CanonicalColumns {
		rec = append(rec, r.Get(c))
	}
	return rec
}

// WriteCSV writes a UTF-8 CSV payout file of n generated valid rows.
func WriteCSV(path string, n int) error {
	return writeCSVRows(path, n, func(i int, rec []string) []string { return record(Row(i), rec) })
}

// nightTemplates are the template's rows of methods that finish without a
// beneficiary's action, one per provider.
func nightTemplates() []batch.Row {
	var out []batch.Row
	seen := map[string]bool{}
	for _, r := range batch.TemplateRows() {
		if seen[r.Provider] || (r.Method != "bank_transfer" && r.Method != "card_token") {
			continue
		}
		seen[r.Provider] = true
		out = append(out, r)
	}
	return out
}

// writeCSVRows writes a UTF-8 CSV payout file of n rows, row i's cells
// from next (which may reuse rec).
func writeCSVRows(path string, n int, next func(i int, rec []string) []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write(batch.CanonicalColumns); err != nil {
		f.Close()
		return err
	}
	var rec []string
	for i := range n {
		rec = next(i, rec)
		if err := w.Write(rec); err != nil {
			f.Close()
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteXLSX writes an XLSX payout file of n generated valid rows, every
// cell text (as payrun's template asks), through excelize's StreamWriter.
func WriteXLSX(path string, n int) error {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	cells := make([]any, len(batch.CanonicalColumns))
	for i, c := range batch.CanonicalColumns {
		cells[i] = c
	}
	if err := sw.SetRow("A1", cells); err != nil {
		return err
	}
	var rec []string
	for i := range n {
		rec = record(Row(i), rec)
		for j, v := range rec {
			cells[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, cells); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SaveAs(path)
}

// Item returns generated journal item i of batchID in state st, built from
// Row(i) the way ingest builds it; a final item carries the provider's
// answer (reference, amount, fee) as the dispatcher and receiver record it.
func Item(batchID string, i int, st journal.State) journal.Item {
	r := Row(i)
	p, prov, err := r.Payout()
	if err != nil {
		panic(fmt.Sprintf("generated row %d: %v", i, err)) // generator bug: every template row parses
	}
	it := journal.Item{PayoutID: p.ID, BatchID: batchID, Row: r.Number, Provider: prov, Payout: p, State: st,
		Refs: providers.Refs{PayoutID: p.ID, Method: p.Method}, Created: genEpoch, Updated: genEpoch}
	switch st {
	case journal.Succeeded, journal.Failed, journal.Submitted:
		it.Refs.ProviderID = fmt.Sprintf("T%010d", i)
		it.SentAt = genEpoch.Add(time.Second)
		it.Sends = 1
		it.Last = providers.Status{Outcome: providers.Processing, Refs: it.Refs, RawStatus: "PROCESSING"}
		if st == journal.Succeeded {
			it.Last = providers.Status{Outcome: providers.Succeeded, Refs: it.Refs, RawStatus: "SUCCESS",
				Amount: p.Amount, Fee: 150, At: genEpoch.Add(time.Minute)}
		}
		if st == journal.Failed {
			it.Last = providers.Status{Outcome: providers.Failed, Refs: it.Refs, RawStatus: "FAIL",
				Code: "ACCOUNT_CLOSED", Message: "beneficiary account closed", At: genEpoch.Add(time.Minute)}
		}
	case journal.Sending:
		it.SentAt = genEpoch.Add(time.Second)
		it.Sends = 1
	}
	return it
}

// journalState is the state of item i of the crash-and-match journal: one
// in twenty open (queued or submitted), one in fifty failed, the rest
// paid; and, as a crash leaves them, `inflight` items caught in sending
// spread over the journal.
func journalState(i, n, inflight int) journal.State {
	if inflight > 0 && i%(n/inflight) == 0 {
		return journal.Sending
	}
	switch {
	case i%20 == 1:
		return journal.Queued
	case i%20 == 2:
		return journal.Submitted
	case i%50 == 3:
		return journal.Failed
	}
	return journal.Succeeded
}

// Line returns generated reconciliation line i, as Match makes them for
// a paid (or, one in twenty, failed) payout.
func Line(i int) reconcile.Line {
	r := Row(i)
	p, prov, _ := r.Payout()
	l := reconcile.Line{BatchID: "B20260302-bench00000", File: "payouts-2026-03-02.csv", Row: r.Number, PayoutID: p.ID,
		Provider: prov, Method: string(p.Method), Currency: p.Amount.Currency, Amount: p.Amount.Minor,
		ProviderAmount: p.Amount.Minor, Fee: 150, Category: reconcile.Matched, State: string(journal.Succeeded),
		ProviderStatus: "SUCCESS", ProviderRef: fmt.Sprintf("T%010d", i), Beneficiary: p.Beneficiary.FullName(),
		Account: p.Beneficiary.CCI, Document: p.Beneficiary.DocumentNumber, Created: genEpoch,
		Updated: genEpoch.Add(time.Minute), AgeDays: 0, AgeBucket: reconcile.AgeBucket(time.Hour)}
	if i%20 == 7 {
		l.Category, l.State, l.ProviderStatus = reconcile.FailedAtProvider, string(journal.Failed), "FAIL"
		l.ProviderCode, l.Reason, l.ProviderAmount, l.Fee = "ACCOUNT_CLOSED", "beneficiary account closed", 0, 0
	}
	return l
}

package reports

import (
	"bufio"
	"encoding/csv"
	"io"
	"iter"
	"slices"
	"strconv"

	"github.com/payrun/payrun/reconcile"
)

// bom starts every CSV export so that Excel reads it as UTF-8 (accents).
const bom = "\uFEFF"

// WriteSummaryCSV writes the Summary table (currency x provider x category)
// as UTF-8 CSV with a BOM. Amounts are plain exact decimals ("1500.50"),
// the only values not neutralised: a negative amount is a number, not a
// formula.
func WriteSummaryCSV(w io.Writer, res *reconcile.Result) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString(bom); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	hdr := make([]string, len(summaryColumns))
	for i, c := range summaryColumns {
		hdr[i] = c.header
	}
	if err := cw.Write(hdr); err != nil {
		return err
	}
	for _, t := range res.Totals {
		if err := cw.Write([]string{
			Neutralise(t.Currency), text(t.Provider), t.Category.Label(), strconv.Itoa(t.Count),
			decimal(t.Amount, t.Currency), decimal(t.Fees, t.Currency),
		}); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteDetailsCSV writes every line with the Details sheet's columns as
// UTF-8 CSV with a BOM; lines is ranged over once.
func WriteDetailsCSV(w io.Writer, meta Meta, lines iter.Seq[reconcile.Line], o Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.WriteString(bom); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	rec := make([]string, len(detailColumns))
	for i, c := range detailColumns {
		rec[i] = c.header
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	for l := range lines {
		pamount := ""
		if l.ProviderAmount != 0 {
			pamount = decimal(l.ProviderAmount, l.Currency)
		}
		row := ""
		if l.Row > 0 {
			row = strconv.Itoa(l.Row)
		}
		rec = append(rec[:0],
			ident(l.BatchID), text(l.File), row, ident(l.PayoutID), text(l.Provider), text(l.Method),
			Neutralise(l.Currency), decimal(l.Amount, l.Currency), pamount, decimal(l.Fee, l.Currency),
			l.Category.Label(), text(l.Reason), text(l.State), text(l.ProviderCode), text(l.ProviderStatus),
			ident(l.ProviderRef), o.link(l.URL), text(l.Beneficiary), o.sensitive(l.Account), o.sensitive(l.Document),
			meta.formatTime(l.Created), meta.formatTime(l.Updated), strconv.Itoa(l.AgeDays), l.AgeBucket,
		)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteDetailsCSVResult is WriteDetailsCSV over res.Lines.
func WriteDetailsCSVResult(w io.Writer, meta Meta, res *reconcile.Result, o Options) error {
	return WriteDetailsCSV(w, meta, slices.Values(res.Lines), o)
}

package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/money"
	"github.com/xuri/excelize/v2"
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
	if !xlsx {
		return writeFile(path, func(w io.Writer) error {
			cw := csv.NewWriter(w)
			if err := cw.Write(batch.CanonicalColumns); err != nil {
				return err
			}
			for _, r := range rows {
				rec := make([]string, len(batch.CanonicalColumns))
				for i, c := range batch.CanonicalColumns {
					rec[i] = r.Get(c)
				}
				if err := cw.Write(rec); err != nil {
					return err
				}
			}
			cw.Flush()
			return cw.Error()
		})
	}
	f := excelize.NewFile()
	defer f.Close()
	const sheet = "Payouts"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	head := make([]any, len(batch.CanonicalColumns))
	for i, c := range batch.CanonicalColumns {
		head[i] = c
	}
	if err := sw.SetRow("A1", head); err != nil {
		return err
	}
	for n, r := range rows {
		vals := make([]any, len(batch.CanonicalColumns))
		for i, c := range batch.CanonicalColumns {
			vals[i] = r.Get(c) // text cells: leading zeros survive
		}
		cell, _ := excelize.CoordinatesToCellName(1, n+2)
		if err := sw.SetRow(cell, vals); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.WriteTo(fh); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func joinLines(lines []string) string { return strings.Join(lines, "\n  ") }

package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
)

func cmdIngest() command {
	c := command{Name: "ingest", Summary: "validate a payout file and record it in the journal as a batch (once, however often)",
		Usage: "ingest [--sheet NAME] FILE"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		sheet := fs.String("sheet", "", "XLSX sheet to read (default: the configured one, else the first)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usagef("expected exactly one FILE")
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		if *sheet != "" {
			cfg.Input.Sheet = *sheet
		}
		j, err := openJournal(cfg)
		if err != nil {
			return err
		}
		defer j.Close()
		res, err := j.Ingest(ctx, fs.Arg(0), ingestOptions(cfg, enabledProviders(cfg)))
		if err != nil {
			return err
		}
		return printIngest(e.stdout, res)
	}
	return c
}

// printIngest tells the operator what became of a file.
func printIngest(w io.Writer, res *journal.IngestResult) error {
	switch {
	case res.Rejected:
		printRowErrors(w, res.Report)
		return &invalidInputError{fmt.Sprintf("%s rejected: %d error(s) in %d row(s); nothing was recorded",
			res.Report.File, len(res.Report.Errors), res.Report.Rows-res.Report.ValidRows)}
	case res.Recognised:
		fmt.Fprintf(w, "%s is batch %s, recorded %s: the same content was ingested before; nothing changed.\n",
			res.Batch.File, res.Batch.ID, res.Batch.Created.Format("2006-01-02 15:04 MST"))
		return nil
	}
	b := res.Batch
	fmt.Fprintf(w, "Batch %s from %s: %d rows, %d accepted, %d invalid (skipped), %d duplicate (never sent).\n",
		b.ID, b.File, b.Rows, b.Valid, b.Invalid, b.Duplicates)
	printTotals(w, b.Totals)
	if res.Report != nil && len(res.Report.Errors) > 0 {
		printRowErrors(w, res.Report)
	}
	return nil
}

func printTotals(w io.Writer, totals []journal.Total) {
	if len(totals) == 0 {
		return
	}
	fmt.Fprintf(w, "  %-12s %-8s %8s %20s\n", "provider", "currency", "count", "amount")
	for _, t := range totals {
		cur, _ := money.Lookup(t.Currency)
		fmt.Fprintf(w, "  %-12s %-8s %8d %20s\n", t.Provider, t.Currency, t.Count, money.FormatMinor(t.Amount, cur.Exponent))
	}
}

// printRowErrors prints every row error as a table an operator can read.
func printRowErrors(w io.Writer, rep *batch.Report) {
	if rep == nil {
		return
	}
	fmt.Fprintf(w, "%s: %d row(s), %d valid, %d error(s)\n", rep.File, rep.Rows, rep.ValidRows, len(rep.Errors))
	if len(rep.Errors) == 0 {
		return
	}
	fmt.Fprintf(w, "  %6s  %-22s  %-24s  %s\n", "row", "column", "value", "reason")
	for _, re := range rep.Errors {
		v := re.Value
		if len(v) > 24 {
			v = v[:21] + "..."
		}
		fmt.Fprintf(w, "  %6d  %-22s  %-24s  %s\n", re.Row, re.Column, strings.ReplaceAll(v, "\n", " "), re.Reason)
	}
}

package main

import (
	"context"
	"fmt"
	"io"

	flag "github.com/spf13/pflag"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reports"
)

func cmdIngest() command {
	c := command{Name: "ingest", Summary: "validate a payout file, record it in the journal as a batch (once, however often) and run its pre-flight",
		Usage: "ingest [--sheet NAME] [--config FILE] FILE"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		cfg, err := fileCommand(e, fs, args)
		if err != nil {
			return err
		}
		j, err := app.OpenJournal(ctx, cfg)
		if err != nil {
			return err
		}
		defer j.Close()
		res, err := j.Ingest(ctx, fs.Arg(0), app.IngestOptions(cfg, app.EnabledProviders(cfg)))
		if err != nil {
			return err
		}
		if !res.Rejected {
			if err := app.RecordDropper(ctx, j, res.Batch.ID, app.CurrentUser()); err != nil {
				return err
			}
		}
		if err := printIngest(e.stdout, res); err != nil {
			return err
		}
		// The pre-flight, as the daemon's intake runs it: the message
		// before money moves, and the hold above the thresholds, so that
		// a batch is approved (or not) before whatever sends it.
		a := &app.App{Config: cfg, Journal: j, Log: newLogger(cfg, e.stderr)}
		_, err = gate(ctx, e.stdout, a, res.Batch.ID)
		return err
	}
	return c
}

// printIngest tells the operator what became of a file.
func printIngest(w io.Writer, res *journal.IngestResult) error {
	switch {
	case res.Rejected:
		reports.WriteRowErrors(w, res.Report)
		return &invalidInputError{fmt.Sprintf("%s rejected: %s in %s; nothing was recorded",
			res.Report.File, plural(len(res.Report.Errors), "error"), plural(res.Report.Rows-res.Report.ValidRows, "row"))}
	case res.Recognised:
		fmt.Fprintf(w, "%s is batch %s, recorded %s: the same content was ingested before; nothing changed.\n",
			res.Batch.File, res.Batch.ID, res.Batch.Created.Format("2006-01-02 15:04 MST"))
		return nil
	}
	b := res.Batch
	fmt.Fprintf(w, "Batch %s from %s: %s, %d accepted, %d invalid (skipped), %d duplicate (never sent).\n",
		b.ID, b.File, plural(b.Rows, "row"), b.Valid, b.Invalid, b.Duplicates)
	printTotals(w, b.Totals)
	if res.Report != nil && len(res.Report.Errors) > 0 {
		reports.WriteRowErrors(w, res.Report)
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

// fileCommand parses the flags of a command about one payout file (with
// --sheet) and loads the configuration, the sheet given applied.
func fileCommand(e *env, fs *flag.FlagSet, args []string) (*config.Config, error) {
	sheet := fs.String("sheet", "", "the XLSX sheet `NAME` to read (default: input.sheet, else the first sheet)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, usagef("expected exactly one FILE")
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, err
	}
	if *sheet != "" {
		cfg.Input.Sheet = *sheet
	}
	return cfg, nil
}

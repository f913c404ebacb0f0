package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/pan"
)

func cmdValidate() command {
	c := command{
		Name:    "validate",
		Summary: "check a payout file (CSV or XLSX) and list every problem, row by row",
		Usage:   "validate [--json] [--sheet NAME] [--config FILE] FILE",
	}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		asJSON := fs.Bool("json", false, "print one JSON object instead of a table")
		sheet := fs.String("sheet", "", "the XLSX sheet `NAME` to read (default: input.sheet, else the first sheet)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usagef("expected one FILE, got %s", plural(fs.NArg(), "argument"))
		}
		path := fs.Arg(0)
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		ro := batch.ReadOptions{Aliases: cfg.Input.Aliases, Sheet: cfg.Input.Sheet,
			MaxBytes: cfg.Input.MaxBytes, MaxRows: cfg.Input.MaxRows}
		if *sheet != "" {
			ro.Sheet = *sheet
		}
		rep, err := batch.ValidateFile(path, ro, batch.ValidateOptions{Providers: app.EnabledProviders(cfg)})
		if err != nil {
			if !errors.Is(err, batch.ErrInput) {
				return err
			}
			// The file as a whole is refused: still one answer, in the
			// format asked for.
			rep = &batch.Report{File: path, Errors: []batch.RowError{{File: path, Reason: err.Error()}}}
		}
		if *asJSON {
			// The file's name as the reader shows it: a card number in it
			// masked.
			if err := printValidateJSON(e, pan.MaskText(path), rep); err != nil {
				return err
			}
		} else {
			printValidateTable(e, rep)
		}
		if len(rep.Errors) > 0 {
			return &invalidInputError{fmt.Sprintf("%s: %s; %d of %s valid",
				rep.File, plural(len(rep.Errors)+rep.Omitted, "error"), rep.ValidRows, plural(rep.Rows, "row"))}
		}
		return nil
	}
	return c
}

// validateJSON is the --json answer, one object for the whole file.
type validateJSON struct {
	File      string         `json:"file"`
	Sheet     string         `json:"sheet,omitempty"`
	Rows      int            `json:"rows"`
	ValidRows int            `json:"valid_rows"`
	Errors    []rowErrorJSON `json:"errors"`
	Omitted   int            `json:"errors_omitted,omitempty"`
}

type rowErrorJSON struct {
	Row    int    `json:"row"`
	Column string `json:"column"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

func printValidateJSON(e *env, path string, rep *batch.Report) error {
	out := validateJSON{File: path, Sheet: rep.Source.Sheet, Rows: rep.Rows, ValidRows: rep.ValidRows,
		Errors: make([]rowErrorJSON, 0, len(rep.Errors)), Omitted: rep.Omitted}
	for _, re := range rep.Errors {
		out.Errors = append(out.Errors, rowErrorJSON{Row: re.Row, Column: re.Column, Value: re.Value, Reason: re.Reason})
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func printValidateTable(e *env, rep *batch.Report) {
	src := rep.Source
	what := src.Kind
	switch src.Kind {
	case batch.KindCSV:
		what = fmt.Sprintf("CSV, %s, %q-separated", src.Encoding, string(src.Delimiter))
		if src.Delimiter == '\t' {
			what = fmt.Sprintf("CSV, %s, tab-separated", src.Encoding)
		}
	case batch.KindXLSX:
		what = fmt.Sprintf("XLSX, sheet %q", src.Sheet)
	}
	name := rep.File
	if what != "" {
		name += " (" + what + ")"
	}
	if len(rep.Errors) == 0 {
		fmt.Fprintf(e.stdout, "%s: %s, all valid\n", name, plural(rep.Rows, "row"))
		return
	}
	fmt.Fprintf(e.stdout, "%s: %s, %d valid, %s\n\n", name, plural(rep.Rows, "row"), rep.ValidRows, plural(len(rep.Errors)+rep.Omitted, "error"))
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tCOLUMN\tVALUE\tREASON")
	for _, re := range rep.Errors {
		row := "-"
		if re.Row > 0 {
			row = fmt.Sprint(re.Row)
		}
		col, val := re.Column, ""
		if col == "" {
			col = "-"
		} else {
			val = fmt.Sprintf("%q", shorten(re.Value, 32))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row, col, val, re.Reason)
	}
	tw.Flush()
	if rep.Omitted > 0 {
		fmt.Fprintf(e.stdout, "... and %d more not shown\n", rep.Omitted)
	}
}

// shorten keeps a long value readable in a table.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

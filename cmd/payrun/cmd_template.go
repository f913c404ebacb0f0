package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/payrun/payrun/batch"
)

func cmdTemplate() command {
	c := command{
		Name:    "template",
		Summary: "write a payout file with the canonical columns and example rows that pass validation",
		Usage:   "template [--xlsx] [--force] FILE   (FILE - writes CSV to standard output)",
	}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		flags := newFlags(&c, e)
		xlsx := flags.Bool("xlsx", false, "write an XLSX workbook (implied by a .xlsx file name)")
		force := flags.Bool("force", false, "overwrite FILE if it exists")
		if err := parseFlags(flags, args); err != nil {
			return err
		}
		if flags.NArg() != 1 {
			return usagef("expected one FILE, got %s", plural(flags.NArg(), "argument"))
		}
		path := flags.Arg(0)
		if strings.EqualFold(filepath.Ext(path), ".xlsx") {
			*xlsx = true
		}
		if path == "-" {
			if *xlsx {
				return usagef("an XLSX template needs a FILE, not standard output")
			}
			return batch.WriteTemplate(e.stdout, false)
		}
		mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if *force {
			mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(path, mode, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return usagef("%s already exists (use --force to overwrite it)", path)
		}
		if err != nil {
			return err
		}
		if err := batch.WriteTemplate(f, *xlsx); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", path)
		return nil
	}
	return c
}

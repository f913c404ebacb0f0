package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

func cmdReportNow() command {
	c := command{Name: "report-now", Summary: "write and email the daemon's morning report now (a day's batches and everything still open)",
		Usage: "report-now [--date YYYY-MM-DD]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		date := fs.String("date", "", "the `DAY` whose batches it covers (YYYY-MM-DD, in the configured time zone; default: yesterday, as the morning report)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("unexpected arguments: %v", fs.Args())
		}
		if *date != "" {
			if _, err := time.Parse("2006-01-02", *date); err != nil {
				return usagef("--date %q: want YYYY-MM-DD", *date)
			}
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		return viaDaemon(ctx, cfg, func(ctl *daemon.Control) error {
			res, err := ctl.Report(ctx, *date)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, res.Message)
			if f := res.Report; f != nil {
				printPaths(e.stdout, reports.Files{Workbook: f.Workbook, SummaryCSV: f.SummaryCSV, DetailsCSV: f.DetailsCSV,
					Annotated: f.Annotated, EML: f.EML})
			}
			return nil
		}, func(j journal.Journal) error {
			day := *date
			if day == "" {
				day = j.Now().In(cfg.Location()).AddDate(0, 0, -1).Format("2006-01-02")
			}
			if err := warnQueued(e.stderr, j, "this report"); err != nil {
				return err
			}
			files, err := app.Report(ctx, cfg, j, reconcile.Scope{Date: day, Open: true}, cfg.Abs(cfg.Dirs.Reports), true, e.stdout)
			if err != nil {
				return err
			}
			printPaths(e.stdout, files)
			return nil
		})
	}
	return c
}

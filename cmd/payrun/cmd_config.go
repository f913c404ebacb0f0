package main

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/internal/app"
)

func cmdConfig() command {
	c := command{Name: "config", Summary: "check a configuration file as start-up does, and list every problem (config check)",
		Usage: "config check [--connect] [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		connect := fs.Bool("connect", false, "also connect to the SMTP server (reports.smtp) and log in, as sending a report does")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 || fs.Arg(0) != "check" {
			return usagef("expected 'config check'")
		}
		if e.configPath == "" {
			return usagef("config check needs --config FILE (or $PAYRUN_CONFIG)")
		}
		// The same check as the start of 'payrun serve': the values, the
		// secrets they refer to, the providers built, the folders.
		cfg, chk, err := app.LoadChecked(ctx, e.configPath, app.CheckOptions{Connect: *connect})
		for _, n := range chk.Notes {
			fmt.Fprintf(e.stdout, "note: %s\n", n)
		}
		if err != nil {
			return err
		}
		smtp := "no SMTP server: emails go to " + cfg.Abs(cfg.Dirs.Outbox)
		if cfg.Reports.SMTP.Host != "" {
			smtp = "SMTP " + cfg.Reports.SMTP.Host
			if *connect {
				smtp += " reached"
			} else {
				smtp += " not contacted (--connect does)"
			}
		}
		fmt.Fprintf(e.stdout, "%s: ok (%s enabled, journal %s, time zone %s, %s)\n",
			e.configPath, plural(chk.Providers, "provider"), app.JournalName(cfg), cfg.TimeZone, smtp)
		return nil
	}
	return c
}

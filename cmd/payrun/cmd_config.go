package main

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
)

func cmdConfig() command {
	c := command{Name: "config", Summary: "check a configuration file and list every problem (config check)",
		Usage: "config check"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 || fs.Arg(0) != "check" {
			return usagef("expected 'config check'")
		}
		if e.configPath == "" {
			return usagef("config check needs --config FILE (or $PAYRUN_CONFIG)")
		}
		cfg, err := config.Load(e.configPath)
		if err != nil {
			return err
		}
		// Build every enabled provider: this resolves every secret reference
		// and parses every key, so a missing file or variable shows now.
		provs, err := app.BuildProviders(cfg, "")
		if err != nil {
			return err
		}
		if _, err := app.SMTPConfig(cfg); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok (%d provider(s) enabled, journal %s, time zone %s)\n",
			e.configPath, len(provs), cfg.Abs(cfg.Journal), cfg.TimeZone)
		return nil
	}
	return c
}

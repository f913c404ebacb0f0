package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
)

func cmdServe() command {
	c := command{Name: "serve", Summary: "run the daemon: folder intake, cron schedules, webhooks, metrics and the status page",
		Usage: "serve [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("serve takes no arguments")
		}
		// The check 'payrun config check' runs, with its messages, before
		// anything is opened.
		cfg, _, err := app.LoadChecked(ctx, e.configPath, app.CheckOptions{})
		if err != nil {
			return err
		}
		j, err := app.OpenJournalAs(ctx, cfg, "serve")
		if err != nil {
			return err
		}
		defer j.Close()
		return serveDaemon(ctx, e, cfg, j)
	}
	return c
}

// serveDaemon runs the daemon until ctx is done (SIGINT/SIGTERM), then
// stops it: no new work, requests in flight finish.
func serveDaemon(ctx context.Context, e *env, cfg *config.Config, j journal.Journal) error {
	a, err := app.New(cfg, j, daemon.AggregateWarnings(newLogger(cfg, e.stderr), time.Minute))
	if err != nil {
		return err
	}
	d, err := daemon.New(a)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "payrun serving on http://%s (status page /, metrics /metrics); inbox %s\n", d.Addr(), d.Intake.Inbox)
	<-ctx.Done()
	d.Stop()
	return nil
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
)

func cmdSend() command {
	c := command{Name: "send", Summary: "send a batch now instead of at the daemon's cut-off (the configuration is not changed)",
		Usage: "send [--wait D] BATCH"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		wait := fs.Duration("wait", 10*time.Minute, "without a daemon: how long to follow payouts after sending (0: do not wait)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		id, err := batchArg(fs)
		if err != nil {
			return err
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		return viaDaemon(ctx, cfg, func(ctl *daemon.Control) error {
			res, err := ctl.Send(ctx, id)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, res.Message)
			return nil
		}, func(j journal.Journal) error {
			b, err := j.Batch(ctx, id)
			if err != nil {
				return fmt.Errorf("batch %s: %w", id, err)
			}
			if b.State == journal.BatchDone {
				return fmt.Errorf("batch %s is done: every payout is final, nothing is left to send", id)
			}
			a, err := app.New(cfg, j, newLogger(cfg, e.stderr))
			if err != nil {
				return err
			}
			// Held before, or by its pre-flight now (a batch journaled
			// without one): nothing is sent.
			ids, err := admit(ctx, e.stdout, a, []string{id})
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return fmt.Errorf("batch %s is held for approval: nothing was sent", id)
			}
			return processBatches(ctx, e, a, ids, *wait, "")
		})
	}
	return c
}

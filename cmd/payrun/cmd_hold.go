package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
)

func cmdHold() command {
	c := command{Name: "hold", Summary: "hold a batch that has not started sending, until it is approved (payrun approve)",
		Usage: "hold [--reason TEXT] BATCH"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		reason := fs.String("reason", "", "`TEXT` saying why, for the approver and the journal")
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
			res, err := ctl.Hold(ctx, id, *reason)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, res.Message)
			return nil
		}, func(j journal.Journal) error {
			if err := dispatch.Hold(ctx, j, id, app.CurrentUser(), strings.TrimSpace(*reason)); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Batch %s is held: nothing of it is sent until it is approved (%s).\n", id, howToApprove(cfg, id))
			return nil
		})
	}
	return c
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

func cmdReconcile() command {
	c := command{
		Name:    "reconcile",
		Summary: "ask the providers about open payouts, then place every row in a category and tie out the totals",
		Usage:   "reconcile [--batch ID | --date YYYY-MM-DD | --open] [--no-poll] [--json] [--config FILE]",
	}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		batchID := fs.String("batch", "", "reconcile one batch (`ID`)")
		date := fs.String("date", "", "reconcile the batches received that `DAY` (YYYY-MM-DD, in the configured time zone), with the items still open from earlier days")
		open := fs.Bool("open", false, "reconcile every item still open, whatever its batch")
		noPoll := fs.Bool("no-poll", false, "do not ask the providers first; match what the journal knows")
		asJSON := fs.Bool("json", false, "print the full result as JSON (every line, the totals and the tie-out)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("unexpected arguments: %v", fs.Args())
		}
		chosen := 0
		for _, set := range []bool{*batchID != "", *date != "", *open} {
			if set {
				chosen++
			}
		}
		if chosen > 1 {
			return usagef("choose one of --batch, --date and --open")
		}
		scope := reconcile.Scope{BatchID: *batchID, Date: *date, Open: *open || *date != ""}
		cfg, j, err := openConfigured(e)
		if err != nil {
			return err
		}
		log := newLogger(cfg, e.stderr)
		defer j.Close()

		if !*noPoll {
			a, err := app.New(cfg, j, log)
			switch {
			case err == nil:
				// What the providers said and a receiver acknowledged
				// without applying (a daemon stopped with a backlog) counts
				// before anyone is asked.
				n, err := j.Queued(ctx)
				if err != nil {
					return fmt.Errorf("webhook events queued: %w", err)
				}
				if n > 0 {
					if err := reconcile.NewApplier(j, a.Providers, log).Drain(ctx); err != nil {
						return fmt.Errorf("apply queued webhook events: %w", err)
					}
					fmt.Fprintf(e.stderr, "applied %s acknowledged and not applied yet\n", plural(n, "webhook event"))
				}
				st, err := a.Poller(true).RunOnce(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("status poll: %w", err)
				}
				fmt.Fprintf(e.stderr, "asked the providers about %s: %d answered, %d now final, %d not found, %d could not be asked, %d failed\n",
					plural(st.Due, "open payout"), st.Queried, st.Final, st.NotFound, st.Unsupported, st.Errors)
				// Payouts paid at a provider that refunds without a
				// notification, on their own slow schedule.
				rc, err := a.Poller(true).Recheck(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("re-check of paid payouts: %w", err)
				}
				if rc.Due > 0 {
					fmt.Fprintf(e.stderr, "asked again about %s (refunds come without a notification): %d answered, %d found reversed, %d failed\n",
						plural(rc.Due, "paid payout"), rc.Rechecked, rc.Reversed, rc.Errors)
				}
			case len(app.EnabledProviders(cfg)) == 0:
				fmt.Fprintln(e.stderr, "no provider is enabled: matching what the journal knows without asking the providers")
			default:
				return err
			}
		} else if err := warnQueued(e.stderr, j, "this reconciliation (--no-poll applies nothing)"); err != nil {
			return err
		}
		// The printed summary needs the totals only: the lines are kept
		// when --json prints them.
		mo := reconcile.MatchOptions{Location: cfg.Location(), SLA: cfg.Reconcile.SLA}
		var res *reconcile.Result
		if *asJSON {
			res, err = reconcile.Match(ctx, j, scope, j.Now(), mo)
		} else {
			res, err = reconcile.MatchLines(ctx, j, scope, j.Now(), mo, nil)
		}
		if err != nil {
			return err
		}
		if *asJSON {
			// The same masking as every report (reports.mask).
			reports.Mask(res, reports.Options{Unmasked: !cfg.Reports.Mask})
			enc := json.NewEncoder(e.stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
		} else {
			printReconciliation(e.stdout, res)
		}
		if !res.Balanced() {
			return errors.New("the reconciliation does not tie out: a row was lost or counted twice (a bug; please report it)")
		}
		return nil
	}
	return c
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
	"github.com/schollz/progressbar/v3"
)

func cmdProcess() command {
	c := command{Name: "process", Summary: "ingest (or recognise) a payout file, pay it, and follow it until every payout is final or waits on someone else",
		Usage: "process [--dry-run] [--wait DURATION] [--sheet NAME] [--listen ADDR] [--config FILE] FILE"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		dry := fs.Bool("dry-run", false, "print the plan (counts, totals, invalid and duplicate rows, time estimate) and send nothing")
		wait := fs.Duration("wait", 10*time.Minute, "how long to follow payouts after sending (0: do not wait)")
		listen := fs.String("listen", "", "serve the webhook receiver on `ADDR` while processing (e.g. 127.0.0.1:8080)")
		cfg, err := fileCommand(e, fs, args)
		if err != nil {
			return err
		}
		if *dry {
			return dryRun(ctx, e.stdout, cfg, fs.Arg(0))
		}
		// Nothing is journaled for a configuration that cannot pay.
		if err := app.Check(ctx, cfg, app.CheckOptions{}).Err(cfg.Path); err != nil {
			return err
		}
		j, err := app.OpenJournal(ctx, cfg)
		if err != nil {
			return err
		}
		defer j.Close()
		a, err := app.New(cfg, j, newLogger(cfg, e.stderr))
		if err != nil {
			return err
		}
		res, err := j.Ingest(ctx, fs.Arg(0), app.IngestOptions(cfg, app.EnabledProviders(cfg)))
		if err != nil {
			return err
		}
		if err := printIngest(e.stdout, res); err != nil {
			return err
		}
		if err := app.RecordDropper(ctx, j, res.Batch.ID, app.CurrentUser()); err != nil {
			return err
		}
		if held, err := gate(ctx, e.stdout, a, res.Batch.ID); err != nil || held {
			return err
		}
		return processBatches(ctx, e, a, []string{res.Batch.ID}, *wait, *listen)
	}
	return c
}

func cmdResume() command {
	c := command{Name: "resume", Summary: "continue every unfinished batch after a stop or a crash",
		Usage: "resume [--wait DURATION] [--listen ADDR] [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		wait := fs.Duration("wait", 10*time.Minute, "how long to follow payouts after sending (0: do not wait)")
		listen := fs.String("listen", "", "serve the webhook receiver on `ADDR` while processing")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			return usagef("resume takes no arguments")
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		if ctl, err := daemonControl(ctx, cfg); err != nil {
			return err
		} else if ctl != nil {
			// The daemon holds the journal: it resumes.
			res, err := ctl.Resume(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, res.Message)
			return nil
		}
		if err := app.Check(ctx, cfg, app.CheckOptions{}).Err(cfg.Path); err != nil {
			return err
		}
		j, err := app.OpenJournal(ctx, cfg)
		if err != nil {
			return err
		}
		defer j.Close()
		a, err := app.New(cfg, j, newLogger(cfg, e.stderr))
		if err != nil {
			return err
		}
		bs, err := j.ListBatches(ctx)
		if err != nil {
			return err
		}
		var ids []string
		for _, b := range bs {
			if b.State != journal.BatchDone && b.State != journal.BatchHeld {
				ids = append(ids, b.ID)
			}
		}
		if ids, err = admit(ctx, e.stdout, a, ids); err != nil {
			return err
		}
		if len(ids) == 0 {
			fmt.Fprintln(e.stdout, "Nothing to resume: every batch is done or held.")
			return nil
		}
		fmt.Fprintf(e.stdout, "Resuming %s: %s\n", plural(len(ids), "batch"), strings.Join(ids, ", "))
		return processBatches(ctx, e, a, ids, *wait, *listen)
	}
	return c
}

// gate runs the pre-flight of a batch just journaled and, when it holds
// the batch, prints why and how to release it.
func gate(ctx context.Context, w io.Writer, a *app.App, id string) (held bool, err error) {
	g, err := a.Gate(ctx, id)
	if err != nil || !g.Held {
		return false, err
	}
	fmt.Fprintln(w, heldLine(a.Config, id, g.Reason))
	return true, nil
}

// heldLine is what a command prints of a batch held for approval: why,
// and how to release it.
func heldLine(cfg *config.Config, id, reason string) string {
	return fmt.Sprintf("Batch %s is HELD for approval: %s. %s", id, strings.TrimSuffix(reason, "."), (&app.App{Config: cfg}).ToSend(id))
}

// admit runs the pre-flight of the batches about to be sent (app.Admit: a
// batch journaled without it, by an older payrun or by a run stopped
// before it, gets it now) and returns those that may be sent, printing
// how each one held is released.
func admit(ctx context.Context, w io.Writer, a *app.App, ids []string) ([]string, error) {
	send, held, err := a.Admit(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if g, ok := held[id]; ok {
			fmt.Fprintln(w, heldLine(a.Config, id, g.Reason))
		}
	}
	return send, nil
}

// processBatches dispatches the batches, then follows their payouts, with
// the webhook receiver served on listen ("" serves none). The batches
// have passed the pre-flight (Gate or admit).
func processBatches(ctx context.Context, e *env, a *app.App, ids []string, wait time.Duration, listen string) error {
	var recv *reconcile.Receiver
	if listen != "" {
		recv = a.Receiver(nil)
		srv := &daemon.HTTPServer{Addr: listen, Handler: recv.Handler(), Log: a.Log}
		if err := recv.Start(ctx); err != nil {
			return err
		}
		defer recv.Stop()
		if err := srv.Start(ctx); err != nil {
			return fmt.Errorf("webhook receiver: %w", err)
		}
		defer srv.Stop()
	}
	progress := progressReporter(e.stderr, a.Log)
	sum, err := a.Dispatcher.Run(ctx, ids, progress)
	progress(dispatch.Progress{Total: -1})
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.stdout, "Stopped: %d sent, %d left queued, %d in doubt. Run 'payrun resume' to continue; nothing will be paid twice.\n",
			sum.Sent, sum.Left, sum.InDoubt)
		return nil
	}
	if err != nil {
		return err
	}
	if sum.Held > 0 {
		fmt.Fprintf(e.stdout, "WARNING: %s HELD by caps and not sent:\n", plural(sum.Held, "payout"))
		for _, why := range sum.HeldWhy {
			fmt.Fprintf(e.stdout, "  - %s\n", why)
		}
	}
	if wait > 0 {
		if _, err := a.Follow(ctx, ids, wait); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	// What the receiver acknowledged counts in the states printed.
	if recv != nil {
		if err := recv.Drain(ctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("webhook events left queued in the journal; the next run applies them", "err", err)
		}
	}
	return printBatchStates(ctx, e.stdout, a.Journal, ids)
}

// printBatchStates prints, per batch, how many items are in each state.
func printBatchStates(ctx context.Context, w io.Writer, j journal.Journal, ids []string) error {
	for _, id := range ids {
		if err := journal.RefreshBatch(ctx, j, id); err != nil {
			return err
		}
		b, err := j.Batch(ctx, id)
		if err != nil {
			return err
		}
		counts := map[journal.State]int{}
		// Paid out, and collected: a payment link's money comes in.
		sums := map[string]map[string]int64{"paid": {}, "collected": {}}
		if err := j.BatchItems(ctx, id, func(it journal.Item) bool {
			counts[it.State]++
			if it.State == journal.Succeeded {
				way := "paid"
				if it.Payout.Method == providers.PaymentLink {
					way = "collected"
				}
				sums[way][it.Payout.Amount.Currency] += it.Payout.Amount.Minor
			}
			return true
		}); err != nil {
			return err
		}
		fmt.Fprintf(w, "Batch %s (%s): %s\n", b.ID, b.File, b.State)
		for _, s := range journal.States {
			if counts[s] > 0 {
				fmt.Fprintf(w, "  %-22s %d\n", s, counts[s])
			}
		}
		for _, way := range []string{"paid", "collected"} {
			curs := make([]string, 0, len(sums[way]))
			for c := range sums[way] {
				curs = append(curs, c)
			}
			sort.Strings(curs)
			for _, c := range curs {
				fmt.Fprintf(w, "  %s %s\n", way, money.Money{Minor: sums[way][c], Currency: c})
			}
		}
	}
	return nil
}

// progressReporter returns a progress callback: a bar with rate and ETA on a
// terminal, a log line every few seconds otherwise. Total -1 ends it.
func progressReporter(w io.Writer, log *slog.Logger) func(dispatch.Progress) {
	var bar *progressbar.ProgressBar
	var last time.Time
	return func(p dispatch.Progress) {
		if p.Total < 0 {
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(w)
			}
			return
		}
		if isTerminal(w) {
			if bar == nil {
				bar = progressbar.NewOptions(p.Total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("paying"),
					progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("payouts"),
					progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
			}
			_ = bar.Set(p.Done)
			return
		}
		if time.Since(last) >= 5*time.Second || p.Done == p.Total {
			last = time.Now()
			log.Info("dispatch progress", "done", p.Done, "total", p.Total, "submissions", p.Sent)
		}
	}
}

// dryRun prints the plan of a file. The journal is read when there is
// one, to recognise a file recorded before; none is created.
func dryRun(ctx context.Context, w io.Writer, cfg *config.Config, path string) error {
	if f := app.JournalFile(cfg); f != "" {
		if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
			return planFile(ctx, w, cfg, nil, path)
		}
	}
	j, err := app.OpenJournal(ctx, cfg)
	if err != nil {
		return err
	}
	defer j.Close()
	return planFile(ctx, w, cfg, j, path)
}

// planFile prints what processing the file would do, without sending or
// recording anything; j is nil when there is no journal yet.
func planFile(ctx context.Context, w io.Writer, cfg *config.Config, j journal.Journal, path string) error {
	o := app.IngestOptions(cfg, app.EnabledProviders(cfg))
	sha, _, err := journal.FileSHA256(path)
	if err != nil {
		return err
	}
	var items journal.Items = emptyJournal{}
	if j != nil {
		items = j
		if b, found, err := j.BatchBySHA(ctx, sha); err != nil {
			return err
		} else if found {
			fmt.Fprintf(w, "This file is batch %s (%s), already recorded on %s; processing it resumes that batch.\n",
				b.ID, b.State, b.Created.Format("2006-01-02"))
		}
	}
	// The plan reads and checks the rows as ingest does (journal.Plan runs
	// it without writing): its totals are what processing takes, and a
	// line that cannot be read is a row error, not the end of the plan.
	plan, err := journal.Plan(ctx, items, path, o)
	if err != nil {
		return err
	}
	rep := plan.Report
	fmt.Fprintf(w, "Plan for %s (dry run: nothing is recorded or sent)\n", rep.File)
	fmt.Fprintf(w, "  %s: %d valid, %d invalid, %d already journaled (duplicates, never sent)\n",
		plural(rep.Rows, "row"), rep.Rows-plan.Invalid-plan.Duplicates, plan.Invalid, plan.Duplicates)
	printTotals(w, plan.Totals)
	var worst time.Duration
	for prov, n := range plan.Counts {
		pc := cfg.Providers[prov]
		if pc.RatePerSecond > 0 {
			d := time.Duration(float64(n) / pc.RatePerSecond * float64(time.Second))
			fmt.Fprintf(w, "  %s: %s at %.0f/s: about %s\n", prov, plural(n, "payout"), pc.RatePerSecond, durationText(d.Round(time.Second)))
			worst = max(worst, d)
		} else {
			fmt.Fprintf(w, "  %s: %s, no rate limit configured\n", prov, plural(n, "payout"))
		}
	}
	fmt.Fprintf(w, "  estimated sending time: %s (providers run in parallel)\n", durationText(worst.Round(time.Second)))
	if len(rep.Errors) > 0 {
		reports.WriteRowErrors(w, rep)
		if cfg.Input.OnInvalid != "skip_rows" {
			fmt.Fprintln(w, "  this file would be REJECTED (input.on_invalid: reject_file)")
		}
	}
	return nil
}

// emptyJournal is the journal that does not exist yet, as a dry run reads
// it: no payout_id is known.
type emptyJournal struct{ journal.Items }

func (emptyJournal) Owners(context.Context, []string) (map[string]journal.Owner, error) {
	return map[string]journal.Owner{}, nil
}

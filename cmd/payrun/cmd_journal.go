package main

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/drivers"
)

func cmdJournal() command {
	c := command{Name: "journal", Summary: "check the journal's integrity, or copy it into another store",
		Usage: "journal check | journal copy --from LOCATION --to LOCATION"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		from := fs.String("from", "", "copy: the journal `LOCATION` to copy (a file, or a postgres:// URL or env:NAME)")
		to := fs.String("to", "", "copy: the empty journal `LOCATION` to copy into")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() < 1 {
			return usagef("expected 'journal check' or 'journal copy'")
		}
		switch fs.Arg(0) {
		case "check":
			return journalCheck(ctx, e)
		case "copy":
			if *from == "" || *to == "" {
				return usagef("journal copy needs --from and --to")
			}
			return journalCopy(ctx, e, *from, *to)
		}
		return usagef("unknown journal command %q (check, copy)", fs.Arg(0))
	}
	return c
}

// journalCheck opens the configured journal, which checks it, and checks
// it again through the driver, printing what it holds.
func journalCheck(ctx context.Context, e *env) error {
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	j, err := app.OpenJournal(ctx, cfg)
	if err != nil {
		return err
	}
	defer j.Close()
	if err := j.Check(ctx); err != nil {
		return err
	}
	inf, err := j.Info(ctx)
	if err != nil {
		return err
	}
	bs, err := j.ListBatches(ctx)
	if err != nil {
		return err
	}
	items := 0
	if err := j.AllItems(ctx, func(journal.Item) bool { items++; return true }); err != nil {
		return err
	}
	q, err := j.Queued(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s journal %s: ok (%s, %s, %s, %s waiting)\n",
		inf.Driver, inf.Location, plural(int(inf.Bytes), "byte"), plural(len(bs), "batch"), plural(items, "payout"), plural(q, "webhook event"))
	return nil
}

// journalCopy copies a journal whole into an empty one (moving a team from
// the embedded file to PostgreSQL), verified by counts and totals per
// batch. Neither journal may be in use by a daemon.
func journalCopy(ctx context.Context, e *env, from, to string) error {
	src, err := drivers.Open(ctx, from, drivers.Options{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, err := drivers.Open(ctx, to, drivers.Options{})
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()
	rep, err := journal.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "copied %s to %s and checked it: %d batches, %d payouts, %d rejected rows, %d transitions, %d events (%d waiting to be applied), %d messages, %d marks\n",
		journal.Redact(from), journal.Redact(to), rep.Batches, rep.Items, rep.Rejected, rep.Transitions, rep.Events, rep.Queued, rep.Mail, rep.Marks)
	return nil
}

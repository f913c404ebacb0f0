package main

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/journal"
)

func cmdJournal() command {
	c := command{Name: "journal", Summary: "check the journal's integrity (journal check)",
		Usage: "journal check [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() < 1 {
			return usagef("expected 'journal check'")
		}
		switch fs.Arg(0) {
		case "check":
			return journalCheck(ctx, e)
		}
		return usagef("unknown journal command %q (check)", fs.Arg(0))
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

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	flag "github.com/spf13/pflag"
)

func cmdStatus() command {
	c := command{Name: "status", Summary: "show the batches, their progress per provider, when each is sent, and their open items",
		Usage: "status [--batch ID] [--json] [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		id := fs.String("batch", "", "one batch (`ID`), with its open items")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		// Ask the running daemon first: it holds the journal.
		return viaDaemon(ctx, cfg, func(ctl *daemon.Control) error {
			return statusFromDaemon(ctx, e.stdout, ctl, *id, *asJSON, cfg.Location())
		}, func(j journal.Journal) error {
			return statusFromJournal(ctx, e, cfg, j, *id, *asJSON)
		})
	}
	return c
}

// statusFromJournal prints the status read from the journal itself.
func statusFromJournal(ctx context.Context, e *env, cfg *config.Config, j journal.Journal, id string, asJSON bool) error {
	src := daemon.JournalStatus{J: j, FullURLs: true, Release: func(id string) string { return howToApprove(cfg, id) }}
	var batches []daemon.BatchStatus
	var open []daemon.OpenItem
	if id == "" {
		var err error
		if batches, err = src.Batches(ctx, 50); err != nil {
			return err
		}
	} else {
		b, err := src.Batch(ctx, id)
		if err != nil {
			return err
		}
		batches = []daemon.BatchStatus{b}
		src.Link = app.StatusLinks(cfg, e.stderr)
		if open, err = src.OpenItems(ctx, id, 200); err != nil {
			return err
		}
	}
	cl, err := journalCluster(ctx, j)
	if err != nil {
		return err
	}
	return printStatus(e.stdout, batches, open, cl, asJSON, cfg.Location())
}

// daemonControl connects to the daemon holding cfg's journal; nil (and no
// error) when none answers, and the command works on the journal itself.
func daemonControl(ctx context.Context, cfg *config.Config) (*daemon.Control, error) {
	ctl, err := daemon.DialControl(ctx, daemon.SocketPath(cfg))
	if errors.Is(err, daemon.ErrNoDaemon) {
		return nil, nil
	}
	return ctl, err
}

// viaDaemon runs remote through the daemon holding cfg's journal, or local
// on the journal itself when no daemon answers.
func viaDaemon(ctx context.Context, cfg *config.Config, remote func(*daemon.Control) error, local func(journal.Journal) error) error {
	ctl, err := daemonControl(ctx, cfg)
	if err != nil {
		return err
	}
	if ctl != nil {
		return remote(ctl)
	}
	j, err := openDirect(ctx, cfg)
	if err != nil {
		return err
	}
	defer j.Close()
	return local(j)
}

// batchArg is the one BATCH id a command takes.
func batchArg(fs *flag.FlagSet) (string, error) {
	if fs.NArg() != 1 {
		return "", usagef("expected exactly one BATCH id")
	}
	return fs.Arg(0), nil
}

// openDirect opens the journal for a command that no daemon answered.
func openDirect(ctx context.Context, cfg *config.Config) (journal.Journal, error) {
	j, err := app.OpenJournal(ctx, cfg)
	if errors.Is(err, journal.ErrInUse) {
		where := daemon.SocketPath(cfg)
		if where == "" {
			where = "(none: the journal's path is too long for a socket; move the journal to a shorter path)"
		}
		return nil, fmt.Errorf("%w, and no daemon answers on its control socket %s", err, where)
	}
	return j, err
}

// howToApprove is app.HowToApprove without an App (no provider needed).
func howToApprove(cfg *config.Config, id string) string {
	return (&app.App{Config: cfg}).HowToApprove(id)
}

// statusFromDaemon prints the status from a running daemon, its times in
// the configured zone, as when read from the journal.
func statusFromDaemon(ctx context.Context, w io.Writer, ctl *daemon.Control, id string, asJSON bool, loc *time.Location) error {
	if id != "" {
		d, err := ctl.Batch(ctx, id)
		if err != nil {
			return fmt.Errorf("batch %s: %w", id, err)
		}
		return printStatus(w, []daemon.BatchStatus{d.Batch}, d.OpenItems, nil, asJSON, loc)
	}
	bs, err := ctl.Batches(ctx, 0)
	if err != nil {
		return err
	}
	return printStatus(w, bs, nil, nil, asJSON, loc)
}

func printStatus(w io.Writer, batches []daemon.BatchStatus, open []daemon.OpenItem, cl *daemon.ClusterStatus, asJSON bool, loc *time.Location) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Batches   []daemon.BatchStatus  `json:"batches"`
			OpenItems []daemon.OpenItem     `json:"open_items,omitempty"`
			Cluster   *daemon.ClusterStatus `json:"cluster,omitempty"`
		}{batches, open, cl})
	}
	printCluster(w, cl)
	if len(batches) == 0 {
		fmt.Fprintln(w, "No batches yet.")
		return nil
	}
	if loc == nil {
		loc = time.Local
	}
	for _, b := range batches {
		fmt.Fprintf(w, "%s  %-12s %s  rows %d (valid %d, invalid %d, duplicate %d)  final %d/%d\n",
			b.ID, b.State, b.File, b.Rows, b.Valid, b.Invalid, b.Duplicates, b.Final, b.Items)
		switch {
		case b.Release != "":
			fmt.Fprintf(w, "    HELD: %s\n    release: %s\n", b.Note, b.Release)
		case b.Send != "":
			when := b.Send
			if !b.SendAt.IsZero() {
				when += ", " + b.SendAt.In(loc).Format("2006-01-02 15:04 MST")
			}
			fmt.Fprintf(w, "    to be sent %s ('payrun send %s' sends it now)\n", when, b.ID)
		}
		if b.DroppedBy != "" {
			fmt.Fprintf(w, "    dropped by %s\n", b.DroppedBy)
		}
		if !b.Approved.IsZero() {
			fmt.Fprintf(w, "    approved by %s at %s (%s)\n", b.ApprovedBy, b.Approved.In(loc).Format("2006-01-02 15:04 MST"), b.ApprovedVia)
		}
		for _, p := range b.Providers {
			fmt.Fprintf(w, "    %-12s %3d%%  %d/%d final", p.Provider, p.Percent(), p.Final, p.Total)
			for _, a := range p.Amounts {
				fmt.Fprintf(w, "  paid %s of %s %s", a.Paid, a.Total, a.Currency)
			}
			fmt.Fprintln(w)
		}
	}
	if len(open) > 0 {
		fmt.Fprintf(w, "Open items:\n")
		for _, it := range open {
			fmt.Fprintf(w, "    row %-6d %-20s %-12s %-22s %s %s  %s\n", it.Row, it.PayoutID, it.Provider, it.State, it.Amount, it.Currency, it.Reason)
			if it.URL != "" {
				fmt.Fprintf(w, "        waiting for the beneficiary at %s\n", it.URL)
			}
		}
	}
	return nil
}

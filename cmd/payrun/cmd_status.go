package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
)

func cmdStatus() command {
	c := command{Name: "status", Summary: "show the batches, their progress per provider and their open items",
		Usage: "status [--batch ID] [--json]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		id := fs.String("batch", "", "one batch, with its open items")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		cfg, err := loadConfig(e)
		if err != nil {
			return err
		}
		// Ask the running daemon first: it holds the journal.
		if ok, err := statusFromDaemon(ctx, e.stdout, "http://"+cfg.Serve.Listen, *id, *asJSON); ok || err != nil {
			return err
		}
		j, err := app.OpenJournal(ctx, cfg)
		if errors.Is(err, journal.ErrInUse) {
			return fmt.Errorf("%w; and no daemon answers on %s (serve.listen)", err, cfg.Serve.Listen)
		}
		if err != nil {
			return err
		}
		defer j.Close()
		src := daemon.JournalStatus{J: j}
		var batches []daemon.BatchStatus
		if *id != "" {
			b, err := src.Batch(ctx, *id)
			if err != nil {
				return err
			}
			batches = []daemon.BatchStatus{b}
		} else if batches, err = src.Batches(ctx, 50); err != nil {
			return err
		}
		var open []daemon.OpenItem
		if *id != "" {
			if open, err = src.OpenItems(ctx, *id, 200); err != nil {
				return err
			}
		}
		cl, err := journalCluster(ctx, j)
		if err != nil {
			return err
		}
		return printStatus(e.stdout, batches, open, cl, *asJSON)
	}
	return c
}

// statusFromDaemon prints the status from a running daemon's API; ok is
// false when no daemon answers.
func statusFromDaemon(ctx context.Context, w io.Writer, base, id string, asJSON bool) (bool, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	url := base + "/api/batches"
	if id != "" {
		url += "/" + id
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, nil
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound && id != "" {
		return true, fmt.Errorf("batch %s: %w", id, journal.ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return false, nil
	}
	if id != "" {
		var d daemon.BatchDetail
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
			return true, err
		}
		return true, printStatus(w, []daemon.BatchStatus{d.Batch}, d.OpenItems, daemonCluster(ctx, client, base), asJSON)
	}
	var l daemon.BatchList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return true, err
	}
	return true, printStatus(w, l.Batches, nil, daemonCluster(ctx, client, base), asJSON)
}

func printStatus(w io.Writer, batches []daemon.BatchStatus, open []daemon.OpenItem, cl *daemon.ClusterStatus, asJSON bool) error {
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
	for _, b := range batches {
		fmt.Fprintf(w, "%s  %-12s %s  rows %d (valid %d, invalid %d, duplicate %d)  final %d/%d\n",
			b.ID, b.State, b.File, b.Rows, b.Valid, b.Invalid, b.Duplicates, b.Final, b.Items)
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
		}
	}
	return nil
}

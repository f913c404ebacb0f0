package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	"golang.org/x/term"
)

func cmdApprove() command {
	return approveCommand("approve", "approve a batch held for approval (the totals are shown first), so that it is sent")
}

func cmdRelease() command {
	return approveCommand("release", "release a held batch: the same as approve")
}

// approveCommand shows a held batch's totals and approves exactly them:
// through the running daemon (which records the OS user the kernel names
// at the other end of its control socket), or on the journal itself (as
// the user running the command) when no daemon holds it.
func approveCommand(name, summary string) command {
	c := command{Name: name, Summary: summary, Usage: name + " [--yes] BATCH"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		yes := fs.Bool("yes", false, "approve the totals shown without asking (required when not on a terminal)")
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
			d, err := ctl.Batch(ctx, id)
			if err != nil {
				return fmt.Errorf("batch %s: %w", id, err)
			}
			who, err := ctl.WhoAmI(ctx)
			if err != nil {
				return err
			}
			b := d.Batch
			if err := showForApproval(e.stdout, b.ID, b.File, b.State, b.Note, b.DroppedBy, b.Totals, who); err != nil {
				return err
			}
			if err := confirm(e, *yes); err != nil {
				return err
			}
			res, err := ctl.Approve(ctx, id, dispatch.Seen{SHA256: b.SHA256, Totals: b.Totals})
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
			who := app.CurrentUser()
			if err := showForApproval(e.stdout, b.ID, b.File, string(b.State), b.Note, b.DroppedBy, b.Totals, who); err != nil {
				return err
			}
			if err := confirm(e, *yes); err != nil {
				return err
			}
			seen := dispatch.SeenOf(b)
			err = dispatch.Approve(ctx, j, id, dispatch.Approval{By: who, Via: "command", Seen: &seen,
				DistinctFromDropper: cfg.Preflight.RequireDistinctApprover})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Batch %s approved by %s; 'payrun send %s' (or a daemon's next cut-off) sends it.\n", id, who, id)
			return nil
		})
	}
	return c
}

// showForApproval prints what the approver approves.
func showForApproval(w io.Writer, id, file, state, note, droppedBy string, totals []journal.Total, who string) error {
	if state != string(journal.BatchHeld) {
		return fmt.Errorf("batch %s: %w (it is %s)", id, dispatch.ErrNotHeld, state)
	}
	fmt.Fprintf(w, "Batch %s (%s)", id, file)
	if droppedBy != "" {
		fmt.Fprintf(w, ", dropped by %s", droppedBy)
	}
	fmt.Fprintf(w, "\n  held: %s\n", note)
	printTotals(w, totals)
	if who == "" {
		who = "(unknown)"
	}
	fmt.Fprintf(w, "Approving as %s.\n", who)
	return nil
}

// confirm asks the approver to confirm the totals shown, on a terminal;
// elsewhere --yes says so.
func confirm(e *env, yes bool) error {
	if yes {
		return nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return usagef("not on a terminal: add --yes to approve the totals shown")
	}
	fmt.Fprint(e.stdout, "Approve exactly these totals? [y/N] ")
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return fmt.Errorf("not approved: nothing was changed")
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"os/user"

	"github.com/payrun/payrun/dispatch"
)

func cmdApprove() command {
	c := command{Name: "approve", Summary: "approve a batch held by the pre-flight threshold, so that it is sent",
		Usage: "approve [--by NAME] [--config FILE] BATCH"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		by := fs.String("by", "", "`NAME` of who approves (default: the current user)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usagef("expected exactly one BATCH id")
		}
		_, j, err := openConfigured(e)
		if err != nil {
			return err
		}
		defer j.Close()
		who := *by
		if who == "" {
			if u, err := user.Current(); err == nil {
				who = u.Username
			}
		}
		if err := dispatch.Approve(ctx, j, fs.Arg(0), who); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Batch %s approved by %s; 'payrun resume' (or the daemon's next cut-off) sends it.\n", fs.Arg(0), who)
		return nil
	}
	return c
}

package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/bench"
)

func cmdBench() command {
	c := command{
		Name:    "bench",
		Summary: "measure every stage (ingest, dispatch, rate, webhooks, matching, report, recovery) beside its baseline",
		Usage:   "bench [--quick] [--out FILE] [--dir DIR] [--stages LIST] | bench --night N [--drop-webhooks] [--dir DIR] [--out FILE]",
	}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		// A measurement child started by the run below: one side of one
		// stage, answered as one JSON line.
		if bench.IsChild() {
			return bench.RunChild(ctx, e.stdout)
		}
		fs := newFlags(&c, e)
		quick := fs.Bool("quick", false, "a tenth of every workload (under a minute on 2 cores)")
		out := fs.String("out", "", "also write the table as Markdown to `FILE`")
		dir := fs.String("dir", "", "`DIR` for generated inputs and journals (default: a temporary one, removed)")
		stages := fs.String("stages", "", "comma-separated `LIST` of stages to run (default all: "+strings.Join(bench.StageNames, ",")+")")
		night := fs.Int("night", 0, "run a whole night of N rows over the four sandboxes instead of the stages")
		drop := fs.Bool("drop-webhooks", false, "with --night: every webhook is lost, so polls alone settle the night")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *night < 0 || (*night > 0 && *stages != "") || (*drop && *night == 0) {
			return usagef("--night takes a positive row count, alone or with --drop-webhooks, --dir and --out")
		}
		var only []string
		for s := range strings.SplitSeq(*stages, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !slices.Contains(bench.StageNames, s) {
				return usagef("unknown stage %q (stages: %s)", s, strings.Join(bench.StageNames, ", "))
			}
			only = append(only, s)
		}
		if fs.NArg() != 0 {
			return usagef("bench takes no arguments, got %d", fs.NArg())
		}
		self, err := os.Executable()
		if err != nil {
			return err
		}
		o := bench.Options{Self: []string{self, "bench"}, Scale: 1, Dir: *dir, Log: e.stderr, Stages: only}
		if *night > 0 {
			res, err := bench.Night(ctx, o, *night, *drop)
			if err != nil {
				return err
			}
			var md strings.Builder
			if err := bench.WriteNight(&md, res); err != nil {
				return err
			}
			fmt.Fprint(e.stdout, md.String())
			if *out != "" {
				if err := os.WriteFile(*out, []byte(md.String()), 0o644); err != nil {
					return err
				}
			}
			if bad := res.Checks(); len(bad) > 0 {
				return fmt.Errorf("the night failed its checks: %s", strings.Join(bad, "; "))
			}
			return nil
		}
		if *quick {
			o.Scale = 10
		}
		start := time.Now()
		rows, err := bench.Run(ctx, o)
		if len(rows) > 0 {
			if werr := bench.WriteTable(e.stdout, rows); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "\n%s in %s (scale 1/%d)\n", plural(len(rows), "stage"), durationText(time.Since(start).Round(time.Second)), o.Scale)
		if *out != "" {
			f, err := os.Create(*out)
			if err != nil {
				return err
			}
			if err := bench.WriteMarkdown(f, rows); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
		return nil
	}
	return c
}

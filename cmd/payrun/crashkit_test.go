package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/providers/sandboxes"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// What the crash tests share: their size, the sandboxes they pay, and the
// configuration of a `payrun serve` they kill.

// crashSize skips a crash test under -short and returns its kills and
// rows: short by default, long when the environment variable env says
// "long".
func crashSize(t *testing.T, env string, shortKills, shortRows, longKills, longRows int) (kills, rows int) {
	t.Helper()
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	if os.Getenv(env) == "long" {
		return longKills, longRows
	}
	return shortKills, shortRows
}

// crashLand starts the four sandboxes in dir, their faults' dice fixed by
// seed, closed when the test ends.
func crashLand(t *testing.T, dir string, seed uint64) *sandboxes.Landscape {
	t.Helper()
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: 100 * time.Millisecond, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { land.Close() })
	return land
}

// serveFaults are the faults the `payrun serve` crash tests pay through:
// answers lost after the payout was made, 5xx, webhooks duplicated,
// delayed and reordered.
func serveFaults(drop, err5xx float64) sandboxkit.Faults {
	return sandboxkit.Faults{DropResponseRate: drop, Error5xxRate: err5xx, WebhookDuplicateRate: 0.3,
		WebhookDelay: 150 * time.Millisecond, WebhookReorder: true}
}

// serveCrashConfig is the configuration of a `payrun serve` in a crash
// test: the sandboxes' providers, webhooks at hooks, listening on addr,
// an inbox in dir taken as soon as a file is stable and sent at once, no
// cut-off or morning report, polls on poll.
func serveCrashConfig(land *sandboxes.Landscape, dir, addr, hooks, poll string) *config.Config {
	cfg := sandboxConfig(land, dir, hooks)
	cfg.Dir = dir
	cfg.Serve.Listen = addr
	cfg.Serve.StableFor = 100 * time.Millisecond
	cfg.Serve.ScanInterval = 100 * time.Millisecond
	cfg.Serve.DispatchAtOnce = true
	cfg.Serve.Cutoff, cfg.Serve.Report = "", ""
	cfg.Serve.Poll = poll
	cfg.Dispatch.ResendAfter = 300 * time.Millisecond
	cfg.Dispatch.BreakerFailures = 1000
	return cfg
}

// dropIntoInbox writes rows as a CSV beside the inbox of dir and moves it
// in whole, as a team's file transfer would: the daemon never sees half a
// file.
func dropIntoInbox(t *testing.T, dir string, rows []batch.Row) {
	t.Helper()
	tmp := filepath.Join(dir, ".payouts.csv.part")
	if err := writeDemoFile(tmp, rows, false); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "inbox"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "inbox", "payouts.csv")); err != nil {
		t.Fatal(err)
	}
}

// ledgerPaid counts, by the sandboxes' own ledgers, the rows paid once
// and the rows paid more than once.
func ledgerPaid(land *sandboxes.Landscape, rows []batch.Row) (paid, twice int) {
	counts := map[string]int{}
	for _, n := range land.Names() {
		for ref, k := range land.Kit(n).Ledger.PaidByReference() {
			counts[ref] += k
		}
	}
	for _, r := range rows {
		switch k := counts[r.PayoutID]; {
		case k == 1:
			paid++
		case k > 1:
			twice++
		}
	}
	return paid, twice
}

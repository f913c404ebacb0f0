package main

import (
	"os"
	"testing"
	"time"

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

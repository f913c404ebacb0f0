package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestCrashServeResumesAtOnce kills `payrun serve` with SIGKILL while it
// pays a dropped file (faults on, so that payouts are left in doubt,
// awaiting confirmation or awaiting a result), and starts it again each
// time. After the last start every row must be paid exactly once, by the
// sandboxes' ledgers, within a minute: the daemon's start-up pass asks
// the providers about what the kill left open at once. The poll schedule
// is hourly and the first poll of a payout comes an hour after its last
// change, and only Monnet still sends webhooks, so nothing but the
// start-up pass can do it in time. (The rates make the rest of the file
// about ten seconds of requests; a loaded machine has taken 25.)
func TestCrashServeResumesAtOnce(t *testing.T) {
	kills, rows := crashSize(t, "PAYRUN_CRASH", 3, 60, 15, 200)
	bin := buildPayrun(t)
	dir := t.TempDir()
	land := crashLand(t, dir, 7)
	for _, n := range land.Names() {
		land.Kit(n).SetFaults(serveFaults(0.15, 0.05))
	}
	addr := freeAddr(t)
	hooks := "http://" + addr + "/webhooks/"
	land.SetWebhookBase(hooks)
	cfg := serveCrashConfig(land, dir, addr, hooks, "@hourly")
	cfg.Reconcile.PollAfter = time.Hour
	cfg.Log.Level = "warn"
	for n, pc := range cfg.Providers {
		pc.RatePerSecond, pc.Burst = 2, 1 // slow enough that every kill lands mid-batch
		if n == "bank131" || n == "smartglocal" {
			// The rate is requests at the provider, and a two-phase payout
			// is three (create, start, confirm): the same two payouts a
			// second.
			pc.RatePerSecond = 6
		}
		cfg.Providers[n] = pc
	}
	journalAt := testJournalLocation(t, cfg, dir)
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	valid := payableRows("R", rows)
	dropIntoInbox(t, dir, valid)
	paidCount := func() (paid, twice int) { return ledgerPaid(land, valid) }
	start := func() (*exec.Cmd, *strings.Builder, chan error) {
		cmd := exec.Command(bin, "--config", cfgPath, "serve")
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		return cmd, &buf, done
	}
	rng := rand.New(rand.NewPCG(3, 4))
	killed := 0
	for ; killed < kills; killed++ {
		if p, _ := paidCount(); p == len(valid) {
			break
		}
		cmd, buf, done := start()
		select {
		case err := <-done:
			t.Fatalf("payrun serve exited before the kill: %v\n%s", err, buf.String())
		case <-time.After(time.Duration(600+rng.IntN(900)) * time.Millisecond):
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
	paidBefore, _ := paidCount()
	t.Logf("killed payrun serve %d times; %d of %d rows paid before the last start", killed, paidBefore, len(valid))
	if paidBefore == len(valid) {
		t.Fatal("every row was paid before the last start: the test shows nothing about resuming")
	}

	// The last start, the providers answering promptly now and sending no
	// more webhooks (but Monnet, whose payouts whose Id was lost with an
	// answer only its notification can settle): what is left open must be
	// asked about. The sandboxes' clocks run ahead, so that payouts move
	// on and Monnet's notifications that backed off while payrun was dead
	// come round.
	for _, n := range land.Names() {
		f := sandboxkit.Faults{WebhookDropRate: 1}
		if n == "monnet" {
			f = sandboxkit.Faults{}
		}
		land.Kit(n).SetFaults(f)
	}
	restarted := time.Now()
	cmd, buf, done := start()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, n := range []string{"monnet", "bank131", "smartglocal"} {
					land.Kit(n).Clock.Advance(20 * time.Second)
				}
			}
		}
	}()
	for {
		p, twice := paidCount()
		if twice > 0 {
			t.Fatalf("%d rows paid twice", twice)
		}
		if p == len(valid) {
			break
		}
		if time.Since(restarted) > time.Minute {
			byProv := map[string]int{}
			for _, n := range land.Names() {
				byProv[n] = len(land.Kit(n).Ledger.PaidByReference())
			}
			t.Fatalf("%d of %d rows paid a minute after the restart (by provider %v)\n%s", p, len(valid), byProv, buf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every row paid %s after the last start", time.Since(restarted).Round(100*time.Millisecond))
	waitFor(t, "the daemon ready", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Errorf("payrun serve after SIGTERM: %v\n%s", err, buf.String())
	}
	// The journal agrees once it has asked about what was sent after the
	// start-up pass (with webhooks off, those wait for a poll): `payrun
	// reconcile` asks, until nothing is in progress at the providers.
	settled := func() (bad []string) {
		j := openTestJournal(t, journalAt)
		defer j.Close()
		_ = j.AllItems(context.Background(), func(it journal.Item) bool {
			// A Monnet payout whose Id was lost with an answer is settled
			// by its notification only, which may come after the daemon
			// stopped.
			waitsForMonnet := it.State == journal.Submitted && it.Provider == "monnet" && it.Refs.ProviderID == ""
			if it.State != journal.Succeeded && !waitsForMonnet {
				bad = append(bad, fmt.Sprintf("%s (%s) is %s", it.PayoutID, it.Provider, it.State))
			}
			return true
		})
		return bad
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := exec.Command(bin, "--config", cfgPath, "reconcile").CombinedOutput()
		if err != nil {
			t.Fatalf("payrun reconcile: %v\n%s", err, out)
		}
		bad := settled()
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal disagrees with the providers: %v", bad)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if _, twice := paidCount(); twice > 0 {
		t.Errorf("%d rows paid twice", twice)
	}
}

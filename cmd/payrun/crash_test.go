package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxes"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/reconcile"
)

// TestCrash kills `payrun process` with SIGKILL at random moments of a
// batch across every provider, with faults on (responses dropped after the
// payout was created, 5xx, 429, duplicated and delayed webhooks), starts it
// again each time, and then checks, by the sandboxes' own ledgers, that
// every valid row was paid exactly once and that the journal agrees.
//
// The short run (5 kills) runs by default; PAYRUN_CRASH=long runs 30 kills
// over a larger batch.
func TestCrash(t *testing.T) {
	kills, rows := crashSize(t, "PAYRUN_CRASH", 5, 80, 30, 400)
	bin := buildPayrun(t)
	dir := t.TempDir()

	land := crashLand(t, dir, 99)
	// dup2xx: in every other run Monnet answers a resent orderId with a
	// 2xx REJECTED/2005 body instead of its documented 400 (a real host
	// might); either way the resend proves the payout exists. With the
	// default delays Monnet's notifications settle a payout whose answer
	// was lost before the resolver resends it, so resends are rare;
	// PAYRUN_CRASH_RESEND=1 slows them so that resends happen in every run.
	resend := os.Getenv("PAYRUN_CRASH_RESEND") != ""
	setFaults := func(dup2xx, slowMonnet bool) {
		for _, n := range land.Names() {
			f := sandboxkit.Faults{
				DropResponseRate:     0.12,
				Error5xxRate:         0.05,
				WebhookDuplicateRate: 0.3,
				WebhookDelay:         150 * time.Millisecond,
				WebhookReorder:       true,
			}
			if n == "teemopay" {
				f.RateLimitPerSecond = 15
			}
			if n == "monnet" {
				// Card push payouts whose beneficiary never comes, and of
				// which Monnet never says a word.
				f.Rules = []sandboxkit.Rule{{RefContains: "KAB", Outcome: "abandon"}}
				f.DuplicateAnsweredOK = dup2xx
				if resend {
					// More answers dropped, and (until the last run)
					// notifications slower than the resolver, so that
					// payouts whose answer was lost are resent, and
					// refused as duplicates, before their notification
					// settles them.
					f.DropResponseRate = 0.3
					if slowMonnet {
						f.WebhookDelay = 2 * time.Minute
					}
				}
			}
			land.Kit(n).SetFaults(f)
		}
	}
	setFaults(false, true)
	addr := freeAddr(t)
	hooks := "http://" + addr + "/webhooks/"
	land.SetWebhookBase(hooks)
	cfg := sandboxConfig(land, dir, hooks)
	cfg.Dir = dir
	cfg.Dispatch.ResendAfter = 300 * time.Millisecond
	cfg.Dispatch.BreakerFailures = 1000 // faults are dense here; the breaker is tested elsewhere
	cfg.Log.Level = "warn"
	cfg.Reconcile.LinkDeadline = 2 * time.Second
	for n, pc := range cfg.Providers {
		pc.RatePerSecond, pc.Burst = 8, 2 // slow enough that every kill lands mid-batch
		cfg.Providers[n] = pc
	}
	journalAt := testJournalLocation(t, cfg, dir)
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}

	valid := payableRows("K", rows)
	abandoned := abandonedCardPushes(3)
	input := filepath.Join(dir, "payouts.csv")
	if err := writeDemoFile(input, append(append([]batch.Row(nil), valid...), abandoned...), false); err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	run := func(killAfter time.Duration) (killed bool, out string) {
		cmd := exec.Command(bin, "--config", cfgPath, "process", "--wait", "60s", "--listen", addr, input)
		var buf strings.Builder
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if killAfter > 0 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("payrun process failed before the kill: %v\n%s", err, buf.String())
				}
				return false, buf.String()
			case <-time.After(killAfter):
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-done
				return true, buf.String()
			}
		}
		// The last run: advance the sandboxes' clocks meanwhile, so that
		// webhook retries that backed off while payrun was dead come round.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
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
		if err := <-done; err != nil {
			t.Fatalf("final payrun process: %v\n%s", err, buf.String())
		}
		return false, buf.String()
	}
	n := 0
	for ; n < kills; n++ {
		setFaults(n%2 == 1, true)
		killed, _ := run(time.Duration(100+rng.IntN(500)) * time.Millisecond)
		if !killed {
			break
		}
	}
	t.Logf("killed payrun process %d times with SIGKILL", n)
	if n < kills {
		t.Logf("the batch finished before all %d kills", kills)
	}
	setFaults(true, false)
	_, out := run(0)
	// The abandoned card pushes wait for no one past their deadline: a
	// reconciliation (or a poll) after it expires them.
	for deadline := time.Now().Add(cfg.Reconcile.LinkDeadline + 20*time.Second); ; {
		o, err := exec.Command(bin, "--config", cfgPath, "reconcile", "--json").Output()
		if err != nil {
			t.Fatalf("payrun reconcile: %v\n%s", err, o)
		}
		if strings.Count(string(o), `"state": "expired"`) >= len(abandoned) || strings.Count(string(o), `"state":"expired"`) >= len(abandoned) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the abandoned card pushes did not expire:\n%.3000s", o)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The providers' books.
	paid := map[string]int{}
	for _, name := range land.Names() {
		for ref, k := range land.Kit(name).Ledger.PaidByReference() {
			paid[ref] += k
		}
	}
	want := map[string]bool{}
	for _, r := range valid {
		want[r.PayoutID] = true
		if paid[r.PayoutID] != 1 {
			t.Errorf("payout %s (%s) paid %d times at the provider", r.PayoutID, r.Provider, paid[r.PayoutID])
		}
	}
	for ref, k := range paid {
		if !want[ref] {
			t.Errorf("the providers paid %s (%d times), which is not in the file", ref, k)
		}
	}
	// The journal agrees.
	j := openTestJournal(t, journalAt)
	defer j.Close()
	if err := j.Check(ctx); err != nil {
		t.Errorf("journal consistency: %v", err)
	}
	provs, err := app.BuildProviders(cfg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	// A Monnet payout resent as a duplicate is settled only by its
	// notification, which process does not wait for (it cannot ask without
	// Monnet's Id): payrun's receiver listens, as serve would, until every
	// sandbox has delivered what it holds.
	settleNotifications(t, land, j, provs, addr)
	// Every event of every delivery payrun acknowledged, killed right after
	// or not, is in the journal.
	acked, events, lost := 0, 0, 0
	for _, name := range land.Names() {
		for _, d := range land.Kit(name).Notifier.Deliveries() {
			if !d.Accepted {
				continue
			}
			acked++
			res, err := provs[name].ParseWebhook(providers.WebhookRequest{Header: d.Header, Body: d.Body, Received: d.At})
			if err != nil {
				t.Errorf("%s: a delivery payrun acknowledged does not verify here: %v", name, err)
				continue
			}
			for _, ev := range res.Events {
				events++
				if _, ok, err := j.Event(ctx, name, ev.ID); err != nil || !ok {
					lost++
					t.Errorf("%s: event %s, acknowledged at %s, is not in the journal (%v)", name, ev.ID, d.At.Format(time.TimeOnly), err)
				}
			}
		}
	}
	t.Logf("%d deliveries acknowledged, carrying %d events; %d of them not in the journal", acked, events, lost)
	count, resent, dup2xx := 0, 0, 0
	_ = j.AllItems(ctx, func(it journal.Item) bool {
		_ = j.Transitions(ctx, it.PayoutID, func(tr journal.Transition) bool {
			if it.Provider == "monnet" && tr.Actor == "dispatcher" && strings.HasPrefix(tr.Reason, "already at the provider") {
				resent++
				if strings.Contains(tr.Reason, "2xx") {
					dup2xx++
				}
			}
			return true
		})
		count++
		if strings.HasPrefix(it.PayoutID, "KAB") {
			if it.State != journal.Expired {
				t.Errorf("journal: the abandoned card push %s is %s (%s), want expired past its deadline", it.PayoutID, it.State, it.Reason)
			}
			return true
		}
		if it.State != journal.Succeeded {
			t.Errorf("journal: %s is %s (%s)", it.PayoutID, it.State, it.Reason)
			_ = j.Transitions(ctx, it.PayoutID, func(tr journal.Transition) bool {
				t.Logf("  %s %s -> %s by %s: %s", tr.At.Format("15:04:05.000"), tr.From, tr.To, tr.Actor, tr.Reason)
				return true
			})
		}
		return true
	})
	t.Logf("Monnet refused %d resent orders as duplicates, %d of them in a 2xx answer", resent, dup2xx)
	if count != len(valid)+len(abandoned) {
		t.Errorf("journal holds %d items, the file %d rows", count, len(valid))
	}
	if t.Failed() {
		t.Logf("last run's output:\n%s", out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// settleNotifications serves payrun's webhook receiver over j on addr
// until every sandbox's notifier is idle, moving the sandboxes' clocks so
// that retries come round, and applies what it received.
func settleNotifications(t *testing.T, land *sandboxes.Landscape, j journal.Journal, provs map[string]providers.Provider, addr string) {
	t.Helper()
	recv := reconcile.NewReceiver(j, provs, reconcile.ReceiverOptions{})
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer recv.Stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: recv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		idle := true
		for _, n := range land.Names() {
			idle = idle && land.Kit(n).Notifier.Idle()
		}
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sandboxes still hold notifications after 30 s")
		}
		for _, n := range land.Names() {
			land.Kit(n).Clock.Advance(time.Minute)
		}
		<-tick.C
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := recv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// payableRows returns n demo rows that every provider pays without a
// beneficiary's action and that no fault rule fails.
func payableRows(prefix string, n int) []batch.Row {
	var out []batch.Row
	for _, r := range demoRows(prefix, n*2) {
		if r.Method == string(providers.CardPush) || r.Method == string(providers.PaymentLink) {
			continue
		}
		r.PayoutID = strings.TrimSuffix(r.PayoutID, "-F")
		out = append(out, r)
		if len(out) == n {
			break
		}
	}
	return out
}

// abandonedCardPushes returns n Monnet card push rows whose beneficiary
// never comes (the sandbox's "abandon" rule matches KAB).
func abandonedCardPushes(n int) []batch.Row {
	var out []batch.Row
	for _, r := range demoRows("A", 60) {
		if r.Method != string(providers.CardPush) || strings.HasSuffix(r.PayoutID, "-F") {
			continue
		}
		r.PayoutID = fmt.Sprintf("KAB-%d", len(out)+1)
		out = append(out, r)
		if len(out) == n {
			break
		}
	}
	return out
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestCrashServeCollections kills `payrun serve` with SIGKILL while it
// collects cards (Bank 131 and Smart Glocal rows without a token): kills
// land between the widget token's creation, the beneficiary's card and the
// payout, with responses dropped, 5xx and duplicated, delayed, reordered
// webhooks. The test plays every beneficiary over HTTP the whole time: it
// reads each waiting row's link from the daemon's status API, types a card
// into the sandbox's widget stand-in and posts the hashes to the page, as
// a browser would. In the end every row is paid exactly once by the
// sandboxes' ledgers, and no row ever had two live links.
func TestCrashServeCollections(t *testing.T) {
	kills, rows := crashSize(t, "PAYRUN_CRASH", 4, 16, 12, 60)
	bin := buildPayrun(t)
	dir := t.TempDir()
	land := crashLand(t, dir, 11)
	for _, n := range land.Names() {
		land.Kit(n).SetFaults(serveFaults(0.15, 0.05))
	}
	addr := freeAddr(t)
	hooks := "http://" + addr + "/webhooks/"
	land.SetWebhookBase(hooks)
	cfg := serveCrashConfig(land, dir, addr, hooks, "@every 1s")
	cfg.Reconcile.PollAfter = 500 * time.Millisecond
	cfg.Reconcile.PollInterval = 500 * time.Millisecond
	cfg.Log.Level = "warn"
	for n, pc := range cfg.Providers {
		pc.RatePerSecond, pc.Burst = 3, 1 // slow enough that kills land mid-way
		cfg.Providers[n] = pc
	}
	journalAt := testJournalLocation(t, cfg, dir)
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	valid := collectionRows("KC", rows)
	dropIntoInbox(t, dir, valid)

	paidCount := func() (paid, twice int) { return ledgerPaid(land, valid) }

	// The beneficiaries, playing whenever the daemon answers.
	var mu sync.Mutex
	links := map[string]map[string]bool{} // payout -> every distinct link the status API gave
	received := map[string]bool{}
	play := func(ctx context.Context) {
		client := &http.Client{Timeout: 3 * time.Second}
		var list struct {
			Batches []struct{ ID string } `json:"batches"`
		}
		if getJSON(ctx, client, "http://"+addr+"/api/batches", &list) != nil {
			return
		}
		for _, b := range list.Batches {
			// The links, as an operator reads them: the HTTP status API
			// masks them, payrun status shows them whole (through the
			// control socket, or from PostgreSQL).
			out, err := exec.CommandContext(ctx, bin, "--config", cfgPath, "status", "--batch", b.ID, "--json").Output()
			if err != nil {
				return
			}
			var detail struct {
				OpenItems []struct {
					PayoutID string `json:"payout_id"`
					Link     string `json:"url"`
				} `json:"open_items"`
			}
			if json.Unmarshal(out, &detail) != nil {
				return
			}
			for _, it := range detail.OpenItems {
				if it.Link == "" {
					continue
				}
				mu.Lock()
				if links[it.PayoutID] == nil {
					links[it.PayoutID] = map[string]bool{}
				}
				links[it.PayoutID][it.Link] = true
				done := received[it.PayoutID]
				mu.Unlock()
				if done {
					continue
				}
				outcome, _, err := giveCard(ctx, it.Link, "4242424242424242")
				if err == nil && outcome == "received" {
					mu.Lock()
					received[it.PayoutID] = true
					mu.Unlock()
				}
			}
		}
	}
	beneficiaries := func(ctx context.Context) func() {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() {
			for ctx.Err() == nil {
				play(ctx)
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
		return func() { cancel(); wg.Wait() }
	}
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

	rng := rand.New(rand.NewPCG(5, 6))
	killed := 0
	for ; killed < kills; killed++ {
		if p, _ := paidCount(); p == len(valid) {
			break
		}
		cmd, buf, done := start()
		stop := beneficiaries(context.Background())
		select {
		case err := <-done:
			stop()
			t.Fatalf("payrun serve exited before the kill: %v\n%s", err, buf.String())
		case <-time.After(time.Duration(700+rng.IntN(1300)) * time.Millisecond):
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		stop()
	}
	paidBefore, _ := paidCount()
	mu.Lock()
	gave := len(received)
	mu.Unlock()
	t.Logf("killed payrun serve %d times; %d cards given, %d of %d rows paid before the last start", killed, gave, paidBefore, len(valid))

	// The last start, faults off: every beneficiary still waiting gives a
	// card, and every row is paid.
	for _, n := range land.Names() {
		land.Kit(n).SetFaults(sandboxkit.Faults{})
	}
	cmd, buf, done := start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := beneficiaries(ctx)
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, n := range []string{"bank131", "smartglocal"} {
					land.Kit(n).Clock.Advance(20 * time.Second)
				}
			}
		}
	}()
	restarted := time.Now()
	// A row left takes several requests at 3 a second per provider: the
	// wait grows with the rows (the long run's 60 rows took 58 s on a
	// busy machine), and only catches a row that is never paid.
	wait := max(60*time.Second, time.Duration(len(valid))*2*time.Second)
	for {
		p, twice := paidCount()
		if twice > 0 {
			t.Fatalf("%d rows paid twice", twice)
		}
		if p == len(valid) {
			break
		}
		if time.Since(restarted) > wait {
			t.Fatalf("%d of %d rows paid %s after the last start\n%s", p, len(valid), wait, buf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every row paid %s after the last start", time.Since(restarted).Round(100*time.Millisecond))
	stop()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Errorf("payrun serve after SIGTERM: %v\n%s", err, buf.String())
	}
	cancel()

	// One live link per row, whatever the kills.
	mu.Lock()
	for id, seen := range links {
		if len(seen) > 1 {
			t.Errorf("%s had %d different links: %v", id, len(seen), seen)
		}
	}
	mu.Unlock()
	if _, twice := paidCount(); twice > 0 {
		t.Errorf("%d rows paid twice", twice)
	}
	// What the kills interrupted, by the providers' books and the journal.
	tokens := 0
	for _, n := range []string{"bank131", "smartglocal"} {
		if sb, ok := land.Sandboxes[n].(interface{ PublicTokens() int }); ok {
			tokens += sb.PublicTokens()
		}
	}
	t.Logf("the sandboxes issued %d widget tokens for %d rows (a token whose answer was lost, to a kill or a dropped response, is replaced and never shown)", tokens, len(valid))

	// The journal agrees, once it asked about what was still in flight.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := exec.Command(bin, "--config", cfgPath, "reconcile").CombinedOutput()
		if err != nil {
			t.Fatalf("payrun reconcile: %v\n%s", err, out)
		}
		var bad []string
		recovered := 0
		j := openTestJournal(t, journalAt)
		_ = j.Transitions(context.Background(), "", func(tr journal.Transition) bool {
			if tr.Actor == "recovery" {
				recovered++
			}
			return true
		})
		_ = j.AllItems(context.Background(), func(it journal.Item) bool {
			if it.State != journal.Succeeded {
				bad = append(bad, fmt.Sprintf("%s (%s) is %s", it.PayoutID, it.Provider, it.State))
			} else if !strings.HasPrefix(it.Last.Recipient, "card *4242") {
				bad = append(bad, fmt.Sprintf("%s paid to %q", it.PayoutID, it.Last.Recipient))
			}
			return true
		})
		j.Close()
		if len(bad) == 0 {
			t.Logf("%d payouts were found mid-request after a kill and resolved", recovered)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal disagrees with the providers: %v", bad)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// collectionRows returns n card collection rows, Bank 131 and Smart Glocal
// in turn: card_token rows without a token, naming their beneficiary.
func collectionRows(prefix string, n int) []batch.Row {
	base := demoCollectionRows(prefix)
	out := make([]batch.Row, 0, n)
	for i := 0; i < n; i++ {
		r := base[i%len(base)]
		r.PayoutID = fmt.Sprintf("%s-%03d", prefix, i+1)
		m, err := money.Parse(r.Amount, r.Currency)
		if err == nil {
			cur, _ := money.Lookup(r.Currency)
			r.Amount = money.FormatMinor(m.Minor+int64(i), cur.Exponent)
		}
		out = append(out, r)
	}
	return out
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

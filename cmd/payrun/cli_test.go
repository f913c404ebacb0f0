package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxes"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExitCodesAndHelp(t *testing.T) {
	if code, out, _ := runCLI(t, "--help"); code != exitOK || !strings.Contains(out, "process") {
		t.Fatalf("--help: %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "no-such-command"); code != exitUsage {
		t.Fatalf("unknown command: exit %d, want %d", code, exitUsage)
	}
	if code, out, _ := runCLI(t, "validate", "--help"); code != exitOK || !strings.Contains(out, "--json") && !strings.Contains(out, "-json") {
		t.Fatalf("validate --help: %d\n%s", code, out)
	}
	bad := filepath.Join("..", "..", "batch", "testdata", "errors.csv")
	code, out, _ := runCLI(t, "validate", "--json", bad)
	if code != exitInvalid {
		t.Fatalf("validate of a bad file: exit %d, want %d", code, exitInvalid)
	}
	var rep struct {
		File      string `json:"file"`
		Rows      int    `json:"rows"`
		ValidRows int    `json:"valid_rows"`
		Errors    []struct {
			Row    int    `json:"row"`
			Column string `json:"column"`
			Value  string `json:"value"`
			Reason string `json:"reason"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Errors) < 10 || rep.Errors[0].Row < 2 {
		t.Fatalf("validate --json: %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(cfg, []byte("providers:\n  monnet: {enabled: true, api_secret: hunter2}\n"), 0o600)
	if code, _, errOut := runCLI(t, "--config", cfg, "config", "check"); code != exitUsage || !strings.Contains(errOut, "api_secret") {
		t.Fatalf("config check with a literal secret: exit %d\n%s", code, errOut)
	}
}

func TestTemplateValidatesAndDryRunSendsNothing(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"t.csv", "t.xlsx"} {
		args := []string{"template", filepath.Join(dir, name)}
		if strings.HasSuffix(name, "xlsx") {
			args = []string{"template", "--xlsx", filepath.Join(dir, name)}
		}
		if code, _, e := runCLI(t, args...); code != exitOK {
			t.Fatalf("template: %d %s", code, e)
		}
		if code, out, _ := runCLI(t, "validate", filepath.Join(dir, name)); code != exitOK {
			t.Fatalf("the template does not validate:\n%s", out)
		}
	}
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer land.Close()
	cfg := sandboxConfig(land, dir, "")
	cfg.Dir = dir
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	code, out, e := runCLI(t, "--config", cfgPath, "process", "--dry-run", filepath.Join(dir, "t.csv"))
	if code != exitOK || !strings.Contains(out, "dry run") || !strings.Contains(out, "estimated sending time") {
		t.Fatalf("dry run: %d\n%s\n%s", code, out, e)
	}
	for _, n := range land.Names() {
		if k := len(land.Kit(n).Ledger.Entries()); k != 0 {
			t.Fatalf("a dry run created %d payouts at %s", k, n)
		}
	}
	j, err := boltjournal.Open(filepath.Join(dir, "payrun.db"), boltjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if bs, _ := j.ListBatches(ctx); len(bs) != 0 {
		t.Fatalf("a dry run recorded %d batches", len(bs))
	}
}

// SIGTERM mid-batch: payrun process stops taking items, lets requests in
// flight finish, exits 0; payrun resume finishes the batch, each row paid
// once.
func TestSIGTERMThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("uses the payrun binary; skipped with -short")
	}
	bin := buildPayrun(t)
	dir := t.TempDir()
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer land.Close()
	cfg := sandboxConfig(land, dir, "")
	cfg.Dir = dir
	for n, pc := range cfg.Providers {
		pc.RatePerSecond, pc.Burst = 10, 1
		cfg.Providers[n] = pc
	}
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	var rows []batch.Row
	for _, r := range demoRows("T", 80) {
		if r.Method != "card_push" && r.Method != "payment_link" {
			r.PayoutID = strings.TrimSuffix(r.PayoutID, "-F")
			rows = append(rows, r)
		}
	}
	input := filepath.Join(dir, "payouts.csv")
	if err := writeDemoFile(input, rows, false); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "process", input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until sending is under way, then ask it to stop.
	waitFor(t, "the first payouts to reach a provider", 20*time.Second, func() bool {
		return len(land.Kit("teemopay").Ledger.Entries()) > 0
	})
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if !strings.Contains(out.String(), "payrun resume") {
		t.Errorf("the stop message does not say how to continue:\n%s", out.String())
	}
	paidBefore := 0
	for _, n := range land.Names() {
		paidBefore += len(land.Kit(n).Ledger.Entries())
	}
	if paidBefore >= len(rows) {
		t.Fatalf("SIGTERM came too late to test anything (%d of %d created)", paidBefore, len(rows))
	}
	res, err := exec.Command(bin, "--config", cfgPath, "resume", "--wait", "60s").CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, res)
	}
	paid := map[string]int{}
	for _, n := range land.Names() {
		for ref, k := range land.Kit(n).Ledger.PaidByReference() {
			paid[ref] += k
		}
	}
	for _, r := range rows {
		if paid[r.PayoutID] != 1 {
			t.Errorf("%s paid %d times", r.PayoutID, paid[r.PayoutID])
		}
	}
}

// TestReportWarnsOfQueuedEvents: webhook events a receiver acknowledged
// and a killed daemon never applied are not applied by a report or by
// reconcile --no-poll (neither changes anything), and both say they are
// left out.
func TestReportWarnsOfQueuedEvents(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := os.WriteFile(cfgPath, []byte("journal: payrun.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, err := boltjournal.Open(filepath.Join(dir, "payrun.db"), boltjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: "p-1"}}
	r := journal.Receipt{Events: []journal.Event{{Provider: "teemopay", ID: "e-1", PayoutID: "p-1", Body: []byte(`{}`)}},
		Facts: []journal.EventFact{{Provider: "teemopay", EventID: "e-1", Status: st}}}
	if _, _, err := j.Persist(ctx, r); err != nil {
		t.Fatal(err)
	}
	j.Close()

	code, _, errOut := runCLI(t, "--config", cfgPath, "report", "--open", "--out", filepath.Join(dir, "out"))
	if code != exitOK || !strings.Contains(errOut, "1 webhook event acknowledged and not applied yet is left out") {
		t.Fatalf("report: exit %d\n%s", code, errOut)
	}
	code, _, errOut = runCLI(t, "--config", cfgPath, "reconcile", "--open", "--no-poll")
	if code != exitOK || !strings.Contains(errOut, "1 webhook event acknowledged and not applied yet is left out of this reconciliation") {
		t.Fatalf("reconcile --no-poll: exit %d\n%s", code, errOut)
	}
	if j, err = boltjournal.Open(filepath.Join(dir, "payrun.db"), boltjournal.Options{}); err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if n, err := j.Queued(ctx); err != nil || n != 1 {
		t.Errorf("%d events queued after the report and reconcile --no-poll (%v), want the 1 still there", n, err)
	}
}

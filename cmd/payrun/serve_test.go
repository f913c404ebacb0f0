package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/providers/sandboxes"
)

// buildPayrun builds the binary once per test binary run.
func buildPayrun(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "payrun")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build payrun: %v\n%s", err, out)
	}
	return bin
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func globOne(pattern string) string {
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// TestServeEndToEnd runs `payrun serve` on a temporary directory with the
// sandboxes: a file written slowly is taken only when complete, paid, its
// webhooks arrive, the report job writes the reports and an .eml, the same
// content dropped again is rejected with the reason, a bad file is rejected
// with its report, /metrics shows the counts, a second daemon on the same
// journal exits at once, and SIGTERM exits 0.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test: skipped with -short")
	}
	bin := buildPayrun(t)
	dir := t.TempDir()
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: 100 * time.Millisecond, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer land.Close()
	addr := freeAddr(t)
	land.SetWebhookBase("http://" + addr + "/webhooks/")
	cfg := sandboxConfig(land, dir, "http://"+addr+"/webhooks/")
	cfg.Dir = dir
	cfg.Serve.Listen = addr
	cfg.Serve.StableFor = 2 * time.Second
	cfg.Serve.ScanInterval = 100 * time.Millisecond
	cfg.Serve.DispatchAtOnce = true
	cfg.Serve.Poll = "@every 1s"
	cfg.Serve.Report = "@every 2s"
	cfg.Serve.CatchUp = false
	cfg.Reconcile.PollAfter = 500 * time.Millisecond
	cfg.Reconcile.PollInterval = 500 * time.Millisecond
	cfg.Log.Format = "json"
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", cfgPath, "serve")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("daemon output:\n%s", logs.String())
		}
	}()
	base := "http://" + addr
	waitFor(t, "/healthz", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// A second daemon on the same journal exits at once, naming it.
	start := time.Now()
	out, err := exec.Command(bin, "--config", cfgPath, "serve").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "payrun.db") || !strings.Contains(string(out), "in use") {
		t.Fatalf("second daemon: err=%v output=%s", err, out)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("second daemon took %v to give up", d)
	}

	// A file written in chunks is taken only once complete.
	rows := demoRows("S", 16)
	var valid []string
	var content bytes.Buffer
	var kept = rows[:0]
	for _, r := range rows {
		if r.Method == "card_push" || r.Method == "payment_link" {
			continue
		}
		r.PayoutID = strings.TrimSuffix(r.PayoutID, "-F")
		kept = append(kept, r)
		valid = append(valid, r.PayoutID)
	}
	tmp := filepath.Join(t.TempDir(), "src.csv")
	if err := writeDemoFile(tmp, kept, false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(tmp)
	content.Write(data)
	inbox := filepath.Join(dir, "inbox", "payouts 2026-11-21.csv")
	f, err := os.Create(inbox)
	if err != nil {
		t.Fatal(err)
	}
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	f.Sync()
	// The daemon sees the file and waits for it to be complete.
	waitFor(t, "the half-written file seen as still being written", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		m, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(m), "payrun_intake_files_waiting 1")
	})
	if _, err := os.Stat(inbox); err != nil {
		t.Fatalf("a half-written file was taken: %v", err)
	}
	f.Write(data[half:])
	f.Close()

	archived := func() bool { return globOne(filepath.Join(dir, "archive", "*", "payouts 2026-11-21.csv")) != "" }
	waitFor(t, "the batch to be paid and its file archived", 60*time.Second, archived)
	paid := map[string]int{}
	for _, n := range land.Names() {
		for ref, k := range land.Kit(n).Ledger.PaidByReference() {
			paid[ref] += k
		}
	}
	for _, id := range valid {
		if paid[id] != 1 {
			t.Errorf("%s paid %d times", id, paid[id])
		}
	}

	// The same content again: rejected with the reason, nothing sent.
	if err := os.WriteFile(filepath.Join(dir, "inbox", "again.csv"), content.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the duplicate to be rejected", 20*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "rejected", "again.csv.errors.txt"))
		return err == nil && strings.Contains(string(b), "same content")
	})
	// A file with bad rows: rejected with its row-by-row report.
	bad := "payout_id,provider,method,country,currency,amount\nX-1,monnet,bank_transfer,PE,PEN,1.005\n"
	if err := os.WriteFile(filepath.Join(dir, "inbox", "bad.csv"), []byte(bad), 0o640); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad file to be rejected with its report", 20*time.Second, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "rejected", "bad.csv.errors.txt"))
		return err == nil && strings.Contains(string(b), "amount")
	})

	// The report job wrote the workbook and the message.
	waitFor(t, "the morning report and its .eml", 20*time.Second, func() bool {
		return globOne(filepath.Join(dir, "reports", "*.xlsx")) != "" && globOne(filepath.Join(dir, "outbox", "*.eml")) != ""
	})

	// /metrics shows the counts; the status API shows the batch.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `payrun_items{provider="teemopay",state="succeeded"}`) {
		t.Errorf("/metrics lacks the item counts:\n%.2000s", metrics)
	}
	resp, err = http.Get(base + "/api/batches")
	if err != nil {
		t.Fatal(err)
	}
	var list daemon.BatchList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(list.Batches) != 1 || list.Batches[0].Final != len(valid) {
		t.Errorf("/api/batches = %+v, want one batch with %d final items", list.Batches, len(valid))
	}
	// payrun status asks the running daemon.
	st, err := exec.Command(bin, "--config", cfgPath, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(st), list.Batches[0].ID) {
		t.Errorf("payrun status: %v\n%s", err, st)
	}

	// SIGTERM: exit 0.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15 s of SIGTERM")
	}
}

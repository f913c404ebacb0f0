package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/providers/sandboxes"
)

// TestServeApproveAndSendNowWhileRunning: with `payrun serve` holding the
// embedded journal, a batch held for approval is approved by `payrun
// approve` (which shows the totals and sends them back through the
// daemon's control socket; the approver is the OS user the kernel names),
// waits for the cut-off, which `payrun status` tells, and `payrun send`
// sends it now without touching the configuration; every row is paid
// once. `payrun report-now` and `payrun resume` go through the daemon too.
func TestServeApproveAndSendNowWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test: skipped with -short")
	}
	bin := buildPayrun(t)
	dir := t.TempDir()
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: 100 * time.Millisecond, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer land.Close()
	addr := freeAddr(t)
	hooks := "http://" + addr + "/webhooks/"
	land.SetWebhookBase(hooks)
	cfg := sandboxConfig(land, dir, hooks)
	cfg.Dir = dir
	cfg.Serve.Listen = addr
	cfg.Serve.StableFor = 100 * time.Millisecond
	cfg.Serve.ScanInterval = 100 * time.Millisecond
	cfg.Serve.Cutoff = "0 0 1 1 *" // not during the test: only `payrun send` sends
	cfg.Serve.Poll = "@every 1s"
	cfg.Serve.Report = ""
	cfg.Serve.CatchUp = false
	cfg.Preflight.Enabled = true
	cfg.Preflight.HoldAbove = map[string]string{"PEN": "1.00"}
	cfg.Preflight.ApprovalDir = "approvals"
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
	waitFor(t, "/healthz", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	payrun := func(args ...string) (string, int) {
		t.Helper()
		c := exec.Command(bin, append([]string{"--config", cfgPath}, args...)...)
		c.Stdin = nil
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("payrun %v: %v", args, err)
		}
		return string(out), 0
	}

	rows := payableRows("AP", 6)
	dropIntoInbox(t, dir, rows)
	var id string
	waitFor(t, "the file to be held", 20*time.Second, func() bool {
		out, code := payrun("status", "--json")
		var st struct{ Batches []daemon.BatchStatus }
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Batches) != 1 || st.Batches[0].State != "held" {
			return false
		}
		id = st.Batches[0].ID
		return true
	})
	paid := func() int {
		n := 0
		byRef := map[string]int{}
		for _, name := range land.Names() {
			for ref, k := range land.Kit(name).Ledger.PaidByReference() {
				byRef[ref] += k
			}
		}
		for _, r := range rows {
			if byRef[r.PayoutID] > 1 {
				t.Fatalf("%s paid %d times", r.PayoutID, byRef[r.PayoutID])
			}
			n += byRef[r.PayoutID]
		}
		return n
	}

	if out, code := payrun("send", id); code == 0 || !strings.Contains(out, "held") {
		t.Fatalf("send now of a held batch: exit %d\n%s", code, out)
	}
	if out, code := payrun("approve", id); code != exitUsage || !strings.Contains(out, "--yes") {
		t.Fatalf("approve without a terminal or --yes: exit %d\n%s", code, out)
	}
	me := app.CurrentUser()
	began := time.Now()
	out, code := payrun("approve", "--yes", id)
	t.Logf("payrun approve through the running daemon: %v (process start included)", time.Since(began).Round(time.Millisecond))
	if code != 0 || !strings.Contains(out, "Approving as "+me) || !strings.Contains(out, "approved by "+me) ||
		!strings.Contains(out, "next cut-off") || !strings.Contains(out, "PEN") {
		t.Fatalf("approve while serve runs: exit %d\n%s", code, out)
	}
	out, code = payrun("status", "--batch", id)
	if code != 0 || !strings.Contains(out, "to be sent at the next cut-off, ") || !strings.Contains(out, "approved by "+me) {
		t.Fatalf("status of the approved batch: exit %d\n%s", code, out)
	}
	approvedLine := func(out string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "approved by ") {
				return strings.TrimSpace(l)
			}
		}
		return ""
	}
	viaDaemon := approvedLine(out)
	if n := paid(); n != 0 {
		t.Fatalf("%d rows paid before the cut-off or a send", n)
	}
	began = time.Now()
	if out, code := payrun("send", id); code != 0 || !strings.Contains(out, "Sending batch "+id+" now") {
		t.Fatalf("send now: exit %d\n%s", code, out)
	}
	waitFor(t, "send now to pay every row", 60*time.Second, func() bool { return paid() == len(rows) })
	t.Logf("payrun send to %d rows paid by the sandboxes: %v", len(rows), time.Since(began).Round(time.Millisecond))
	if out, code := payrun("hold", id); code == 0 || !strings.Contains(out, "not sent yet") {
		t.Fatalf("hold of a sent batch: exit %d\n%s", code, out)
	}
	today := time.Now().In(cfg.Location()).Format("2006-01-02")
	out, code = payrun("report-now", "--date", today)
	if code != 0 || !strings.Contains(out, "Workbook:") {
		t.Fatalf("report-now: exit %d\n%s", code, out)
	}
	if out, code := payrun("resume"); code != 0 || !strings.Contains(out, "unfinished") {
		t.Fatalf("resume while serve runs: exit %d\n%s", code, out)
	}
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
	if !strings.Contains(logs.String(), `"msg":"dispatch run started"`) || !strings.Contains(logs.String(), `"trigger":"send now by `+me+`"`) {
		t.Errorf("the daemon's log does not say the run started by send now")
	}
	// Without the daemon, status reads the journal itself, and tells the
	// same times, in the configured zone.
	if out, code := payrun("status", "--batch", id); code != 0 || !strings.Contains(out, "approved by "+me) {
		t.Fatalf("status without the daemon: exit %d\n%s", code, out)
	} else if got := approvedLine(out); got != viaDaemon {
		t.Errorf("status through the daemon says %q, without it %q", viaDaemon, got)
	}
}

package daemon

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
)

// TestStatusPageRendersInChromium loads the status page in headless
// Chromium (Debian's chromium package) and checks the rendered DOM: the
// batch and its progress per provider; a held batch with its reason and
// how to approve it; an accepted batch with the cut-off that sends it and
// the "send now" control (the command to run: the page itself changes
// nothing, it may be reachable by providers); a link waiting for its
// beneficiary, masked; and the page's one inline script ran under its
// Content-Security-Policy.
func TestStatusPageRendersInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not on PATH: install Debian's chromium package (apt-get install -y chromium) to run the status page browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	clock := newFakeClock(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
	j := testjournal.Open(t, clock.Now)
	seedJournal(t, j, testBatch)
	held, waiting := seedHeldAndWaiting(t, j)
	cutoff := time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC) // 18:00 in Lima
	status := JournalStatus{J: j, NextCutoff: func() time.Time { return cutoff }}
	srv := httptest.NewServer(NewServer(ServerOptions{Status: status, Now: clock.Now, Location: lima,
		Command: "payrun --config /etc/payrun/payrun.yaml"}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000",
		"--dump-dom", srv.URL+"/")
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, tail(stderr.String(), 2000))
	}
	dom := string(out)
	for _, want := range []string{
		`data-script="ran"`, // the inline script ran: its CSP hash is right
		`data-batch="` + testBatch + `"`,
		`<tr data-provider="monnet">`,
		"1/3 final (33%)",
		`<tr data-provider="teemopay">`,
		"0/1 final (0%)",
		"10.00 of 60.00 PEN",
		"next refresh in ",
		`data-held="` + held + `"`,
		"the batch total 250000.00 PEN is above the approval threshold 100000.00 PEN",
		"payrun --config /etc/payrun/payrun.yaml approve " + held,
		`data-plan="` + waiting + `"`,
		"2026-11-21 18:00:00 -05",
		`data-control="send-now"`,
		"Send now: <code>payrun --config /etc/payrun/payrun.yaml send " + waiting + "</code>",
		"https://pay.example/…9f3a",
		"dropped by ana",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, "secret-token-9f3a") || strings.Contains(dom, "<form") {
		t.Errorf("the page shows a whole link, or has a form")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s\nchromium stderr:\n%s", tail(dom, 4000), tail(stderr.String(), 2000))
	}

	// A screenshot, for a person to look at: PAYRUN_SCREENSHOT=path keeps it.
	shot := filepath.Join(t.TempDir(), "status.png")
	if keep := os.Getenv("PAYRUN_SCREENSHOT"); keep != "" {
		shot = keep
	}
	cmd = exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--hide-scrollbars", "--window-size=1200,1100",
		"--screenshot="+shot, srv.URL+"/")
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium screenshot: %v\n%s", err, tail(string(out), 2000))
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 1000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

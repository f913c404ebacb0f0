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
// batch and its progress per provider, and the page's one inline script
// ran under its Content-Security-Policy.
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
	srv := httptest.NewServer(NewServer(ServerOptions{Status: JournalStatus{J: j}, Now: clock.Now, Location: lima}))
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
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
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
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--hide-scrollbars", "--window-size=1200,700",
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

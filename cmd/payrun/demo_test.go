package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoTiesOut runs `payrun demo`, the README's first command: the
// whole flow against the sandboxes with no configuration. It ends with
// every row paid once by the providers' ledgers, a tie-out that balances,
// the files it names written, and the money a payment link brings in told
// apart from what is paid out.
func TestDemoTiesOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errOut := runCLI(t, "demo", "--dir", dir)
	if code != exitOK {
		t.Fatalf("demo: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{
		"Every currency and provider ties out: difference 0.",
		"none twice; the journal agrees",
		"Workbook:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo does not say %q:\n%s", want, out)
		}
	}
	// The demo's USD rows are Monnet payment links: money collected, not
	// paid out.
	if !regexp.MustCompile(`(?m)^  collected [0-9.]+ USD$`).MatchString(out) || regexp.MustCompile(`(?m)^  paid [0-9.]+ USD$`).MatchString(out) {
		t.Errorf("demo's payment links are not told apart as collected:\n%s", out)
	}
	if strings.Contains(out+errOut, "goroutine ") {
		t.Errorf("demo printed a Go stack:\n%s\n%s", out, errOut)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers/sandboxes"
)

// TestConfigAnywhere: --config is taken before the command, after it,
// and after the file, and each way pays the file once.
func TestConfigAnywhere(t *testing.T) {
	dir := t.TempDir()
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
	teemopay := func(prefix string) []batch.Row {
		var rows []batch.Row
		for _, r := range demoRows(prefix, 16) {
			if r.Provider == "teemopay" {
				rows = append(rows, r)
			}
		}
		return rows
	}
	rows := teemopay("A")
	for i, args := range [][]string{
		{"process", "--config", cfgPath, "--wait", "0", "FILE"},
		{"--config", cfgPath, "process", "--wait=0", "FILE"},
		{"process", "FILE", "--wait", "0", "--config=" + cfgPath},
	} {
		rows = teemopay(string(rune('A' + i)))
		file := filepath.Join(dir, "payouts-"+string(rune('a'+i))+".csv")
		if err := writeDemoFile(file, rows, false); err != nil {
			t.Fatal(err)
		}
		for k := range args {
			if args[k] == "FILE" {
				args[k] = file
			}
		}
		code, out, errOut := runCLI(t, args...)
		if code != exitOK || !strings.Contains(out, "Batch ") || !strings.Contains(out, plural(len(rows), "row")) {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	created := map[string]int{}
	for _, e := range land.Kit("teemopay").Ledger.Entries() {
		created[e.Reference]++
	}
	if len(created) != 3*len(rows) {
		t.Errorf("%d payouts at TeemoPay, want %d", len(created), 3*len(rows))
	}
	for ref, n := range created {
		if n != 1 {
			t.Errorf("%s created %d times", ref, n)
		}
	}
}

// TestNoJournalWhenTheConfigCannotPay: process and resume with no provider
// enabled stop with exit 2 before anything is ingested: no journal file.
func TestNoJournalWhenTheConfigCannotPay(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "payouts.csv")
	if err := writeDemoFile(file, demoRows("N", 8), false); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := os.WriteFile(cfgPath, []byte("journal: journal/payrun.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"process", "--config", cfgPath, file}, {"resume", "--config", cfgPath}} {
		code, out, errOut := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(errOut, "no provider is enabled") {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "journal")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the journal's folder exists after refused commands (%v)", err)
	}
	// Without any configuration, in the working directory.
	t.Chdir(dir)
	if code, _, errOut := runCLI(t, "process", file); code != exitUsage || !strings.Contains(errOut, "no provider is enabled") {
		t.Errorf("process with no configuration: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "payrun.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("payrun.db exists after a refused process (%v)", err)
	}
	// A dry run reads no journal into existence either.
	if code, out, errOut := runCLI(t, "process", "--dry-run", file); code != exitOK || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "payrun.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("payrun.db exists after a dry run (%v)", err)
	}
}

// TestVersion: --version and the version command say the same.
func TestVersion(t *testing.T) {
	c1, v1, _ := runCLI(t, "--version")
	c2, v2, _ := runCLI(t, "version")
	if c1 != exitOK || c2 != exitOK || v1 != v2 || !strings.HasPrefix(v1, "payrun ") {
		t.Fatalf("--version %d %q, version %d %q", c1, v1, c2, v2)
	}
}

// TestHelpOneDashStyle: every command's help and usage write options with
// two dashes, as they are typed; none shows a Go duration's "0s" tail.
func TestHelpOneDashStyle(t *testing.T) {
	single := regexp.MustCompile(`(^|[\s\[(])-[a-z][a-z-]+`)
	_, top, _ := runCLI(t, "--help")
	if m := single.FindString(top); m != "" {
		t.Errorf("payrun --help shows %q", m)
	}
	for _, c := range commands() {
		code, out, errOut := runCLI(t, c.Name, "--help")
		if code != exitOK || !strings.Contains(out, "Usage: payrun "+c.Name) || !strings.Contains(out, "--config FILE") {
			t.Errorf("%s --help: exit %d\n%s%s", c.Name, code, out, errOut)
			continue
		}
		if m := single.FindString(out); m != "" {
			t.Errorf("%s --help shows %q:\n%s", c.Name, m, out)
		}
		if strings.Contains(out, "m0s") || strings.Contains(out, "[=true|false]") {
			t.Errorf("%s --help:\n%s", c.Name, out)
		}
	}
	code, _, errOut := runCLI(t, "process", "-dry-run", "x.csv")
	if code != exitUsage || !strings.Contains(errOut, "two dashes: --dry-run") {
		t.Errorf("-dry-run: exit %d\n%s", code, errOut)
	}
}

func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int
		noun string
		want string
	}{{1, "payout", "1 payout"}, {2, "payout", "2 payouts"}, {0, "batch", "0 batches"}, {1, "batch", "1 batch"},
		{3, "webhook event", "3 webhook events"}, {2, "entry", "2 entries"}, {2, "day", "2 days"}} {
		if got := plural(c.n, c.noun); got != c.want {
			t.Errorf("plural(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
	if e := (&config.Error{Problems: []string{"x"}}).Error(); !strings.Contains(e, "1 problem:") {
		t.Errorf("config error: %q", e)
	}
}

// TestLogDurationsAsText: a duration in a JSON log line is text a person
// reads, not nanoseconds.
func TestLogDurationsAsText(t *testing.T) {
	var b bytes.Buffer
	cfg := config.Default()
	cfg.Log.Format = "json"
	newLogger(cfg, &b).Info("run ended", "duration", 1500*time.Millisecond, "wait", 10*time.Minute)
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["duration"] != "1.5s" || line["wait"] != "10m" {
		t.Errorf("log line: %s", b.String())
	}
}

// TestConfigCheckListsEverything: every bad value of issue 25 in one run,
// each under the key the file writes, with a type error beside them, and
// the same messages from serve's start-up.
func TestConfigCheckListsEverything(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "payrun.yaml")
	yaml := `journal: payrun.db
providers:
  monnet:
    enabled: true
    base_url: htp://cert.api.payout.monnet.io
    api_key: env:PAYRUN_TEST_NO_SUCH_KEY
    api_secret: file:` + filepath.Join(dir, "no-such-secret") + `
dispatch:
  max_attempts: 0
  backoff_max: soon
reports:
  to: [not-an-email]
serve:
  listen: 8080
  cutoff: "0 25 * * *"
`
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`providers.monnet.base_url "htp://cert.api.payout.monnet.io": want an http:// or https:// URL`,
		`dispatch.max_attempts 0: must be at least 1`,
		`dispatch.backoff_max (line 10): "soon" is not a duration`,
		`reports.to[0] "not-an-email": not an email address`,
		`serve.listen "8080": want host:port`,
		`serve.cutoff "0 25 * * *": end of range (25) above maximum (23)`,
		`providers.monnet.api_key env:PAYRUN_TEST_NO_SUCH_KEY: environment variable PAYRUN_TEST_NO_SUCH_KEY is not set`,
		`providers.monnet.api_secret file:`,
	}
	code, out, errOut := runCLI(t, "config", "check", "--config", cfgPath)
	if code != exitUsage {
		t.Fatalf("config check: exit %d\n%s%s", code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("config check does not say %q:\n%s", w, errOut)
		}
	}
	if !strings.Contains(errOut, "8 problems") || strings.Contains(errOut, "serve.dispatch") {
		t.Errorf("config check:\n%s", errOut)
	}
	code, _, serveErr := runCLI(t, "serve", "--config", cfgPath)
	if code != exitUsage || strings.TrimPrefix(serveErr, "payrun serve") != strings.TrimPrefix(errOut, "payrun config") {
		t.Errorf("serve's start-up says otherwise: exit %d\n%s\nconfig check said:\n%s", code, serveErr, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "payrun.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("serve opened the journal of a configuration it refused (%v)", err)
	}
}

// TestReconcileJSONMasked: reconcile --json masks account and document
// numbers as every report does (reports.mask, on by default), and shows
// them whole only when the configuration says reports.mask: false.
func TestReconcileJSONMasked(t *testing.T) {
	dir := t.TempDir()
	j, err := boltjournal.Open(filepath.Join(dir, "payrun.db"), boltjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	it := journaltest.ValidItem("m-1", "teemopay", 1000)
	it.State = journal.Submitted
	journaltest.Import(t, j, "B-mask", it)
	j.Close()
	account, document := it.Payout.Beneficiary.AccountNumber, it.Payout.Beneficiary.DocumentNumber
	for _, masked := range []bool{true, false} {
		cfgPath := filepath.Join(dir, "payrun.yaml")
		yaml := "journal: payrun.db\n"
		if !masked {
			yaml += "reports: {mask: false}\n"
		}
		if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "reconcile", "--open", "--no-poll", "--json", "--config", cfgPath)
		if code != exitOK || !strings.Contains(out, `"payout_id": "m-1"`) {
			t.Fatalf("reconcile --json: exit %d\n%s%s", code, out, errOut)
		}
		whole := strings.Contains(out, account) || strings.Contains(out, document)
		if whole == masked || masked && !strings.Contains(out, "****"+account[len(account)-4:]) {
			t.Errorf("mask %v: account %s, document %s in:\n%s", masked, account, document, out)
		}
	}
}

// TestConfigCheckConnect: with --connect, an SMTP server nobody answers at
// is a problem named by its key.
func TestConfigCheckConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "payrun.yaml")
	yaml := fmt.Sprintf("reports:\n  smtp: {host: 127.0.0.1, port: %d, tls: none}\n", port)
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, errOut := runCLI(t, "config", "check", "--config", cfgPath); strings.Contains(errOut, "cannot connect") {
		t.Errorf("without --connect the server was contacted:\n%s", errOut)
	}
	code, _, errOut := runCLI(t, "config", "check", "--connect", "--config", cfgPath)
	if code != exitUsage || !strings.Contains(errOut, "reports.smtp.host 127.0.0.1: cannot connect") {
		t.Errorf("config check --connect: exit %d\n%s", code, errOut)
	}
}

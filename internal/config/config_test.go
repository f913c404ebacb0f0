package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	if cfg.TimeZone != "America/Lima" || cfg.Providers["monnet"].RatePerSecond != 20 {
		t.Fatalf("unexpected values: %+v", cfg)
	}
}

func TestEveryProblemListed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := `timezone: Mars/Olympus
input: {on_invalid: maybe}
providers:
  teemopay: {enabled: true, private_key: "-----BEGIN PRIVATE KEY-----"}
dispatch:
  caps: [{scope: week, max_amount: {PEN: "1.005"}}]
reports: {smtp: {tls: sometimes}}
reconcile: {max_webhook_bytes: 104857600}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatal("expected errors")
	}
	for _, want := range []string{"timezone", "on_invalid", "base_url", "private_key", "scope", "max_amount", "smtp.tls", "max_webhook_bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "typo.yaml")
	if err := os.WriteFile(path, []byte("dispatch:\n  cap: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "cap") {
		t.Fatalf("a typo must be an error, got %v", err)
	}
}

// TestTypeErrorHidesNothing: values of the wrong type are each named by
// their key and line, and the other problems of the file are listed too.
func TestTypeErrorHidesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "types.yaml")
	yaml := `dispatch:
  max_attempts: many
  breaker_cooldown: 30s
reports: {to: not-a-list-of-addresses, from: "not an address"}
serve:
  listen: 8080
  stable_for: [5s]
  poll: "every five minutes"
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	ce, ok := err.(*Error)
	if !ok {
		t.Fatalf("want *Error, got %v", err)
	}
	want := []string{
		`dispatch.max_attempts (line 2): "many" is not a whole number`,
		`reports.to (line 4): "not-a-list-of-addresses" is not a list`,
		`serve.stable_for (line 7): a list is not a duration`,
		`reports.from "not an address": not an email address`,
		`serve.listen "8080": want host:port`,
		`serve.poll "every five minutes"`,
	}
	all := strings.Join(ce.Problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ce.Problems), len(want), all)
	}
}

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		check func(string) error
		in    string
		ok    bool
	}{
		{CheckURL, "https://api.example.com/v1", true}, {CheckURL, "http://127.0.0.1:8080", true},
		{CheckURL, "htp://api.example.com", false}, {CheckURL, "https://", false}, {CheckURL, "api.example.com", false},
		{CheckURL, "https://example.com:99999", false},
		{CheckEmail, "accounts@example.com", true}, {CheckEmail, "Accounts <accounts@example.com>", true},
		{CheckEmail, "not-an-email", false}, {CheckEmail, "a@", false}, {CheckEmail, "", false},
		{CheckListen, "127.0.0.1:8080", true}, {CheckListen, ":8080", true}, {CheckListen, "[::1]:0", true},
		{CheckListen, "8080", false}, {CheckListen, "localhost:http-alt", false}, {CheckListen, "127.0.0.1:70000", false},
	} {
		if err := c.check(c.in); (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok=%v", c.in, err, c.ok)
		}
	}
}

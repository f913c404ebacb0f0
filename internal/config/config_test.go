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

package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/config"
)

// Start-up's check refuses a beneficiary email template that names a
// field the email does not have, and a link key file others can read.
func TestCheckCollect(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Dir = dir
	cfg.Serve.PublicURL = "https://pay.example.com"
	cfg.Reports.BeneficiaryEmail = true
	if p := checkCollect(cfg); len(p) != 0 {
		t.Fatalf("defaults: %v", p)
	}
	if _, err := os.Stat(LinkKeyPath(cfg)); err == nil {
		t.Errorf("the check wrote the link key")
	}
	tmpl := filepath.Join(dir, "mail.txt")
	if err := os.WriteFile(tmpl, []byte("Hello {{.Nickname}}: {{.URL}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Reports.BeneficiaryTemplate = "mail.txt"
	if p := checkCollect(cfg); len(p) != 1 || !strings.Contains(p[0], "Nickname") {
		t.Errorf("template naming a missing field: %v", p)
	}
	cfg.Reports.BeneficiaryTemplate = ""
	if err := os.WriteFile(LinkKeyPath(cfg), []byte(strings.Repeat("A", 44)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if p := checkCollect(cfg); len(p) != 1 || !strings.Contains(p[0], "chmod 600") {
		t.Errorf("readable key file: %v", p)
	}
	if got := LinkKeyPath(cfg); got != filepath.Join(dir, "payrun.db.linkkey") {
		t.Errorf("key path %s", got)
	}
}

package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/providers/sandboxes"
)

// TestCheckNamesEverySecretAndFolder: every secret reference that does not
// resolve is named (not only the first), a folder that cannot be created
// is a problem, one that start-up will create is a note, and a complete
// configuration passes.
func TestCheckNamesEverySecretAndFolder(t *testing.T) {
	dir := t.TempDir()
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer land.Close()
	cfg := config.Default()
	cfg.Dir = dir
	for n, pc := range land.Configs {
		pc.Enabled = true
		cfg.Providers[n] = pc
	}
	if c := Check(context.Background(), cfg, CheckOptions{}); len(c.Problems) != 0 || c.Providers != len(land.Configs) {
		t.Fatalf("a complete configuration: %d providers built, problems %v", c.Providers, c.Problems)
	}
	if c := Check(context.Background(), cfg, CheckOptions{}); len(c.Notes) == 0 || !strings.Contains(c.Notes[0], "dirs.inbox") {
		t.Errorf("missing folders are not noted: %v", c.Notes)
	}

	mon := cfg.Providers["monnet"]
	mon.APIKey, mon.APISecret = "env:PAYRUN_TEST_UNSET_1", "env:PAYRUN_TEST_UNSET_2"
	cfg.Providers["monnet"] = mon
	tp := cfg.Providers["teemopay"]
	tp.PrivateKey = "file:" + filepath.Join(dir, "missing.pem")
	cfg.Providers["teemopay"] = tp
	blocker := filepath.Join(dir, "a-file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Dirs.Archive = filepath.Join(blocker, "archive")
	cfg.Dirs.Reports = blocker
	cfg.Reports.SMTP.Host, cfg.Reports.SMTP.Password = "smtp.example.com", "env:PAYRUN_TEST_UNSET_3"
	c := Check(context.Background(), cfg, CheckOptions{})
	all := strings.Join(c.Problems, "\n")
	for _, want := range []string{
		"providers.monnet.api_key env:PAYRUN_TEST_UNSET_1: environment variable PAYRUN_TEST_UNSET_1 is not set",
		"providers.monnet.api_secret env:PAYRUN_TEST_UNSET_2:",
		"providers.teemopay.private_key file:",
		"reports.smtp.password env:PAYRUN_TEST_UNSET_3",
		"dirs.archive " + cfg.Dirs.Archive + ": missing, and " + blocker + " is not a folder",
		"dirs.reports " + blocker + ": not a folder",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if len(c.Problems) != 6 {
		t.Errorf("%d problems, want 6:\n%s", len(c.Problems), all)
	}
}

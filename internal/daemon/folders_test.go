package daemon

import (
	"errors"
	"os"
	"testing"

	"github.com/payrun/payrun/internal/config"
)

// TestDaemonMakesTheApprovalsFolder: with preflight.approval_dir set,
// start-up makes the folder (config check says it will, and a held
// batch's message tells the approver to drop a file there), with the mode
// of the reports and outbox folders.
func TestDaemonMakesTheApprovalsFolder(t *testing.T) {
	b := startDaemon(t, func(cfg *config.Config) { cfg.Preflight.ApprovalDir = "approvals" })
	reports, err := os.Stat(b.cfg.Abs(b.cfg.Dirs.Reports))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(b.cfg.Abs("approvals"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("approvals folder: %v %v", fi, err)
	}
	if fi.Mode().Perm() != reports.Mode().Perm() {
		t.Errorf("approvals folder mode %v, reports %v", fi.Mode().Perm(), reports.Mode().Perm())
	}

	// Without the setting there is no such folder.
	b = startDaemon(t, nil)
	if _, err := os.Stat(b.cfg.Abs("approvals")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("approvals folder without preflight.approval_dir: %v", err)
	}
}

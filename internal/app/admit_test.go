package app

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
)

// TestAdmitGatesOnce: batches journaled without their pre-flight get it
// before they are sent: the one above the threshold is held, the other
// admitted; each gets one pre-flight message however often it is
// admitted. A batch held by an operator and released by its approval
// file is admitted, not held again by a pre-flight it never had.
func TestAdmitGatesOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Dir = dir
	cfg.Preflight.Enabled = true
	cfg.Preflight.HoldAbove = map[string]string{"PEN": "100.00"}
	cfg.Preflight.ApprovalDir = "approvals"
	cfg.Preflight.DuplicateLookback = 0
	j := testjournal.Open(t, nil)
	a := &App{Config: cfg, Journal: j, Log: slog.New(slog.DiscardHandler)}
	journalBatch := func(id string, minor int64) {
		t.Helper()
		it := journaltest.ValidItem(id+"-1", "teemopay", minor)
		it.Row = 2
		b := journal.Batch{ID: id, File: id + ".csv", Rows: 1, Valid: 1,
			Totals: []journal.Total{{Currency: "PEN", Provider: "teemopay", Count: 1, Amount: minor}}}
		if err := j.Import(ctx, b, []journal.Item{it}); err != nil {
			t.Fatal(err)
		}
	}
	messages := func() int {
		emls, _ := filepath.Glob(filepath.Join(dir, cfg.Dirs.Outbox, "*.eml"))
		return len(emls)
	}
	journalBatch("B-small", 5000)
	journalBatch("B-big", 513050)
	for pass := 1; pass <= 2; pass++ {
		send, held, err := a.Admit(ctx, []string{"B-small", "B-big"})
		if err != nil {
			t.Fatal(err)
		}
		if len(send) != 1 || send[0] != "B-small" || len(held) != 1 || !held["B-big"].Held ||
			!strings.Contains(held["B-big"].Reason, "5130.50 PEN") {
			t.Fatalf("pass %d: send %v, held %+v", pass, send, held)
		}
		if n := messages(); n != 2 {
			t.Fatalf("pass %d: %d pre-flight messages, want one a batch", pass, n)
		}
	}
	for _, id := range []string{"B-small", "B-big"} {
		if b, _ := j.Batch(ctx, id); b.Preflighted.IsZero() {
			t.Errorf("%s does not record its pre-flight", id)
		}
	}

	journalBatch("B-op", 513050)
	if err := dispatch.Hold(ctx, j, "B-op", "ana", "checking"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "approvals"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "approvals", "B-op"+ApprovedSuffix), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	send, held, err := a.Admit(ctx, []string{"B-op"})
	if err != nil || len(send) != 1 || len(held) != 0 {
		t.Fatalf("a held batch with its approval file: send %v, held %+v, %v", send, held, err)
	}
	if b, _ := j.Batch(ctx, "B-op"); b.State != journal.BatchAccepted || b.Approved.IsZero() {
		t.Fatalf("released by its approval file: %s, approved %v", b.State, b.Approved)
	}
}

// TestToSend: the sentence a command prints of a held batch quotes only
// the command, and says who may approve under maker-checker.
func TestToSend(t *testing.T) {
	for _, tt := range []struct {
		dir      string
		distinct bool
		want     string
	}{
		{"", false, "Run 'payrun approve B1' to send it."},
		{"approvals", false, "Run 'payrun approve B1', or drop /srv/approvals/B1.approved, to send it."},
		{"", true, "Run 'payrun approve B1' to send it (someone other than who dropped the file must approve it)."},
		{"approvals", true, "Run 'payrun approve B1', or drop /srv/approvals/B1.approved, to send it" +
			" (someone other than who dropped the file must approve it)."},
	} {
		cfg := config.Default()
		cfg.Dir = "/srv"
		cfg.Preflight.ApprovalDir, cfg.Preflight.RequireDistinctApprover = tt.dir, tt.distinct
		if got := (&App{Config: cfg}).ToSend("B1"); got != tt.want {
			t.Errorf("dir %q, distinct %v:\n got %s\nwant %s", tt.dir, tt.distinct, got, tt.want)
		}
	}
}

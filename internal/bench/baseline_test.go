package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
)

// TestBaselinesReadTheJournalsFile: the bare baselines of recovery,
// matching and the report read a journal's file with bare bbolt, so they
// must read the items as the journal stores them (compressed since schema
// 7). Each side finds as many rows as the journal's own, and the recovery
// baseline as many items in doubt.
func TestBaselinesReadTheJournalsFile(t *testing.T) {
	const n = 100 * InFlight // InFlight in sending, as the bench builds it
	dir := t.TempDir()
	path := filepath.Join(dir, "journal.db")
	j, err := boltjournal.Open(path, boltjournal.Options{NoSync: true, Now: func() time.Time { return genEpoch }})
	if err != nil {
		t.Fatal(err)
	}
	b := journal.Batch{ID: journalBatch, File: "payouts.csv", Rows: n, Valid: n, Created: genEpoch, State: journal.BatchDispatching}
	items := make([]journal.Item, 0, n)
	for i := range n {
		items = append(items, Item(journalBatch, i, journalState(i, n, InFlight)))
	}
	if err := j.Import(context.Background(), b, items); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	ours, err := MatchOurs(path)
	if err != nil {
		t.Fatal(err)
	}
	base, err := MatchBaseline(path)
	if err != nil || base.Items != ours.Items {
		t.Fatalf("match baseline read %d rows (%v), the matcher %d", base.Items, err, ours.Items)
	}
	reportDir := filepath.Join(dir, "report")
	if err := os.MkdirAll(reportDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ours, err = ReportJournalOurs(path, reportDir)
	if err != nil {
		t.Fatal(err)
	}
	base, err = ReportJournalBaseline(path, reportDir)
	if err != nil || base.Items != ours.Items {
		t.Fatalf("report baseline wrote %d rows (%v), the report %d", base.Items, err, ours.Items)
	}
	ours, err = RecoveryOurs(path)
	if err != nil {
		t.Fatal(err)
	}
	base, err = RecoveryBaseline(path)
	if err != nil || base.Extra["in_doubt"] != ours.Extra["in_doubt"] || base.Extra["in_doubt"] == 0 {
		t.Fatalf("recovery baseline found %v in doubt (%v), the journal %v", base.Extra["in_doubt"], err, ours.Extra["in_doubt"])
	}
}

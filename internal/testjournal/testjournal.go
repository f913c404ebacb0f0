package testjournal

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
)

// Open opens a fresh journal for t with the clock now (nil: time.Now).
func Open(t testing.TB, now func() time.Time) journal.Journal {
	t.Helper()
	j, err := boltjournal.Open(filepath.Join(t.TempDir(), "journal.db"), boltjournal.Options{Now: now})
	if err != nil {
		t.Fatalf("open journal: %v", err)
	}
	t.Cleanup(func() {
		if err := j.Check(context.Background()); err != nil {
			t.Errorf("journal consistency check: %v", err)
		}
		if err := j.Close(); err != nil {
			t.Errorf("close journal: %v", err)
		}
	})
	return j
}

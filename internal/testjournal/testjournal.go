package testjournal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/pgjournal"
)

// Env names the driver tests run on: "postgres", or bbolt when unset.
const Env = "PAYRUN_TEST_JOURNAL"

// Postgres reports whether tests run on PostgreSQL.
func Postgres() bool { return os.Getenv(Env) == "postgres" }

// Open opens a fresh journal for t with the clock now (nil: time.Now).
func Open(t testing.TB, now func() time.Time) journal.Journal {
	t.Helper()
	var j journal.Journal
	var err error
	if Postgres() {
		j, err = pgjournal.Open(context.Background(), pgtest.New(t, pgjournal.Migrate), pgjournal.Options{Now: now})
	} else {
		j, err = boltjournal.Open(filepath.Join(t.TempDir(), "journal.db"), boltjournal.Options{Now: now})
	}
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

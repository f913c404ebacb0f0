package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/drivers"
)

// testJournalLocation points cfg's journal at the driver the test run
// names: a file under dir by default, a database of the test's own when
// PAYRUN_TEST_JOURNAL=postgres. It returns the location.
func testJournalLocation(t *testing.T, cfg *config.Config, dir string) string {
	t.Helper()
	if testjournal.Postgres() {
		cfg.Journal = pgtest.New(t, nil)
		return cfg.Journal
	}
	return filepath.Join(dir, cfg.Journal)
}

// openTestJournal opens the journal a test's payrun processes wrote.
func openTestJournal(t *testing.T, location string) journal.Journal {
	t.Helper()
	j, err := drivers.Open(context.Background(), location, drivers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

package pgjournal_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/journal/pgjournal"
)

var bg = context.Background()

// store is one test database.
type store struct {
	dsn string
	now func() time.Time
}

func (s store) Open() (journal.Journal, error) {
	j, err := pgjournal.Open(bg, s.dsn, pgjournal.Options{Now: s.now})
	if err != nil {
		return nil, err
	}
	return checked{j}, nil
}

// checked runs the journal's check before it closes.
type checked struct{ *pgjournal.Journal }

func (c checked) Close() error {
	if err := c.Check(bg); err != nil {
		c.Journal.Close()
		return err
	}
	return c.Journal.Close()
}

func harness() journaltest.Harness {
	return journaltest.Harness{
		Fresh: func(t testing.TB, now func() time.Time) journaltest.Store {
			return store{dsn: pgtest.New(t, pgjournal.Migrate), now: now}
		},
		// The copy cases copy to bbolt and back.
		Other: func(t testing.TB, now func() time.Time) journaltest.Store {
			return boltStore{path: filepath.Join(t.TempDir(), "journal.db"), now: now}
		},
		Newer: func(t testing.TB, s journaltest.Store) {
			j, err := pgjournal.Open(bg, s.(store).dsn, pgjournal.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if err := pgjournal.MarkNewer(bg, j); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// boltStore is a bbolt journal file, the other end of the copy cases.
type boltStore struct {
	path string
	now  func() time.Time
}

func (s boltStore) Open() (journal.Journal, error) {
	return boltjournal.Open(s.path, boltjournal.Options{Now: s.now})
}

func TestConformance(t *testing.T) { journaltest.Exercise(t, harness()) }

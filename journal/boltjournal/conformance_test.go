package boltjournal_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
	bolt "go.etcd.io/bbolt"
)

// store is one journal file in a test's temporary directory.
type store struct {
	path string
	now  func() time.Time
}

func (s store) Open() (journal.Journal, error) {
	j, err := boltjournal.Open(s.path, boltjournal.Options{Now: s.now})
	if err != nil {
		return nil, err
	}
	return checked{j}, nil
}

// checked runs bbolt's page check before the journal closes.
type checked struct{ *boltjournal.Journal }

func (c checked) Close() error {
	if err := c.Check(context.Background()); err != nil {
		c.Journal.Close()
		return err
	}
	return c.Journal.Close()
}

func harness() journaltest.Harness {
	return journaltest.Harness{
		Fresh: func(t testing.TB, now func() time.Time) journaltest.Store {
			return store{path: filepath.Join(t.TempDir(), "journal.db"), now: now}
		},
		Newer: func(t testing.TB, s journaltest.Store) {
			db, err := bolt.Open(s.(store).path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error {
				return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("99"))
			}); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func TestConformance(t *testing.T) { journaltest.Exercise(t, harness()) }

package boltjournal

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newJournal opens a journal in t.TempDir() that is checked and closed
// when the test ends.
func newJournal(t *testing.T) *Journal {
	t.Helper()
	j := openJournal(t, filepath.Join(t.TempDir(), "journal.db"))
	t.Cleanup(func() {
		if err := j.Check(ctx); err != nil {
			t.Errorf("journal check: %v", err)
		}
		j.Close()
	})
	return j
}

func openJournal(t *testing.T, path string) *Journal {
	t.Helper()
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

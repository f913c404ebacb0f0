package drivers_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/payrun/payrun/journal/drivers"
)

// TestIsPostgresReadsReferences: a secret reference is PostgreSQL when it
// holds a postgres:// URL, whatever its own text; one that cannot be read
// is not.
func TestIsPostgresReadsReferences(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PAYRUN_TEST_JOURNAL_URL", "postgres://payrun:pw@db/payrun")
	t.Setenv("PAYRUN_TEST_JOURNAL_PATH", filepath.Join(dir, "journal.db"))
	urlFile := filepath.Join(dir, "journal-url")
	if err := os.WriteFile(urlFile, []byte("postgresql://payrun:pw@db/payrun\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for loc, want := range map[string]bool{
		"postgres://db/payrun":                  true,
		"postgresql://db/payrun":                true,
		"env:PAYRUN_TEST_JOURNAL_URL":           true,
		"file:" + urlFile:                       true,
		"payrun.db":                             false,
		"/var/lib/payrun/payrun.db":             false,
		"env:PAYRUN_TEST_JOURNAL_PATH":          false,
		"env:PAYRUN_TEST_JOURNAL_UNSET":         false,
		"file:" + filepath.Join(dir, "missing"): false,
	} {
		if got := drivers.IsPostgres(loc); got != want {
			t.Errorf("IsPostgres(%q) = %v, want %v", loc, got, want)
		}
	}
}

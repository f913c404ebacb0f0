package drivers_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal/drivers"
	"github.com/payrun/payrun/journal/pgjournal"
)

var bg = context.Background()

func TestSecretReferences(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	t.Setenv("PAYRUN_TEST_JOURNAL_LOCATION", path)
	ref := filepath.Join(t.TempDir(), "journal-url")
	if err := os.WriteFile(ref, []byte(path+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{"env:PAYRUN_TEST_JOURNAL_LOCATION", "file:" + ref} {
		j, err := drivers.Open(bg, loc, drivers.Options{})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		inf, _ := j.Info(bg)
		j.Close()
		if inf.Driver != "bolt" || inf.Location != path {
			t.Fatalf("%s opened %+v, want the bbolt file %s", loc, inf, path)
		}
	}
	if _, err := drivers.Open(bg, "env:PAYRUN_TEST_NO_SUCH_VARIABLE", drivers.Options{}); err == nil || !strings.Contains(err.Error(), "PAYRUN_TEST_NO_SUCH_VARIABLE") {
		t.Fatalf("an unset variable: %v", err)
	}
}

func TestPostgresLocation(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	t.Setenv("PAYRUN_TEST_JOURNAL_URL", dsn)
	for _, loc := range []string{dsn, "env:PAYRUN_TEST_JOURNAL_URL"} {
		j, err := drivers.Open(bg, loc, drivers.Options{})
		if err != nil {
			t.Fatalf("%s: %v", loc, err)
		}
		inf, _ := j.Info(bg)
		j.Close()
		if inf.Driver != "postgres" || !inf.Shared {
			t.Fatalf("%s opened %+v", loc, inf)
		}
	}
	if !drivers.IsPostgres("postgresql://db/payrun") || drivers.IsPostgres("/var/lib/payrun/journal.db") {
		t.Fatal("IsPostgres")
	}
}

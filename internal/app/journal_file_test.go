package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/config"
)

// journalLocations sets up every way a configuration names its journal:
// a file (relative, absolute), a PostgreSQL URL written in the file, and
// secret references (env:, file:) holding a URL or a file's path. It
// returns the configuration's dir and the cases: the journal setting and
// the file it is (or "" for PostgreSQL).
func journalLocations(t *testing.T) (dir string, cases []struct{ name, journal, file string }) {
	dir = t.TempDir()
	const pgURL = "postgres://payrun:s3cret-pw@db.internal:5432/payrun?sslmode=verify-full"
	t.Setenv("PAYRUN_TEST_JOURNAL_URL", pgURL)
	t.Setenv("PAYRUN_TEST_JOURNAL_PATH", filepath.Join(dir, "elsewhere", "j.db"))
	urlFile := filepath.Join(dir, "journal-url")
	if err := os.WriteFile(urlFile, []byte(pgURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pathFile := filepath.Join(dir, "journal-path")
	if err := os.WriteFile(pathFile, []byte("relative.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases = []struct{ name, journal, file string }{
		{"default", "payrun.db", filepath.Join(dir, "payrun.db")},
		{"absolute", "/var/lib/payrun/payrun.db", "/var/lib/payrun/payrun.db"},
		{"postgres URL", pgURL, ""},
		{"postgresql URL", "postgresql://db.internal/payrun", ""},
		{"env: holding a URL", "env:PAYRUN_TEST_JOURNAL_URL", ""},
		{"file: holding a URL", "file:" + urlFile, ""},
		{"env: holding a path", "env:PAYRUN_TEST_JOURNAL_PATH", filepath.Join(dir, "elsewhere", "j.db")},
		{"file: holding a relative path", "file:" + pathFile, filepath.Join(dir, "relative.db")},
		{"env: not set", "env:PAYRUN_TEST_JOURNAL_UNSET", ""},
	}
	return dir, cases
}

// TestJournalFile: a journal given as a secret reference is a file or a
// database by what the reference holds, never by its own text, so nothing
// is kept beside a file named "env:...".
func TestJournalFile(t *testing.T) {
	dir, cases := journalLocations(t)
	for _, c := range cases {
		cfg := config.Default()
		cfg.Dir = dir
		cfg.Journal = c.journal
		if got := JournalFile(cfg); got != c.file {
			t.Errorf("%s: JournalFile = %q, want %q", c.name, got, c.file)
		}
	}
}

// TestLinkKeyPath: the link key is beside the journal file, in dir for
// a PostgreSQL journal however it is named, and serve.link_key wins.
func TestLinkKeyPath(t *testing.T) {
	dir, cases := journalLocations(t)
	for _, c := range cases {
		cfg := config.Default()
		cfg.Dir = dir
		cfg.Journal = c.journal
		want := filepath.Join(dir, "payrun.linkkey")
		if c.file != "" {
			want = c.file + ".linkkey"
		}
		if got := LinkKeyPath(cfg); got != want {
			t.Errorf("%s: LinkKeyPath = %q, want %q", c.name, got, want)
		}
		cfg.Serve.LinkKey = "keys/link.key"
		if got := LinkKeyPath(cfg); got != filepath.Join(dir, "keys", "link.key") {
			t.Errorf("%s with serve.link_key: LinkKeyPath = %q", c.name, got)
		}
	}
}

// TestJournalName: messages name the file, or the database as the
// configuration does, never with its password.
func TestJournalName(t *testing.T) {
	dir, cases := journalLocations(t)
	for _, c := range cases {
		cfg := config.Default()
		cfg.Dir = dir
		cfg.Journal = c.journal
		got := JournalName(cfg)
		switch {
		case strings.Contains(got, "s3cret"):
			t.Errorf("%s: JournalName %q shows the password", c.name, got)
		case c.file != "" && got != c.file:
			t.Errorf("%s: JournalName %q, want the file %s", c.name, got, c.file)
		case strings.HasPrefix(c.journal, "env:") || strings.HasPrefix(c.journal, "file:"):
			if c.file == "" && got != c.journal {
				t.Errorf("%s: JournalName %q, want the reference %s", c.name, got, c.journal)
			}
		}
	}
}

// TestCheckJournalReference: a journal reference that cannot be read is
// a problem naming it; one holding a PostgreSQL URL is not a file, so
// nothing is said of a folder for it.
func TestCheckJournalReference(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Dir = dir
	cfg.Journal = "env:PAYRUN_TEST_JOURNAL_UNSET"
	c := Check(context.Background(), cfg, CheckOptions{})
	if !strings.Contains(strings.Join(c.Problems, "\n"), "journal location env:PAYRUN_TEST_JOURNAL_UNSET: environment variable PAYRUN_TEST_JOURNAL_UNSET is not set") {
		t.Errorf("an unset journal reference: problems %v", c.Problems)
	}
	t.Setenv("PAYRUN_TEST_JOURNAL_URL", "postgres://payrun:s3cret-pw@db.internal/payrun")
	cfg.Journal = "env:PAYRUN_TEST_JOURNAL_URL"
	c = Check(context.Background(), cfg, CheckOptions{})
	for _, s := range append(c.Problems, c.Notes...) {
		if strings.Contains(s, "journal") || strings.Contains(s, "s3cret") {
			t.Errorf("a PostgreSQL journal by reference: %q", s)
		}
	}
}

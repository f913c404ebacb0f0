package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/pgtest"
)

// TestSocketPath: the control socket is beside the journal file, the file
// a secret reference holds included, and there is none for PostgreSQL
// however the configuration names it: a reference's own text names no
// file.
func TestSocketPath(t *testing.T) {
	dir := t.TempDir()
	const pgURL = "postgres://payrun:s3cret-pw@db.internal:5432/payrun"
	t.Setenv("PAYRUN_TEST_JOURNAL_URL", pgURL)
	t.Setenv("PAYRUN_TEST_JOURNAL_PATH", filepath.Join(dir, "j.db"))
	urlFile := filepath.Join(dir, "journal-url")
	if err := os.WriteFile(urlFile, []byte(pgURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ journal, want string }{
		{"payrun.db", filepath.Join(dir, "payrun.db.sock")},
		{"/var/lib/payrun/payrun.db", "/var/lib/payrun/payrun.db.sock"},
		{"/" + strings.Repeat("d", 100) + "/payrun.db", ""}, // too long for a socket
		{pgURL, ""},
		{"env:PAYRUN_TEST_JOURNAL_URL", ""},
		{"file:" + urlFile, ""},
		{"env:PAYRUN_TEST_JOURNAL_PATH", filepath.Join(dir, "j.db.sock")},
		{"env:PAYRUN_TEST_JOURNAL_UNSET", ""},
	} {
		cfg := config.Default()
		cfg.Dir = dir
		cfg.Journal = c.journal
		if got := SocketPath(cfg); got != c.want {
			t.Errorf("journal %s: SocketPath = %q, want %q", c.journal, got, c.want)
		}
	}
}

// TestDaemonOnPostgresByReference: a daemon whose journal is
// `env:NAME` holding a PostgreSQL URL (as docs/OPERATIONS.md writes it)
// has no control socket, creates no file named after the reference, keeps
// its link key in dir, and never logs the password.
func TestDaemonOnPostgresByReference(t *testing.T) {
	dsn := pgtest.New(t, nil)
	t.Setenv("PAYRUN_TEST_JOURNAL_URL", dsn)
	b := startDaemon(t, func(cfg *config.Config) {
		cfg.Journal = "env:PAYRUN_TEST_JOURNAL_URL"
		cfg.Serve.PublicURL = "http://127.0.0.1:1"
	})
	if b.d.Control != nil {
		t.Errorf("a control socket at %s", b.d.Control.Path)
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "env:") || strings.HasSuffix(e.Name(), ".sock") {
			t.Errorf("%s in dir", e.Name())
		}
	}
	if got := app.LinkKeyPath(b.cfg); got != filepath.Join(b.dir, "payrun.linkkey") {
		t.Errorf("link key at %s", got)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "payrun.linkkey")); err != nil {
		t.Errorf("link key: %v", err)
	}
	serving := b.logs.lines("payrun serving")
	if len(serving) != 1 || serving[0]["control"] != "" {
		t.Errorf("serving log: %v", serving)
	}
	if _, pw, ok := strings.Cut(strings.TrimPrefix(dsn, "postgres://"), ":"); ok {
		if pw, _, ok = strings.Cut(pw, "@"); ok && pw != "" && strings.Contains(b.logs.String(), pw) {
			t.Errorf("the log shows the database password")
		}
	}
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestTruncatedJournalIsAnError: a journal file cut short of the pages
// its meta page names, where bbolt would read past the end of the file
// (a SIGBUS, which ends the process), is refused by `payrun status` and
// `payrun journal check` with exit 3, the file named, what is wrong and
// what to do; a file that still holds every page is checked clean.
func TestTruncatedJournalIsAnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payrun.db")
	raw := writeJournal(t, path)
	need, pageSize := pagesOf(t, path)
	cfg := filepath.Join(dir, "payrun.yaml")
	if err := os.WriteFile(cfg, []byte("journal: "+path+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{2*pageSize + 1, need / 3, need/2 + 123, need - pageSize, need - 1, need} {
		if err := os.WriteFile(path, raw[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"status"}, {"journal", "check"}} {
			code, out, errOut := runCLI(t, append([]string{"--config", cfg}, args...)...)
			if strings.Contains(out+errOut, "goroutine") || strings.Contains(out+errOut, "fatal error") {
				t.Errorf("%v on %d bytes: a Go stack\n%s%s", args, size, out, errOut)
			}
			if size == need {
				if code != exitOK {
					t.Errorf("%v on %d bytes, every page there: exit %d\n%s", args, size, code, errOut)
				}
				continue
			}
			want := fmt.Sprintf("the file holds %d bytes but its pages need %d", size, need)
			if code != exitRuntime || !strings.Contains(errOut, "journal is damaged: "+path) || !strings.Contains(errOut, want) ||
				!strings.Contains(errOut, "cut short") || !strings.Contains(errOut, "restore it from the last backup") {
				t.Errorf("%v on %d bytes of %d: exit %d, want %d\nstdout: %s\nstderr: %s", args, size, need, code, exitRuntime, out, errOut)
			}
		}
	}
}

// pagesOf returns the bytes the pages of the bbolt file at path take, as
// bbolt reads its meta page, and its page size.
func pagesOf(t *testing.T, path string) (need, pageSize int64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error { need = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return need, int64(db.Info().PageSize)
}

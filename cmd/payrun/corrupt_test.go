package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
)

// TestDamagedJournalIsAnError: a journal file cut short, with random bytes
// over its pages, or too short to be one is refused by every command with
// exit 3, the file named and what to do, never a Go stack, and the file is
// left as it was for the operator.
func TestDamagedJournalIsAnError(t *testing.T) {
	damages := map[string]func(b []byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		"random bytes in a page": func(b []byte) []byte {
			rng := rand.New(rand.NewPCG(1, 2))
			for i := 4 * 4096; i < len(b); i++ { // past the meta and freelist pages
				b[i] = byte(rng.UintN(256))
			}
			return b
		},
		"random bytes in the meta pages": func(b []byte) []byte {
			rng := rand.New(rand.NewPCG(3, 4))
			for i := 0; i < 2*4096; i++ {
				b[i] = byte(rng.UintN(256))
			}
			return b
		},
		"shorter than a page": func(b []byte) []byte { return b[:100] },
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "payrun.db")
			j, err := boltjournal.Open(path, boltjournal.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for b := range 3 {
				its := make([]journal.Item, 500)
				for i := range its {
					its[i] = journaltest.ValidItem(fmt.Sprintf("P%d-%d", b, i), "teemopay", 1000)
				}
				journaltest.Import(t, j, fmt.Sprintf("B%d", b), its...)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			bad := damage(bytes.Clone(raw))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "payrun.yaml")
			if err := os.WriteFile(cfg, []byte("journal: payrun.db\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// resume with no provider enabled stops at the configuration,
			// before the journal is opened.
			if code, _, errOut := runCLI(t, "resume", "--config", cfg); code != exitUsage || !strings.Contains(errOut, "no provider is enabled") {
				t.Errorf("resume with no provider: exit %d\n%s", code, errOut)
			}
			for _, args := range [][]string{{"status"}, {"journal", "check"}, {"reconcile", "--no-poll"}} {
				code, out, errOut := runCLI(t, append([]string{"--config", cfg}, args...)...)
				if code != exitRuntime || !strings.Contains(errOut, "damaged") || !strings.Contains(errOut, "restore it from the last backup") ||
					!strings.Contains(errOut, path) || strings.Contains(errOut+out, "goroutine") {
					t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
				}
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, bad) {
				t.Error("a damaged journal was changed")
			}
		})
	}
}

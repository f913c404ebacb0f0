package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
)

// TestDamagedJournalIsAnError: a journal file cut short, with random bytes
// over its pages, with page pointers or page lengths past its end, or too
// short to be one is refused by every command with
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
		// Every branch page points its children far past the end of the
		// file (and of what bbolt maps).
		"page pointers past the end": func(b []byte) []byte {
			const page, header, elem = 4096, 16, 16
			for off := 2 * page; off+page <= len(b); off += page {
				if binary.LittleEndian.Uint16(b[off+8:]) != 0x01 { // a branch page
					continue
				}
				for k := range int(binary.LittleEndian.Uint16(b[off+10:])) {
					binary.LittleEndian.PutUint64(b[off+header+k*elem+8:], 1<<40)
				}
			}
			return b
		},
		// Every leaf page says it runs on over far more pages than the
		// file holds: bbolt's own walk, when it opens the file for
		// writing, finds pages counted twice, and panics.
		"page overflows past the end": func(b []byte) []byte {
			const page = 4096
			for off := 2 * page; off+page <= len(b); off += page {
				if binary.LittleEndian.Uint16(b[off+8:]) == 0x02 { // a leaf page
					binary.LittleEndian.PutUint32(b[off+12:], 1<<16)
				}
			}
			return b
		},
	}
	bin := buildPayrun(t)
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "payrun.db")
			raw := writeJournal(t, path)
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
			// Each command in a process of its own, as an operator runs
			// them: a read that faults would end it, and a file bbolt
			// panicked on while opening stays mapped, so locked, until
			// the process ends.
			for _, args := range [][]string{{"status"}, {"journal", "check"}, {"reconcile", "--no-poll"}} {
				cmd := exec.Command(bin, append([]string{"--config", cfg}, args...)...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				_ = cmd.Run()
				code, out, errOut := cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
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

// writeJournal writes a closed journal of three batches of 500 items at
// path and returns its bytes.
func writeJournal(t *testing.T, path string) []byte {
	t.Helper()
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
	return raw
}

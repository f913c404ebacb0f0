package boltjournal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	bolt "go.etcd.io/bbolt"
)

// TestOpenRefusesTruncated: a journal cut short of the pages its meta page
// names is refused by every kind of open with journal.ErrCorrupt naming
// the file, never a crash (bbolt would read past the end of the file, a
// SIGBUS); cut only in the free room past them, it opens and checks clean.
func TestOpenRefusesTruncated(t *testing.T) {
	dir := t.TempDir()
	raw, pageSize, need := fullJournal(t, dir)
	var sizes []int64
	for s := 2 * pageSize; s < int64(len(raw)); s += pageSize {
		sizes = append(sizes, s)
	}
	sizes = append(sizes, 2*pageSize+1, need/2+123, need-1, need+1)
	opens := map[string]Options{"for writing": {}, "read-only": {ReadOnly: true},
		"for writing, unchecked": {SkipCheck: true}, "read-only, unchecked": {ReadOnly: true, SkipCheck: true}}
	for _, size := range sizes {
		for name, o := range opens {
			path := filepath.Join(dir, "cut.db")
			if err := os.WriteFile(path, raw[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(path, o)
			if size < need {
				if !cutShort(err, path) {
					t.Errorf("open %s of %d bytes of %d: %v, want journal.ErrCorrupt naming the file, cut short", name, size, need, err)
				}
				if err == nil {
					j.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("open %s of %d bytes, its pages %d: %v", name, size, need, err)
				continue
			}
			if err := j.Check(ctx); err != nil {
				t.Errorf("check after open %s of %d bytes: %v", name, size, err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestOpenTruncatedByLiveMeta: the file must hold the pages of the meta
// page bbolt opens it by, the valid one of the higher transaction id,
// whichever of the two pages that is. Cut between the older meta page's
// pages and the newer's, it is refused; with the newer one damaged, bbolt
// opens by the older, and so it opens.
func TestOpenTruncatedByLiveMeta(t *testing.T) {
	for _, txs := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d transactions", txs), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.db")
			j := openJournal(t, path)
			journaltest.Import(t, j, "B1", journaltest.ValidItem("P1", "teemopay", 1000))
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			var older int64
			for n := range txs {
				_, older, _ = boltSize(t, path)
				grow(t, path, fmt.Sprintf("padding %d", n))
			}
			pageSize, newer, txid := boltSize(t, path)
			if newer <= older {
				t.Fatalf("the last transaction left %d bytes of pages, %d before it", newer, older)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}

			cut := raw[:older]
			if err := os.WriteFile(path, cut, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(path, Options{ReadOnly: true}); !cutShort(err, path) {
				t.Fatalf("open cut to the older meta page's %d bytes, the newer's %d: %v, want journal.ErrCorrupt, cut short", older, newer, err)
			}

			// bbolt writes transaction n's meta page at page n%2.
			damaged := append([]byte(nil), cut...)
			damaged[int64(txid%2)*pageSize+metaOffset+metaChecksum] ^= 0xff
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}
			j, err = Open(path, Options{ReadOnly: true})
			if err != nil {
				t.Fatalf("open by the older meta page, the file holding its pages: %v", err)
			}
			if err := j.Check(ctx); err != nil {
				t.Error(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, damaged[:older-1], 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(path, Options{ReadOnly: true}); !cutShort(err, path) {
				t.Fatalf("open by the older meta page, a byte short of its pages: %v, want journal.ErrCorrupt, cut short", err)
			}
		})
	}
}

// grow adds, in one bbolt transaction, a bucket of about 100 KB to the
// file at path.
func grow(t *testing.T, path, bucket string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte(bucket))
		if err != nil {
			return err
		}
		for i := range 100 {
			if err := b.Put(u64(uint64(i)), make([]byte, 1000)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// cutShort reports whether err is preflight's refusal of the file at
// path as cut short (rather than any damage bbolt happened to trip over).
func cutShort(err error, path string) bool {
	return errors.Is(err, journal.ErrCorrupt) && strings.Contains(err.Error(), path) && strings.Contains(err.Error(), "cut short")
}

// boltSize returns, as bbolt reads the file at path, its page size, the
// bytes its pages take (pgid times the page size) and the transaction id.
func boltSize(t *testing.T, path string) (pageSize, need int64, txid int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		need, txid = tx.Size(), tx.ID()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return int64(db.Info().PageSize), need, txid
}

// TestPageCheckSurvivesAFault: the page check (verify), reached without
// the size check before it, reads a file cut short through bbolt's map,
// past the end of the file: the read faults (SIGBUS), which is recovered
// as journal.ErrCorrupt, not a crash. It is the net under preflight, for
// damage preflight cannot see (a page pointer inside the pages the meta
// page names, past where the file really ends).
func TestPageCheckSurvivesAFault(t *testing.T) {
	dir := t.TempDir()
	raw, pageSize, need := fullJournal(t, dir)
	faulted := 0
	for size := 2 * pageSize; size < need; size += pageSize {
		path := filepath.Join(dir, "cut.db")
		if err := os.WriteFile(path, raw[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		err := verify(path)
		if err == nil {
			continue // the pages the walk reads all lie before the cut
		}
		if !errors.Is(err, journal.ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Fatalf("page check of %d bytes of %d: %v, want journal.ErrCorrupt naming the file", size, need, err)
		}
		// A fault made a panic reads as Go's bad memory access.
		if strings.Contains(err.Error(), "invalid memory address") {
			faulted++
		}
	}
	if faulted == 0 {
		t.Fatal("no cut made the page check fault: the test reads nothing past the end of the file")
	}
}

// fullJournal writes a closed journal of 900 items under dir and returns
// its bytes, its page size and the bytes its meta page says it needs.
func fullJournal(t *testing.T, dir string) (raw []byte, pageSize, need int64) {
	t.Helper()
	full := filepath.Join(dir, "full.db")
	j := openJournal(t, full)
	for b := range 3 {
		its := make([]journal.Item, 300)
		for i := range its {
			its[i] = journaltest.ValidItem(fmt.Sprintf("P%d-%d", b, i), "teemopay", 1000)
		}
		journaltest.Import(t, j, fmt.Sprintf("B%d", b), its...)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	pageSize, need, _ = boltSize(t, full)
	return raw, pageSize, need
}

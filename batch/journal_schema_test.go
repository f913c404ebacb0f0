package batch

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpenRefusesOtherSchema: a journal written in another layout (a
// version 1 journal stored payouts under other JSON names) is refused,
// read-only or not, with ErrSchema, and is left as it was.
func TestOpenRefusesOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	setSchema(t, path, "1")
	for _, ro := range []bool{false, true} {
		if j, err := Open(path, Options{ReadOnly: ro}); !errors.Is(err, ErrSchema) {
			if err == nil {
				j.Close()
			}
			t.Fatalf("read-only %v: Open of a version 1 journal: %v, want ErrSchema", ro, err)
		}
	}
	if got := schemaOf(t, path); got != "1" {
		t.Errorf("schema after the refused opens: %q, want it left at 1", got)
	}
	setSchema(t, path, schemaVersion)
	j, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a version %s journal: %v", schemaVersion, err)
	}
	j.Close()
}

func setSchema(t *testing.T, path, v string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bktMeta).Put(schemaKey, []byte(v)) }); err != nil {
		t.Fatal(err)
	}
}

func schemaOf(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	_ = db.View(func(tx *bolt.Tx) error { v = string(tx.Bucket(bktMeta).Get(schemaKey)); return nil })
	return v
}

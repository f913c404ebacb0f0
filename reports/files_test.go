package reports

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFile: a write replaces the file whole; a write whose producer
// fails leaves the old file as it was, and no temporary file beside it.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.csv")
	write := func(s string, fail error) error {
		return WriteFile(path, 0o640, func(w io.Writer) error {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
			return fail
		})
	}
	if err := write("first\n", nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("producer failed")
	if err := write("second, half writ", boom); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the producer's", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "first\n" {
		t.Fatalf("after a failed write: %q, %v; want the first file", got, err)
	}
	if err := write("second\n", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "second\n" {
		t.Fatalf("after a write: %q, want second", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// The mode a file created 0640 gets here (the umask applies to both),
	// made in another directory so that the count below stays the report's.
	ref, err := os.OpenFile(filepath.Join(t.TempDir(), "ref"), os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	refInfo, err := ref.Stat()
	ref.Close()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != refInfo.Mode().Perm() {
		t.Fatalf("mode %v, want %v: the mode asked for, as the umask leaves it", fi.Mode(), refInfo.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d files in the directory, want only the report", len(ents))
	}
}

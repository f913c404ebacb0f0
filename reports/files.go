package reports

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// WriteFile writes path through fn into a temporary file beside it, synced
// and then renamed over path, so that a reader (an accountant's mail
// client, a crash) never sees half a report: path holds the old file or the
// whole new one. perm is filtered by the umask. On any error, fn's or the
// file system's, path is left as it was and the temporary file is removed.
func WriteFile(path string, perm os.FileMode, fn func(io.Writer) error) error {
	f, err := newPendingFile(path, perm)
	if err != nil {
		return err
	}
	defer f.cleanup()
	if err := fn(f); err != nil {
		return err
	}
	return f.commit()
}

// pendingFile is a temporary file that replaces its target when committed.
// It lives in the target's directory so that the rename stays on one file
// system and is atomic. It is the standard library's equivalent of
// renameio's PendingFile, which does not build on Windows.
type pendingFile struct {
	*os.File
	target string
	done   bool // committed or cleaned up: nothing is left to remove
}

// newPendingFile creates the temporary file for path. It is opened with
// perm rather than through os.CreateTemp (always 0600) and a Chmod, so
// that the system filters perm by the umask as os.WriteFile does, on every
// system and without reading the umask. The random name keeps concurrent
// writers of one target apart, and O_EXCL makes sure the file is new.
func newPendingFile(path string, perm os.FileMode) (*pendingFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	for tries := 0; ; tries++ {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) && tries < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &pendingFile{File: f, target: path}, nil
	}
}

// commit syncs and closes the temporary file and renames it over the
// target. The sync comes first so that after a crash the target holds the
// old file or the whole new one, never a renamed but empty one. If any step
// fails the temporary file is removed and the target is untouched.
func (p *pendingFile) commit() error {
	if p.done {
		return os.ErrClosed
	}
	err := p.Sync()
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(p.Name(), p.target)
	}
	if err != nil {
		p.cleanup()
		return err
	}
	p.done = true
	return nil
}

// cleanup closes and removes the temporary file unless it was committed.
// It is safe to call more than once, and after commit, so that callers can
// defer it.
func (p *pendingFile) cleanup() {
	if p.done {
		return
	}
	p.done = true
	_ = p.Close() // may be closed already by a failed commit
	_ = os.Remove(p.Name())
}

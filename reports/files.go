package reports

import (
	"io"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteFile writes path through fn into a temporary file beside it, synced
// and then renamed over path, so that a reader (an accountant's mail
// client, a crash) never sees half a report: path holds the old file or the
// whole new one. perm is filtered by the umask. On fn's error nothing
// changes.
func WriteFile(path string, perm os.FileMode, fn func(io.Writer) error) error {
	f, err := pendingFile(path, perm)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if err := fn(f); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// pendingFile is a temporary file in path's directory (so the rename is
// atomic) that replaces path when closed with CloseAtomicallyReplace.
func pendingFile(path string, perm os.FileMode) (*renameio.PendingFile, error) {
	return renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithPermissions(perm))
}

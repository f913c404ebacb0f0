//go:build !linux

package batch

import "os"

// datasync is the file's full sync where fdatasync(2) is not offered.
func datasync(f *os.File) error { return f.Sync() }

// syncDir makes a new entry of dir durable where a directory can be
// synced; some systems refuse to sync one, and there it is left to them.
func syncDir(dir string) error {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

//go:build !linux

package batch

import "os"

// datasync is the file's full sync where fdatasync(2) is not offered.
func datasync(f *os.File) error { return f.Sync() }

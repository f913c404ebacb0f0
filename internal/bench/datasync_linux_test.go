package bench

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2), as bbolt syncs its file on Linux.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

package batch

import (
	"os"
	"syscall"
)

// datasync is fdatasync(2): the file's data, and its size if it changed,
// but not its times (bbolt syncs its own file the same way on Linux).
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

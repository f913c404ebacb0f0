package batch

import (
	"fmt"
	"os"
	"syscall"
)

// datasync is fdatasync(2): the file's data, and its size if it changed,
// but not its times (bbolt syncs its own file the same way on Linux).
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// syncDir makes a new entry of dir (the intake log) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIntake, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: sync %s: %v", ErrIntake, dir, err)
	}
	return nil
}

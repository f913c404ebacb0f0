//go:build unix

package bench

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time so far (user and system, every
// thread), from getrusage(2). It is 0 if the call fails, which the judges
// read as "not measured".
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

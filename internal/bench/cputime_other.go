//go:build !unix

package bench

import (
	"os"
	"time"
)

// cpuTime is 0 where getrusage(2) does not exist (Windows among others), so
// that the package builds there. Every CPU figure (Side.CPU, Side.TailCPU)
// is then 0: the notes comparing CPU per item leave it out, and CPU is
// measured on Unix systems only.
func cpuTime() time.Duration { return 0 }

// childUsage is a finished child's CPU time; its peak resident set is not
// known here.
func childUsage(ps *os.ProcessState) (cpu time.Duration, maxRSS int64) {
	if ps == nil {
		return 0, 0
	}
	return ps.UserTime() + ps.SystemTime(), 0
}

// diskUsage is a file's size: the blocks it takes are not known here.
func diskUsage(st os.FileInfo) int64 { return st.Size() }

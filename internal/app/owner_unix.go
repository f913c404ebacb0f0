//go:build unix

package app

import (
	"os"
	"syscall"
)

// FileOwner is the OS user who owns a file ("" when unknown): who dropped
// a payout file into the inbox, who wrote an approval file.
func FileOwner(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return UserName(st.Uid)
}

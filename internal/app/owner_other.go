//go:build !unix

package app

import "os"

// FileOwner is the OS user who owns a file: not known on this system.
func FileOwner(os.FileInfo) string { return "" }

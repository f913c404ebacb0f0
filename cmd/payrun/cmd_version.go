package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func cmdVersion() command {
	c := command{Name: "version", Summary: "print the version", Usage: "version"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		if err := parseFlags(newFlags(&c, e), args); err != nil {
			return err
		}
		rev := ""
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					rev = " (" + s.Value[:min(12, len(s.Value))] + ")"
				}
			}
		}
		fmt.Fprintf(e.stdout, "payrun %s%s %s %s/%s\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	return c
}

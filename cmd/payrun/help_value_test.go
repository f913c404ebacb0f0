package main

import (
	"strings"
	"testing"
)

// TestHelpNamesEveryValue: every option that takes a value names it in
// the help (--date DAY, --reason TEXT), never pflag's bare "VALUE" or
// "string".
func TestHelpNamesEveryValue(t *testing.T) {
	for _, c := range commands() {
		_, out, _ := runCLI(t, c.Name, "--help")
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && strings.HasPrefix(f[0], "--") && (f[1] == "VALUE" || f[1] == "string") {
				t.Errorf("%s --help: %s", c.Name, strings.TrimSpace(line))
			}
		}
	}
}

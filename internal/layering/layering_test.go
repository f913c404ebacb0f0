package layering

import (
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const mod = "github.com/payrun/payrun/"

// rules: a package (or every package under a prefix ending in "/...")
// must not depend, directly or not, on any of the listed packages (each
// matching itself and what is under it). Tests may import more; the rule
// is for the code that ships.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	{"money", []string{"*"}},
	{"internal/pan", []string{"*"}},
	{"internal/service", []string{"*"}},
	{"internal/testsignal", []string{"*"}},
	{"internal/pgtest", []string{"*"}},
	{"providers/sandboxkit", []string{"*"}},
	{"providers/providertest", []string{"providers/all", "providers/sandboxes", "providers/monnet", "providers/teemopay", "providers/bank131"}},
	{"providers/...", []string{"batch", "journal", "dispatch", "reconcile", "reports", "internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"batch/...", []string{"journal", "dispatch", "reconcile", "reports", "internal/app", "internal/daemon", "cmd"}},
	{"journal/...", []string{"dispatch", "reconcile", "reports", "internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"dispatch/...", []string{"reconcile", "reports", "internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"reconcile/...", []string{"reports", "internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"reports/...", []string{"internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"internal/testjournal", []string{"dispatch", "reconcile", "reports", "internal/collect", "internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"internal/config/...", []string{"journal", "dispatch", "reconcile", "reports", "internal/app", "internal/daemon", "cmd"}},
	{"internal/collect/...", []string{"internal/app", "internal/daemon", "internal/config", "cmd"}},
	{"internal/app/...", []string{"internal/daemon", "cmd"}},
	{"internal/daemon/...", []string{"cmd"}},
	{"internal/bench/...", []string{"cmd"}},
}

// testOnly are packages for tests; no shipped code but the bench command
// may import them.
var testOnly = []string{"journal/journaltest", "internal/testjournal", "internal/pgtest", "providers/providertest"}

func TestImportsFlowOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		for _, d := range f[1:] {
			if strings.HasPrefix(d, mod) {
				deps[pkg] = append(deps[pkg], strings.TrimPrefix(d, mod))
			}
		}
	}
	if len(deps) < 20 {
		t.Fatalf("go list named %d packages of the module: the test reads nothing", len(deps))
	}
	under := func(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }
	matches := func(pkg, pattern string) bool {
		if p, ok := strings.CutSuffix(pattern, "/..."); ok {
			return under(pkg, p)
		}
		return pkg == pattern
	}
	checked := 0
	var problems []string
	for pkg, ds := range deps {
		for _, r := range rules {
			if !matches(pkg, r.pkg) {
				continue
			}
			checked++
			for _, d := range ds {
				for _, f := range r.forbidden {
					if f == "*" || under(d, f) {
						problems = append(problems, pkg+" imports "+d)
					}
				}
			}
		}
		if strings.HasPrefix(pkg, "cmd/") {
			continue
		}
		for _, d := range ds {
			for _, to := range testOnly {
				if under(d, to) && !slices.ContainsFunc(testOnly, func(h string) bool { return under(pkg, h) }) && pkg != "internal/bench" {
					problems = append(problems, pkg+" imports the test helper "+d)
				}
			}
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if checked < 15 {
		t.Fatalf("only %d packages matched a rule", checked)
	}
}

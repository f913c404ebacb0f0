package providers_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// sandboxMayImport is all of payrun a provider's sandbox may depend on: it
// is the provider's server, so it knows the wire protocol from the
// provider's documents, never from payrun's client, whose mistakes it must
// be able to catch. providers is there for Config only (WriteFiles hands
// the client its configuration, as bank131/sandbox does).
var sandboxMayImport = []string{
	"github.com/payrun/payrun/money",
	"github.com/payrun/payrun/providers",
	"github.com/payrun/payrun/providers/sandboxkit",
}

// TestSandboxesDoNotImportTheirClients runs go list over every
// providers/<name>/sandbox package and fails if one depends, even
// indirectly, on any other payrun package than sandboxMayImport: a sandbox
// that verified requests with the client's own signing, or decoded them
// with its own wire types, would mirror the client's mistakes instead of
// refusing them.
func TestSandboxesDoNotImportTheirClients(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the sandboxes' dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "github.com/payrun/payrun/providers/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var sandboxes []string
	for _, p := range strings.Fields(string(out)) {
		if strings.HasSuffix(p, "/sandbox") {
			sandboxes = append(sandboxes, p)
		}
	}
	// monnet, teemopay and bank131 (which serves Smart Glocal too).
	if len(sandboxes) < 3 {
		t.Fatalf("found %d sandbox packages (%v), want monnet, teemopay and bank131", len(sandboxes), sandboxes)
	}
	for _, sb := range sandboxes {
		out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", sb).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", sb, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == sb || !strings.HasPrefix(dep, "github.com/payrun/payrun") || slices.Contains(sandboxMayImport, dep) {
				continue
			}
			client := strings.TrimSuffix(sb, "/sandbox")
			if dep == client {
				t.Errorf("%s depends on its client package %s", sb, dep)
			} else {
				t.Errorf("%s depends on %s; a sandbox may use only %v", sb, dep, sandboxMayImport)
			}
		}
	}
}

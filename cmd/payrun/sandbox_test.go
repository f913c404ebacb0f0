package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
)

// TestSandboxConfigWorksFromAnywhere: `payrun sandbox --dir sb`, with a
// relative folder, writes a configuration whose every secret reference
// resolves from inside sb and from any other directory (a relative file:
// reference is read from the working directory).
func TestSandboxConfigWorksFromAnywhere(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the command writes its configuration, then serves until this is done
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"sandbox", "--dir", "sb"}, &out, &errOut); code != exitOK {
		t.Fatalf("sandbox: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	check := func(where, path string) {
		t.Helper()
		cfg, chk, err := app.LoadChecked(context.Background(), path, app.CheckOptions{})
		if err != nil {
			t.Fatalf("from %s: %v", where, err)
		}
		if chk.Providers != len(all.Registrations()) {
			t.Errorf("from %s: %d providers built, want %d", where, chk.Providers, len(all.Registrations()))
		}
		for name, pc := range cfg.Providers {
			for _, f := range config.SecretFields(pc) {
				if f.Ref == "" {
					continue
				}
				p, ok := strings.CutPrefix(f.Ref, "file:")
				if !ok || !filepath.IsAbs(p) {
					t.Errorf("providers.%s.%s %s: want an absolute file: reference", name, f.Key, f.Ref)
				}
				if _, err := providers.Secret(f.Ref); err != nil {
					t.Errorf("from %s: providers.%s.%s: %v", where, name, f.Key, err)
				}
			}
		}
	}
	t.Chdir(filepath.Join(root, "sb"))
	check("sb", "payrun.yaml")
	if code, out, errOut := runCLI(t, "config", "check", "--config", "payrun.yaml"); code != exitOK {
		t.Errorf("config check from sb: exit %d\n%s%s", code, out, errOut)
	}
	t.Chdir(t.TempDir())
	check("elsewhere", filepath.Join(root, "sb", "payrun.yaml"))
}

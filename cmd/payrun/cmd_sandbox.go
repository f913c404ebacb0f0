package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/providers/sandboxes"
	"go.yaml.in/yaml/v3"
)

func cmdSandbox() command {
	c := command{Name: "sandbox", Summary: "start every provider's sandbox on loopback and write a config pointing at them",
		Usage: "sandbox --dir DIR [--webhooks URL] [--delay DURATION]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		dir := fs.String("dir", "", "`DIR` for payrun.yaml and keys/ (required)")
		hooks := fs.String("webhooks", "http://127.0.0.1:8080/webhooks/", "base `URL` of payrun's webhook receiver")
		delay := fs.Duration("delay", 500*time.Millisecond, "how long payouts stay in progress at the sandboxes")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *dir == "" {
			return usagef("--dir is required")
		}
		if err := os.MkdirAll(*dir, 0o750); err != nil {
			return err
		}
		l, err := sandboxes.Start(sandboxes.Options{Dir: *dir, WebhookBase: *hooks, ProcessingDelay: *delay})
		if err != nil {
			return err
		}
		defer l.Close()
		cfg := sandboxConfig(l, *dir, *hooks)
		path := filepath.Join(*dir, "payrun.yaml")
		if err := writeConfig(path, cfg); err != nil {
			return err
		}
		for _, n := range l.Names() {
			fmt.Fprintf(e.stdout, "%-12s %s\n", n, l.URLs[n])
		}
		fmt.Fprintf(e.stdout, "config       %s\nServing until interrupted (Ctrl-C).\n", path)
		<-ctx.Done()
		return nil
	}
	return c
}

// sandboxConfig is a complete configuration pointing at a landscape.
func sandboxConfig(l *sandboxes.Landscape, dir, hooks string) *config.Config {
	cfg := config.Default()
	cfg.Dir = "."
	for n, pc := range l.Configs {
		pc.Enabled = true
		pc.Concurrency = 8
		pc.RatePerSecond = 50
		pc.Burst = 10
		pc.Timeout = 10 * time.Second
		cfg.Providers[n] = pc
	}
	cfg.Dispatch.ResendAfter = 2 * time.Second
	cfg.Reconcile.PollAfter = time.Second
	cfg.Reconcile.PollInterval = time.Second
	if u, ok := strings.CutSuffix(hooks, "/webhooks/"); ok {
		cfg.Serve.PublicURL = u
	}
	return cfg
}

// writeConfig writes a configuration as YAML (mode 0600: it names key files).
func writeConfig(path string, cfg *config.Config) error {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	head := "# payrun configuration written by 'payrun sandbox' / 'payrun demo'.\n# Every secret is a file: or env: reference; see config.example.yaml for each key.\n"
	return os.WriteFile(path, append([]byte(head), b...), 0o600)
}

package sandboxes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// Options configure Start.
type Options struct {
	// Dir receives keys/<provider>/ with each sandbox's credentials.
	Dir string
	// WebhookBase is the receiver's base URL; each sandbox posts to
	// WebhookBase + provider name. It can be set later with SetWebhookBase.
	WebhookBase string
	// Seed makes faults repeatable.
	Seed uint64
	// ProcessingDelay is how long payouts stay in progress (sandbox time).
	ProcessingDelay time.Duration
	// Host to listen on (default 127.0.0.1).
	Host string
	// Only, when set, starts just these providers.
	Only []string
}

// Landscape is the running sandboxes.
type Landscape struct {
	// Configs are client configurations pointing at each sandbox.
	Configs   map[string]providers.Config
	Sandboxes map[string]providers.Sandbox
	URLs      map[string]string
	servers   []*http.Server
}

// Names returns the providers of the landscape, sorted.
func (l *Landscape) Names() []string {
	out := make([]string, 0, len(l.Sandboxes))
	for n := range l.Sandboxes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Kit returns one sandbox's kit (ledger, faults, clock).
func (l *Landscape) Kit(name string) *sandboxkit.Kit { return l.Sandboxes[name].Kit() }

// SetWebhookBase points every sandbox's notifications at base + name.
func (l *Landscape) SetWebhookBase(base string) {
	for n, s := range l.Sandboxes {
		s.SetWebhookURL(base + n)
	}
}

// Close stops the servers and the sandboxes.
func (l *Landscape) Close() {
	for _, s := range l.servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	for _, s := range l.Sandboxes {
		s.Close()
	}
}

// Start starts the sandboxes, each on its own loopback port.
func Start(o Options) (*Landscape, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	want := func(name string) bool {
		if len(o.Only) == 0 {
			return true
		}
		for _, n := range o.Only {
			if n == name {
				return true
			}
		}
		return false
	}
	l := &Landscape{Configs: map[string]providers.Config{}, Sandboxes: map[string]providers.Sandbox{}, URLs: map[string]string{}}
	add := func(reg providers.Registration) error {
		name := reg.Name
		sb, err := reg.Sandbox(providers.SandboxSpec{Name: name, Seed: o.Seed, ProcessingDelay: o.ProcessingDelay})
		if err != nil {
			return err
		}
		l.Sandboxes[name] = sb
		ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, "0"))
		if err != nil {
			return err
		}
		url := "http://" + ln.Addr().String()
		srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				// Its clients see the refused connections as transport
				// errors (in doubt, asked about again); the operator
				// of the demo or the bench reads why here.
				fmt.Fprintf(os.Stderr, "sandbox %s stopped serving: %v\n", name, err)
			}
		}()
		l.servers = append(l.servers, srv)
		l.URLs[name] = url
		keyDir := filepath.Join(o.Dir, "keys", name)
		if err := os.MkdirAll(keyDir, 0o700); err != nil {
			return err
		}
		cfg, err := sb.WriteCredentials(keyDir, url)
		if err != nil {
			return fmt.Errorf("%s credentials: %w", name, err)
		}
		cfg.Enabled = true
		l.Configs[name] = cfg
		if o.WebhookBase != "" {
			sb.SetWebhookURL(o.WebhookBase + name)
		}
		return nil
	}
	for _, reg := range all.Registrations() {
		if !want(reg.Name) {
			continue
		}
		if err := add(reg); err != nil {
			l.Close()
			return nil, err
		}
	}
	return l, nil
}

package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/drivers"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"github.com/payrun/payrun/reconcile"
)

// App is payrun built from one configuration over one journal.
type App struct {
	Config     *config.Config
	Journal    journal.Journal
	Log        *slog.Logger
	Providers  map[string]providers.Provider
	Dispatcher *dispatch.Dispatcher
}

// New builds the providers and the dispatcher. Providers that take a
// callback URL per request are given one under serve.public_url.
func New(cfg *config.Config, j journal.Journal, log *slog.Logger) (*App, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := ""
	if cfg.Serve.PublicURL != "" {
		base = cfg.Serve.PublicURL + "/webhooks/"
	}
	provs, err := BuildProviders(cfg, base)
	if err != nil {
		return nil, err
	}
	if len(provs) == 0 {
		return nil, &config.Error{Path: cfg.Path, Problems: []string{"no provider is enabled (providers.<name>.enabled: true); try 'payrun demo' or 'payrun sandbox'"}}
	}
	o, err := DispatchOptions(cfg, log)
	if err != nil {
		return nil, err
	}
	return &App{Config: cfg, Journal: j, Log: log, Providers: provs, Dispatcher: dispatch.NewDispatcher(j, provs, o)}, nil
}

// OpenJournal opens the configured journal, creating the directory of a
// journal file.
func OpenJournal(ctx context.Context, cfg *config.Config) (journal.Journal, error) {
	return OpenJournalAs(ctx, cfg, "payrun")
}

// OpenJournalAs is OpenJournal for a process that says what it is (role:
// "serve", ...) to the other nodes of a shared journal.
func OpenJournalAs(ctx context.Context, cfg *config.Config, role string) (journal.Journal, error) {
	loc := cfg.Journal
	if f := JournalFile(cfg); f != "" {
		loc = f
		if err := os.MkdirAll(filepath.Dir(loc), 0o700); err != nil {
			return nil, err
		}
	}
	return drivers.Open(ctx, loc, drivers.Options{Node: NodeOptions(cfg, role)})
}

// JournalFile is the file of cfg's embedded journal (under dir when
// relative), or "" when the journal is a PostgreSQL database. It is where
// everything kept beside the journal file goes (the control socket, the
// link key). A secret reference (journal: env:PAYRUN_JOURNAL_URL) is
// decided on what it holds, the way the journal is opened: the reference
// itself names no file. One that cannot be read gives "" too (opening the
// journal says why).
func JournalFile(cfg *config.Config) string {
	loc, err := drivers.Resolve(cfg.Journal)
	if err != nil || loc == "" || drivers.IsPostgres(loc) {
		return ""
	}
	return cfg.Abs(loc)
}

// JournalName is the journal as messages show it: its file, or the
// database as the configuration names it, the secret reference itself
// (never what it holds: the URL's password) or a URL without its password.
func JournalName(cfg *config.Config) string {
	if f := JournalFile(cfg); f != "" {
		return f
	}
	if providers.IsSecretRef(cfg.Journal) {
		return cfg.Journal
	}
	return journal.Redact(cfg.Journal)
}

// NodeOptions is how a process of this configuration takes part in the
// cluster of a shared journal: its lease, and the grace after it, the
// longest a provider request may last.
func NodeOptions(cfg *config.Config, role string) journal.NodeOptions {
	grace := time.Duration(0)
	for _, pc := range cfg.Providers {
		if !pc.Enabled {
			continue
		}
		t := pc.Timeout
		if t <= 0 {
			t = 30 * time.Second
		}
		grace = max(grace, t)
	}
	if grace == 0 {
		grace = 30 * time.Second
	}
	o := journal.NodeOptions{Name: cfg.Cluster.Node, Role: role, Lease: cfg.Cluster.Lease, Grace: grace + time.Second}
	if role == "serve" {
		o.Addr = cfg.Serve.Listen
	}
	return o
}

// BuildProviders builds a client for every enabled provider. callbackBase,
// when set, is the receiver's base URL ("http://host/webhooks/") for
// providers that take a callback URL per request.
func BuildProviders(cfg *config.Config, callbackBase string) (map[string]providers.Provider, error) {
	out := map[string]providers.Provider{}
	var problems []string
	names := make([]string, 0, len(cfg.Providers))
	for n := range cfg.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if !cfg.Providers[name].Enabled {
			continue
		}
		p, err := buildProvider(cfg, name, callbackBase)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		out[name] = p
	}
	if len(problems) > 0 {
		return nil, &config.Error{Path: cfg.Path, Problems: problems}
	}
	return out, nil
}

// buildProvider builds the client of one provider; its error names the
// key (providers.<name>).
func buildProvider(cfg *config.Config, name, callbackBase string) (providers.Provider, error) {
	pc := cfg.Providers[name]
	reg, err := providers.Lookup(all.Registrations(), name)
	if err != nil {
		return nil, fmt.Errorf("providers.%s: %w", name, err)
	}
	if pc.CallbackURL == "" && callbackBase != "" {
		pc.CallbackURL = callbackBase + name
	}
	timeout := pc.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, ForceAttemptHTTP2: true}}
	p, err := reg.New(pc, providers.Deps{HTTP: hc})
	if err != nil {
		return nil, fmt.Errorf("providers.%s: %w", name, err)
	}
	return p, nil
}

// DispatchOptions turns the configuration into the dispatcher's options.
func DispatchOptions(cfg *config.Config, log *slog.Logger) (dispatch.DispatchOptions, error) {
	o := dispatch.DispatchOptions{
		Pools:           map[string]dispatch.PoolConfig{},
		MaxAttempts:     cfg.Dispatch.MaxAttempts,
		BackoffBase:     cfg.Dispatch.BackoffBase,
		BackoffMax:      cfg.Dispatch.BackoffMax,
		BreakerFailures: cfg.Dispatch.BreakerFailures,
		BreakerCooldown: cfg.Dispatch.BreakerCooldown,
		ResendAfter:     cfg.Dispatch.ResendAfter,
		Location:        cfg.Location(),
		Log:             log,
	}
	for name, pc := range cfg.Providers {
		o.Pools[name] = dispatch.PoolConfig{RatePerSecond: pc.RatePerSecond, Burst: pc.Burst, Concurrency: pc.Concurrency}
	}
	for _, c := range cfg.Dispatch.Caps {
		bc := dispatch.Cap{Provider: c.Provider, Scope: c.Scope, MaxCount: c.MaxCount, MaxAmount: map[string]int64{}}
		for cur, amt := range c.MaxAmount {
			m, err := money.Parse(amt, cur)
			if err != nil {
				return o, err
			}
			bc.MaxAmount[m.Currency] = m.Minor
		}
		o.Caps = append(o.Caps, bc)
	}
	return o, nil
}

// IngestOptions turns the configuration into ingest options; enabled
// names the providers rows may use (nil: any).
func IngestOptions(cfg *config.Config, enabled []string) journal.IngestOptions {
	return journal.IngestOptions{
		Read: batch.ReadOptions{Aliases: cfg.Input.Aliases, Sheet: cfg.Input.Sheet,
			MaxBytes: cfg.Input.MaxBytes, MaxRows: cfg.Input.MaxRows},
		Validate:    batch.ValidateOptions{Providers: enabled},
		SkipInvalid: cfg.Input.OnInvalid == "skip_rows",
	}
}

// EnabledProviders returns the names of the enabled providers, sorted.
func EnabledProviders(cfg *config.Config) []string {
	var out []string
	for n, pc := range cfg.Providers {
		if pc.Enabled {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Poller builds the status poller sharing the dispatcher's rate limits and
// in-doubt resolution. interactive polls sooner (a person is waiting).
func (a *App) Poller(interactive bool) *reconcile.Poller {
	cfg := a.Config
	o := reconcile.PollOptions{
		After:          cfg.Reconcile.PollAfter,
		Interval:       cfg.Reconcile.PollInterval,
		Max:            cfg.Reconcile.PollMax,
		Wait:           a.Dispatcher.Wait,
		Urgent:         a.Dispatcher.WaitUrgent,
		ResolveInDoubt: a.Dispatcher.ResolveInDoubt,
		Settle:         a.Dispatcher.Settle,
		LinkDeadline:   cfg.Reconcile.LinkDeadline,
		Log:            a.Log,
	}
	if interactive {
		o.After, o.Interval, o.Max = -1, 300*time.Millisecond, 5*time.Second
	}
	return reconcile.NewPoller(a.Journal, a.Providers, o)
}

// Follow polls the batches' open payouts until none needs payrun, or wait
// has passed; it returns how many still do.
func (a *App) Follow(ctx context.Context, ids []string, wait time.Duration) (int, error) {
	return reconcile.Follow(ctx, a.Journal, a.Providers, a.Poller(true), ids, wait, a.Log)
}

// Receiver builds the webhook receiver over the app's providers (not
// started).
func (a *App) Receiver(observe func(provider string, status int, d time.Duration)) *reconcile.Receiver {
	return reconcile.NewReceiver(a.Journal, a.Providers, reconcile.ReceiverOptions{MaxBody: a.Config.Reconcile.MaxWebhookBytes,
		Log: a.Log, Observe: observe, Settle: a.Dispatcher.SettleLater})
}

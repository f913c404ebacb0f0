package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/drivers"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"golang.org/x/term"
)

// loadConfig loads --config (or $PAYRUN_CONFIG), or the built-in defaults.
func loadConfig(e *env) (*config.Config, error) {
	if e.configPath == "" {
		return config.Default(), nil
	}
	return config.Load(e.configPath)
}

func isConfigError(err error) bool {
	var ce *config.Error
	return errors.As(err, &ce) || errors.Is(err, providers.ErrLiteralSecret)
}

// openJournal opens the configured journal, creating its directory.
func openJournal(cfg *config.Config) (journal.Journal, error) {
	loc := cfg.Journal
	if !drivers.IsPostgres(loc) {
		loc = cfg.Abs(loc)
		if err := os.MkdirAll(filepath.Dir(loc), 0o700); err != nil {
			return nil, err
		}
	}
	return drivers.Open(context.Background(), loc, drivers.Options{})
}

// buildProviders builds a client for every enabled provider. callbackBase,
// when set, is the receiver's base URL ("http://host/webhooks/") for
// providers that take a callback URL per request.
func buildProviders(cfg *config.Config, callbackBase string) (map[string]providers.Provider, error) {
	out := map[string]providers.Provider{}
	var problems []string
	names := make([]string, 0, len(cfg.Providers))
	for n := range cfg.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		pc := cfg.Providers[name]
		if !pc.Enabled {
			continue
		}
		reg, err := providers.Lookup(all.Registrations(), name)
		if err != nil {
			problems = append(problems, err.Error())
			continue
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
			problems = append(problems, fmt.Sprintf("providers.%s: %v", name, err))
			continue
		}
		out[name] = p
	}
	if len(problems) > 0 {
		return nil, &config.Error{Path: cfg.Path, Problems: problems}
	}
	return out, nil
}

// dispatchOptions turns the configuration into the dispatcher's options.
func dispatchOptions(cfg *config.Config, log *slog.Logger) (dispatch.DispatchOptions, error) {
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

// ingestOptions turns the configuration into ingest options.
func ingestOptions(cfg *config.Config, enabled []string) journal.IngestOptions {
	return journal.IngestOptions{
		Read: batch.ReadOptions{Aliases: cfg.Input.Aliases, Sheet: cfg.Input.Sheet,
			MaxBytes: cfg.Input.MaxBytes, MaxRows: cfg.Input.MaxRows},
		Validate:    batch.ValidateOptions{Providers: enabled},
		SkipInvalid: cfg.Input.OnInvalid == "skip_rows",
	}
}

// newLogger returns the process logger: JSON when stderr is not a terminal
// (or when the config says so), text otherwise.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(cfg.Log.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Log.Format
	if format == "" || format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// isTerminal reports whether w is a terminal (for progress bars).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// enabledProviders returns the names of enabled providers, or every known
// provider when none is configured (validation of a file before any setup).
func enabledProviders(cfg *config.Config) []string {
	var out []string
	for n, pc := range cfg.Providers {
		if pc.Enabled {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// openConfigured loads the configuration and opens its journal; the
// caller closes the journal.
func openConfigured(e *env) (*config.Config, journal.Journal, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, nil, err
	}
	j, err := openJournal(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, j, nil
}

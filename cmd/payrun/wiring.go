package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
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
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationsAsText}
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

// durationsAsText writes every duration as a person reads it ("1.5s",
// "2m"): the JSON handler would write nanoseconds (1500000000).
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(durationText(a.Value.Duration()))
	}
	return a
}

// isTerminal reports whether w is a terminal (for progress bars).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openConfigured loads the configuration and opens its journal; the
// caller closes the journal.
func openConfigured(e *env) (*config.Config, journal.Journal, error) {
	cfg, err := loadConfig(e)
	if err != nil {
		return nil, nil, err
	}
	j, err := app.OpenJournal(context.Background(), cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, j, nil
}

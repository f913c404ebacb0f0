package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/pan"
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
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: logAttr}
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

// logAttr rewrites every attribute of a log line, the message included:
// card numbers masked (pan.MaskText) in every text, error and value, at
// every level and in both formats, since an error can quote what a
// provider or a notification said (a payout id payrun never sent, a
// provider's message); and every duration as a person reads it ("1.5s",
// "2m"), where the JSON handler would write nanoseconds (1500000000).
func logAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		a.Value = slog.StringValue(durationText(a.Value.Duration()))
	case slog.KindString:
		if s := a.Value.String(); pan.Contains(s) {
			a.Value = slog.StringValue(pan.MaskText(s))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		default:
			s = fmt.Sprint(v)
		}
		if pan.Contains(s) {
			a.Value = slog.StringValue(pan.MaskText(s))
		}
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

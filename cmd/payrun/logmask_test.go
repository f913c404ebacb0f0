package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/providers"
)

// TestLogMasksCardNumbers: whatever a log line quotes (its message, a
// string, an error a provider's answer made, a value in a group, an
// attribute given once to the logger), at every level and in both formats,
// a card number in it is masked.
func TestLogMasksCardNumbers(t *testing.T) {
	pans := []string{"4111111111111111", "378282246310005", "5555555555554444", "6011111111111117", "4000056655665556"}
	for _, format := range []string{"json", "text"} {
		var b bytes.Buffer
		cfg := config.Default()
		cfg.Log.Format, cfg.Log.Level = format, "debug"
		log := newLogger(cfg, &b).With("payout", "4111 1111 1111 1111")
		apiErr := &providers.APIError{Provider: "monnet", Op: "submit", Code: "378282246310005", Message: "card 5555-5555-5555-4444 blocked", Kind: providers.ErrRejected}
		log.Debug("card 6011111111111117 seen", "err", apiErr)
		log.Info("x", "wrapped", fmt.Errorf("lookup: %w", apiErr))
		log.Warn("webhook for a payout payrun never sent", "provider", "monnet", "payout", "378282246310005", "provider_id", "4111111111111111")
		log.Error("y", slog.Group("g", "v", errors.New("6011 1111 1111 1117"), "list", []string{"4000\u00a00566\u00a05566\u00a05556"}))
		out := strings.NewReplacer(" ", "", "-", "", "\u00a0", "", `\u00a0`, "").Replace(b.String())
		for _, p := range pans {
			if strings.Contains(out, p) {
				t.Errorf("%s log shows %s:\n%s", format, p, b.String())
			}
		}
		if !strings.Contains(b.String(), "webhook for a payout payrun never sent") || !strings.Contains(b.String(), "0005") {
			t.Errorf("%s log lost what it says:\n%s", format, b.String())
		}
	}
}

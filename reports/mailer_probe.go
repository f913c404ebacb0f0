package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-sasl"
)

// Probe connects to the SMTP server as a delivery does (TLS as
// configured, and the login when a username is set), then says goodbye
// without sending anything: what `payrun config check --connect` asks.
// Without a host there is nothing to reach (messages go to the outbox).
func (m *Mailer) Probe(ctx context.Context) error {
	if m.SMTP.Host == "" {
		return nil
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, release, err := m.dial(ctx)
	if err != nil {
		return err
	}
	defer release()
	if m.SMTP.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", m.SMTP.Username, m.SMTP.Password)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	return c.Quit()
}

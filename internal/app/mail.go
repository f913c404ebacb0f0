package app

import (
	"context"
	"fmt"
	"os"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reports"
)

// MailQueue keeps undelivered messages in the journal, so that an SMTP
// outage or a restart never loses a report.
type MailQueue struct{ J journal.Journal }

func (q MailQueue) Enqueue(id string, eml []byte) error {
	return q.J.EnqueueMail(context.Background(), id, eml)
}

func (q MailQueue) Pending() ([]reports.Queued, error) {
	ms, err := q.J.PendingMail(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]reports.Queued, len(ms))
	for i, m := range ms {
		out[i] = reports.Queued{ID: m.ID, EML: m.EML}
	}
	return out, nil
}

func (q MailQueue) MarkSent(id string) error {
	return q.J.MarkMailSent(context.Background(), id, nil)
}

// Mailer builds the mailer from the configuration: SMTP when a host is
// set, otherwise .eml files in the outbox.
func (a *App) Mailer() (*reports.Mailer, error) { return NewMailer(a.Config, a.Journal) }

// NewMailer is Mailer without an App (commands that need no provider).
func NewMailer(cfg *config.Config, j journal.Journal) (*reports.Mailer, error) {
	smtp, err := SMTPConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &reports.Mailer{SMTP: smtp, Outbox: cfg.Abs(cfg.Dirs.Outbox), Queue: MailQueue{j}}
	if err := os.MkdirAll(m.Outbox, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return m, nil
}

// SMTPConfig is the configured SMTP server with its password resolved
// (zero when no host is configured: messages go to the outbox).
func SMTPConfig(cfg *config.Config) (reports.SMTPConfig, error) {
	s := cfg.Reports.SMTP
	if s.Host == "" {
		return reports.SMTPConfig{}, nil
	}
	out := reports.SMTPConfig{Host: s.Host, Port: s.Port, Username: s.Username, TLS: s.TLS}
	if s.Password != "" {
		pw, err := providers.Secret(s.Password)
		if err != nil {
			return out, &config.Error{Path: cfg.Path, Problems: []string{"reports.smtp.password: " + err.Error()}}
		}
		out.Password = string(pw)
	}
	return out, nil
}

// Envelope returns who a message goes to (accounts@localhost when the
// configuration names no one).
func Envelope(cfg *config.Config, to []string) reports.Envelope {
	if len(to) == 0 {
		to = []string{"accounts@localhost"}
	}
	return reports.Envelope{From: cfg.Reports.From, To: to, SubjectPrefix: cfg.Reports.SubjectPrefix}
}

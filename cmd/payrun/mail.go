package main

import (
	"context"
	"fmt"
	"os"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reports"
)

// journalQueue keeps undelivered messages in the journal, so that an SMTP
// outage or a restart never loses a report.
type journalQueue struct{ j journal.Journal }

func (q journalQueue) Enqueue(id string, eml []byte) error {
	return q.j.EnqueueMail(context.Background(), id, eml)
}

func (q journalQueue) Pending() ([]reports.Queued, error) {
	ms, err := q.j.PendingMail(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]reports.Queued, len(ms))
	for i, m := range ms {
		out[i] = reports.Queued{ID: m.ID, EML: m.EML}
	}
	return out, nil
}

func (q journalQueue) MarkSent(id string) error {
	return q.j.MarkMailSent(context.Background(), id, nil)
}

// newMailer builds the mailer from the configuration: SMTP when a host is
// set, otherwise .eml files in the outbox.
func newMailer(cfg *config.Config, j journal.Journal) (*reports.Mailer, error) {
	smtp, err := smtpConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &reports.Mailer{SMTP: smtp, Outbox: cfg.Abs(cfg.Dirs.Outbox), Queue: journalQueue{j}}
	if err := os.MkdirAll(m.Outbox, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return m, nil
}

// smtpConfig is the configured SMTP server with its password resolved
// (zero when no host is configured: messages go to the outbox).
func smtpConfig(cfg *config.Config) (reports.SMTPConfig, error) {
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

// envelope returns who the reports go to.
func envelope(cfg *config.Config, to []string) reports.Envelope {
	if len(to) == 0 {
		to = []string{"accounts@localhost"}
	}
	return reports.Envelope{From: cfg.Reports.From, To: to, SubjectPrefix: cfg.Reports.SubjectPrefix}
}

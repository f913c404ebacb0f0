package collect

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/payrun/payrun/internal/service"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reports"
)

// MailOptions configure the beneficiary emails.
type MailOptions struct {
	Journal   journal.Journal
	Signer    *Signer
	Lifetimes Lifetimes
	Mailer    *reports.Mailer
	Templates reports.BeneficiaryTemplates
	// From is the sender (reports.from); Payer the name in the message.
	From, Payer string
	// Reminder is how long before a link expires its reminder goes (0:
	// none).
	Reminder time.Duration
	// Interval is the period of the pass Start runs (default 1 minute).
	Interval time.Duration
	Location *time.Location
	Now      func() time.Time
	Log      *slog.Logger
}

// Mailer emails each waiting link to its row's email: once when the link
// is there, and once more Reminder before it expires. Every message has a
// Message-ID derived from its link (reports.ComposeBeneficiary), and the
// journal's mail queue keeps the first message of an id, sent or not: a
// link is emailed at most once, and reminded at most once, whatever how
// often the pass runs, on how many daemons, across restarts.
type Mailer struct {
	o    MailOptions
	loop service.Loop
}

// NewMailer returns the beneficiary mailer (not started).
func NewMailer(o MailOptions) *Mailer {
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now == nil {
		o.Now = o.Journal.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Payer == "" {
		o.Payer = o.From
	}
	return &Mailer{o: o}
}

// MailStats is what one pass queued.
type MailStats struct {
	Waiting   int `json:"waiting"`   // links waiting, with an email
	Queued    int `json:"queued"`    // first messages queued in this pass (or before)
	Reminders int `json:"reminders"` // reminders queued in this pass (or before)
	Sent      int `json:"sent"`      // messages delivered by the flush
}

// RunOnce queues the messages due and flushes the mail queue.
func (m *Mailer) RunOnce(ctx context.Context) (MailStats, error) {
	var st MailStats
	now := m.o.Now()
	links, err := Waiting(ctx, m.o.Journal, m.o.Signer, m.o.Lifetimes, now)
	if err != nil {
		return st, err
	}
	for _, l := range links {
		if l.Email == "" {
			continue
		}
		st.Waiting++
		reminder := m.o.Reminder > 0 && !now.Before(l.Expires.Add(-m.o.Reminder))
		for _, rem := range []bool{false, true} {
			if rem && !reminder {
				continue
			}
			msg, err := reports.ComposeBeneficiary(reports.BeneficiaryMail{Link: l, Payer: m.o.Payer, Reminder: rem,
				AmountText: l.Amount.Decimal() + " " + l.Amount.Currency, ExpiresText: l.Expires.In(m.o.Location).Format("2006-01-02 15:04 MST")},
				m.o.Templates, reports.Envelope{From: m.o.From})
			if err != nil {
				return st, fmt.Errorf("beneficiary email for %s: %w", l.PayoutID, err)
			}
			if err := m.o.Mailer.Enqueue(msg); err != nil {
				return st, err
			}
			if rem {
				st.Reminders++
			} else {
				st.Queued++
			}
		}
	}
	n, err := m.o.Mailer.Flush(ctx)
	st.Sent = n
	if err != nil {
		m.o.Log.Warn("beneficiary emails queued, not all delivered; retried at the next pass", "err", err)
	}
	return st, nil
}

// Start runs a pass now and every Interval until Stop.
func (m *Mailer) Start(ctx context.Context) error {
	return m.loop.Run(ctx, func(ctx context.Context) {
		t := time.NewTicker(m.o.Interval)
		defer t.Stop()
		for {
			if _, err := m.RunOnce(ctx); err != nil && ctx.Err() == nil {
				m.o.Log.Error("beneficiary emails", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// Stop ends the passes and waits for the one running.
func (m *Mailer) Stop() { m.loop.Halt() }

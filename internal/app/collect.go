package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/payrun/payrun/internal/collect"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reports"
)

// LinkKeyPath is the file of the key that signs beneficiary links:
// serve.link_key, or beside the journal file (payrun.db.linkkey), or in
// dir for a PostgreSQL journal, however it is named (daemons sharing one
// database must share the key file too).
func LinkKeyPath(cfg *config.Config) string {
	if cfg.Serve.LinkKey != "" {
		return cfg.Abs(cfg.Serve.LinkKey)
	}
	if f := JournalFile(cfg); f != "" {
		return f + ".linkkey"
	}
	return cfg.Abs("payrun.linkkey")
}

// Links builds the signer of beneficiary links and the links' lifetimes.
// Without serve.public_url there is no page to link to: the signer is nil
// and only the providers' own links (card push, payment links) are known.
func (a *App) Links() (*collect.Signer, collect.Lifetimes, error) {
	return linksOf(a.Config, a.Providers)
}

func linksOf(cfg *config.Config, provs map[string]providers.Provider) (*collect.Signer, collect.Lifetimes, error) {
	l := collect.Lifetimes{Providers: provs, Deadline: cfg.Reconcile.LinkDeadline}
	if cfg.Serve.PublicURL == "" {
		return nil, l, nil
	}
	key, err := collect.LoadKey(LinkKeyPath(cfg))
	if err != nil {
		return nil, l, &config.Error{Path: cfg.Path, Problems: []string{"serve.link_key: " + err.Error()}}
	}
	s, err := collect.NewSigner(cfg.Serve.PublicURL, key)
	if err != nil {
		return nil, l, &config.Error{Path: cfg.Path, Problems: []string{err.Error()}}
	}
	return s, l, nil
}

// Collect is the beneficiary's side of the daemon: the card collection
// page under /collect/ and, with reports.beneficiary_email, the emails
// that deliver every waiting link.
type Collect struct {
	Signer    *collect.Signer
	Lifetimes collect.Lifetimes
	Page      *collect.Page   // nil without serve.public_url
	Mailer    *collect.Mailer // nil unless reports.beneficiary_email
}

// Collect builds the page and the beneficiary mailer (started by Start).
func (a *App) Collect() (*Collect, error) {
	cfg := a.Config
	s, l, err := a.Links()
	if err != nil {
		return nil, err
	}
	c := &Collect{Signer: s, Lifetimes: l}
	if s == nil {
		return c, nil
	}
	payer := cfg.Reports.Payer
	c.Page = collect.NewPage(collect.PageOptions{Journal: a.Journal, Providers: a.Providers, Sender: a.Dispatcher,
		Signer: s, Lifetimes: l, Payer: payer, Location: cfg.Location(), Now: a.Journal.Now, Log: a.Log})
	if !cfg.Reports.BeneficiaryEmail {
		return c, nil
	}
	body := ""
	if cfg.Reports.BeneficiaryTemplate != "" {
		b, err := os.ReadFile(cfg.Abs(cfg.Reports.BeneficiaryTemplate))
		if err != nil {
			return nil, &config.Error{Path: cfg.Path, Problems: []string{"reports.beneficiary_template: " + err.Error()}}
		}
		body = string(b)
	}
	t, err := reports.ParseBeneficiaryTemplates(cfg.Reports.BeneficiarySubject, body)
	if err != nil {
		return nil, &config.Error{Path: cfg.Path, Problems: []string{"reports.beneficiary_template / beneficiary_subject: " + err.Error()}}
	}
	m, err := a.Mailer()
	if err != nil {
		return nil, err
	}
	c.Mailer = collect.NewMailer(collect.MailOptions{Journal: a.Journal, Signer: s, Lifetimes: l, Mailer: m, Templates: t,
		From: cfg.Reports.From, Payer: payer, Reminder: cfg.Reports.BeneficiaryReminder, Location: cfg.Location(), Log: a.Log})
	return c, nil
}

// Link is where an item's beneficiary acts, when it waits for one: its
// card collection page, or the provider's own link ("" otherwise), for the
// status page.
func (c *Collect) Link(it journal.Item) string {
	if c == nil || it.State != journal.AwaitingBeneficiary {
		return ""
	}
	if l, ok := collect.LinkOf(it, c.Signer, c.Lifetimes); ok {
		return l.URL
	}
	return ""
}

// Mount serves the page under /collect/ and everything else with h.
func (c *Collect) Mount(h http.Handler) http.Handler {
	if c == nil || c.Page == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, collect.PathPrefix) {
			c.Page.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Start lets the page send collected payouts under ctx and starts the
// beneficiary emails.
func (c *Collect) Start(ctx context.Context) error {
	if c == nil {
		return nil
	}
	if c.Page != nil {
		c.Page.Start(ctx)
	}
	if c.Mailer != nil {
		return c.Mailer.Start(ctx)
	}
	return nil
}

// Stop stops the emails and waits for the page's sends (which end with
// the context Start was given).
func (c *Collect) Stop() {
	if c == nil {
		return
	}
	if c.Mailer != nil {
		c.Mailer.Stop()
	}
	if c.Page != nil {
		c.Page.Wait()
	}
}

// waitingLinks are the links a report lists. A problem (a provider or
// the link key that cannot be read) leaves them out, with a note, never
// the report.
func waitingLinks(ctx context.Context, cfg *config.Config, j journal.Journal, notes io.Writer) []reports.Link {
	provs, err := BuildProviders(cfg, "")
	if err != nil {
		fmt.Fprintf(notes, "note: waiting links not listed: %v\n", err)
		return nil
	}
	s, l, err := linksOf(cfg, provs)
	if err != nil {
		fmt.Fprintf(notes, "note: waiting links not listed: %v\n", err)
		return nil
	}
	links, err := collect.Waiting(ctx, j, s, l, j.Now())
	if err != nil {
		fmt.Fprintf(notes, "note: waiting links not listed: %v\n", err)
		return nil
	}
	return links
}

// StatusLinks gives a waiting item's link for a status read from the
// journal itself, as the daemon's Collect.Link does; a problem (a provider
// or the link key that cannot be read) leaves card collection links out,
// with a note, and providers' own links are still shown.
func StatusLinks(cfg *config.Config, notes io.Writer) func(journal.Item) string {
	provs, err := BuildProviders(cfg, "")
	var s *collect.Signer
	var l collect.Lifetimes
	if err == nil {
		s, l, err = linksOf(cfg, provs)
	}
	if err != nil {
		fmt.Fprintf(notes, "note: card collection links not shown: %v\n", err)
	}
	c := &Collect{Signer: s, Lifetimes: l}
	return c.Link
}

// checkCollect is start-up's check of beneficiary links: the link key
// file, when it exists (start-up creates a missing one; a check writes
// nothing), and the beneficiary email's templates.
func checkCollect(cfg *config.Config) []string {
	var out []string
	if path := LinkKeyPath(cfg); cfg.Serve.PublicURL != "" {
		if _, err := os.Stat(path); err == nil {
			if _, err := collect.LoadKey(path); err != nil {
				out = append(out, "serve.link_key: "+err.Error())
			}
		}
	}
	if !cfg.Reports.BeneficiaryEmail {
		return out
	}
	body := ""
	if cfg.Reports.BeneficiaryTemplate != "" {
		b, err := os.ReadFile(cfg.Abs(cfg.Reports.BeneficiaryTemplate))
		if err != nil {
			return append(out, "reports.beneficiary_template: "+err.Error())
		}
		body = string(b)
	}
	if _, err := reports.ParseBeneficiaryTemplates(cfg.Reports.BeneficiarySubject, body); err != nil {
		out = append(out, "reports.beneficiary_template / beneficiary_subject: "+err.Error())
	}
	return out
}

package reports

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/jordan-wright/email"

	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/money"
)

// Link is a payout waiting for its beneficiary, and where the beneficiary
// acts: payrun's card collection page (Bank 131, Smart Glocal), Monnet's
// card push iframe, a payment link.
type Link struct {
	BatchID     string
	PayoutID    string
	Provider    string
	Method      string
	Kind        string // "card collection", "card push", "payment link"
	Beneficiary string
	Email       string
	Amount      money.Money
	URL         string
	Expires     time.Time
}

// MaskLink cuts what makes a link usable, so that a report read by others
// cannot be used to give the payout another card: a link is a bearer
// credential, its token in the query (payrun's signature) or in the path
// (a provider's card push page). What stays is enough to recognise it:
// the scheme and host, the path's words ("collect", "cardpush": short,
// lowercase letters, "-" and "_" only) but never its last segment, and of
// every other segment "…" with, when it is long enough to be a token, its
// last four characters. The query and the fragment become "?…". When in
// doubt a segment is masked: a word it hides costs less than a token it
// would show.
func MaskLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return MaskTail(s)
	}
	masked := u.Scheme + "://" + u.Host
	if p := strings.Trim(u.EscapedPath(), "/"); p != "" {
		segs := strings.Split(p, "/")
		for i, seg := range segs {
			if i == len(segs)-1 || !pathWord(seg) {
				segs[i] = maskSegment(seg)
			}
		}
		masked += "/" + strings.Join(segs, "/")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		masked += "?…"
	}
	return masked
}

// pathWord reports whether a path segment reads as a word naming a page,
// not a token: at most 16 characters, lowercase letters, "-" and "_".
func pathWord(seg string) bool {
	if seg == "" || len(seg) > 16 {
		return false
	}
	for _, c := range seg {
		if (c < 'a' || c > 'z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// maskSegment is a masked path segment: "…", and its last four
// characters when it is long enough (16) that they leave it unusable.
func maskSegment(seg string) string {
	if len(seg) < 16 {
		return "…"
	}
	return "…" + seg[len(seg)-4:]
}

// maskEmail keeps an email's first character and its domain.
func maskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return MaskTail(s)
	}
	return s[:1] + "…" + s[at:]
}

// WriteLinksCSV writes the waiting links, one a row, in the order given:
// what a team needs to deliver them by hand, or to see what its emails
// said. Masked (o.Unmasked false) the links lose what makes them usable
// and the emails their local part: whoever holds a link can choose the
// card the money goes to.
func WriteLinksCSV(w io.Writer, links []Link, loc *time.Location, o Options) error {
	if loc == nil {
		loc = time.UTC
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"batch_id", "payout_id", "provider", "method", "kind", "beneficiary", "email", "amount", "currency", "link", "expires"})
	for _, l := range links {
		link, mail := l.URL, l.Email
		if !o.Unmasked {
			link, mail = MaskLink(link), maskEmail(mail)
		}
		exp := ""
		if !l.Expires.IsZero() {
			exp = l.Expires.In(loc).Format("2006-01-02 15:04 MST")
		}
		_ = cw.Write([]string{Neutralise(l.BatchID), Neutralise(l.PayoutID), l.Provider, l.Method, l.Kind,
			Neutralise(MaskCards(l.Beneficiary)), Neutralise(mail), l.Amount.Decimal(), l.Amount.Currency, Neutralise(link), exp})
	}
	cw.Flush()
	return cw.Error()
}

// BeneficiaryMail is what a beneficiary's email says; the templates see
// its fields.
type BeneficiaryMail struct {
	Link
	// Payer is who pays (reports.payer).
	Payer string
	// Reminder is true for the message sent shortly before the link
	// expires.
	Reminder bool
	// AmountText is the amount as a person reads it ("1,234.56 PEN").
	AmountText string
	// ExpiresText is when the link stops working, in the deployment's zone.
	ExpiresText string
}

// DefaultBeneficiarySubject and DefaultBeneficiaryBody are the built-in
// templates of the beneficiary email (text/template).
const (
	DefaultBeneficiarySubject = `{{if .Reminder}}Reminder: {{end}}{{.Payer}} is sending you {{.AmountText}}`
	DefaultBeneficiaryBody    = `Hello {{.Beneficiary}},

{{.Payer}} is sending you {{.AmountText}} (reference {{.PayoutID}}).
{{- if eq .Kind "card collection"}}
To receive it, open the link below and enter the card the money should go to.
The card form is the payment provider's own: {{.Payer}} never sees your card number.
{{- else if eq .Kind "card push"}}
To receive it, open the link below and enter the card the money should go to.
{{- else}}
To complete it, open the link below.
{{- end}}

{{.URL}}

The link works until {{.ExpiresText}}, once. If you did not expect this payment, do not open the link; reply to this message instead.
`
)

// BeneficiaryTemplates are the parsed subject and body templates.
type BeneficiaryTemplates struct {
	Subject, Body *template.Template
}

// ParseBeneficiaryTemplates parses the subject and body templates ("" uses
// the built-in one) and renders a sample with them, so that a template
// that names a missing field fails here, at start-up, not at the first
// email.
func ParseBeneficiaryTemplates(subject, body string) (BeneficiaryTemplates, error) {
	if strings.TrimSpace(subject) == "" {
		subject = DefaultBeneficiarySubject
	}
	if strings.TrimSpace(body) == "" {
		body = DefaultBeneficiaryBody
	}
	var t BeneficiaryTemplates
	// A template is text every beneficiary email carries: a card number in
	// it would be written into each of them (and the outbox).
	if pan.Contains(subject) {
		return t, errors.New("beneficiary email subject: holds a card number; remove it")
	}
	if pan.Contains(body) {
		return t, errors.New("beneficiary email body: holds a card number; remove it")
	}
	var err error
	if t.Subject, err = template.New("subject").Option("missingkey=error").Parse(subject); err != nil {
		return t, fmt.Errorf("beneficiary email subject: %w", err)
	}
	if t.Body, err = template.New("body").Option("missingkey=error").Parse(body); err != nil {
		return t, fmt.Errorf("beneficiary email body: %w", err)
	}
	sample := BeneficiaryMail{Link: Link{PayoutID: "P-1", Kind: "card collection", Beneficiary: "Ana", URL: "https://example.com/x",
		Amount: money.Money{Minor: 100, Currency: "PEN"}}, Payer: "Example", AmountText: "1.00 PEN", ExpiresText: "tomorrow"}
	if _, err := ComposeBeneficiary(sample, t, Envelope{From: "a@example.com"}); err != nil {
		return t, err
	}
	return t, nil
}

// ComposeBeneficiary builds the email that sends a beneficiary their link.
// Its Message-ID is derived from the link and whether it is the reminder,
// so that the mail queue (which keeps the first message of an id) sends
// each link's first message and its reminder at most once, however often
// they are composed. env.To is the link's email.
func ComposeBeneficiary(m BeneficiaryMail, t BeneficiaryTemplates, env Envelope) (*email.Email, error) {
	var subj, body strings.Builder
	if err := t.Subject.Execute(&subj, m); err != nil {
		return nil, fmt.Errorf("beneficiary email subject: %w", err)
	}
	if err := t.Body.Execute(&body, m); err != nil {
		return nil, fmt.Errorf("beneficiary email body: %w", err)
	}
	if env.From == "" {
		return nil, fmt.Errorf("reports: a beneficiary email needs a sender (reports.from)")
	}
	e := email.NewEmail()
	e.From = env.From
	if m.Email != "" {
		e.To = []string{m.Email}
	}
	e.Subject = strings.Join(strings.Fields(subj.String()), " ")
	e.Text = []byte(strings.ReplaceAll(strings.ReplaceAll(body.String(), "\r\n", "\n"), "\n", "\r\n"))
	kind := "link"
	if m.Reminder {
		kind = "link-reminder"
	}
	sum := sha256.Sum256([]byte(m.PayoutID + "\x00" + m.URL))
	e.Headers.Set("Message-Id", "<"+kind+"."+hex.EncodeToString(sum[:12])+"@payrun>")
	return e, nil
}

// Enqueue queues a message without delivering it; Flush delivers. A
// message whose id was queued before (sent or not) is not queued again.
func (m *Mailer) Enqueue(e *email.Email) error {
	eml, err := e.Bytes()
	if err != nil {
		return fmt.Errorf("render message: %w", err)
	}
	id := MessageID(e)
	if id == "" {
		return fmt.Errorf("reports: message has no Message-Id")
	}
	return m.queue().Enqueue(id, eml)
}

// writeLinks writes the CSV of the report's waiting links, when any.
func writeLinks(files *Files, r Request, stem string, inScope map[string]bool, loc *time.Location) error {
	var links []Link
	for _, l := range r.Links {
		if inScope[l.PayoutID] {
			links = append(links, l)
		}
	}
	if len(links) == 0 {
		return nil
	}
	files.LinksCSV = filepath.Join(r.Dir, stem+"-waiting-links.csv")
	if err := WriteFile(files.LinksCSV, 0o640, func(w io.Writer) error { return WriteLinksCSV(w, links, loc, r.Options) }); err != nil {
		return fmt.Errorf("waiting links csv: %w", err)
	}
	return nil
}

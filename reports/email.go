package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"io"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/jordan-wright/email"

	"github.com/payrun/payrun/reconcile"
)

// Envelope says who a message goes to and what it carries.
type Envelope struct {
	From string
	To   []string
	Cc   []string
	// SubjectPrefix starts the subject ("[payrun]").
	SubjectPrefix string
	// Attachments are files on disk (the workbook, the annotated input),
	// attached in order under their base names. Write them before
	// composing: the message holds their bytes.
	Attachments []string
}

// maxEmailExceptions bounds the exceptions listed in the body; the
// workbook has them all.
const maxEmailExceptions = 20

// Compose builds the morning message: an HTML body with the summary table,
// the tie-out and the first exceptions, the same as plain text, and the
// attachments. Its Message-ID is derived from the batches and the run time,
// so a message queued and sent twice (see Queue) is recognisably the same.
func Compose(meta Meta, res *reconcile.Result, env Envelope, o Options) (*email.Email, error) {
	v := newReportView(meta, res, o)
	subject := fmt.Sprintf("Reconciliation %s: %d matched, %s", v.cover.Subject, v.Matched, count(v.ExceptionCount, "exception"))
	if res.ReviewCount > 0 {
		subject = fmt.Sprintf("NEEDS REVIEW (%d) %s", res.ReviewCount, subject)
	}
	if !v.Balanced {
		subject += " (DOES NOT TIE OUT)"
	}
	return build(env, subject, "reconcile", meta.RunAt, reportHTML, reportText, v)
}

// WriteHTML writes the message's HTML body as a standalone page: the same
// bytes as the HTML part of Compose's message.
func WriteHTML(w io.Writer, meta Meta, res *reconcile.Result, o Options) error {
	return renderCRLF(w, reportHTML, newReportView(meta, res, o))
}

// WriteText writes the message's plain-text body: the same bytes as the
// text part of Compose's message.
func WriteText(w io.Writer, meta Meta, res *reconcile.Result, o Options) error {
	return renderCRLF(w, reportText, newReportView(meta, res, o))
}

// renderCRLF renders a template with CRLF line ends: the canonical form of
// text in mail, so that a body survives SMTP byte for byte and equals the
// file written beside the workbook.
func renderCRLF(w io.Writer, t interface {
	Execute(io.Writer, any) error
}, v any) error {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return err
	}
	_, err := w.Write(bytes.ReplaceAll(b.Bytes(), []byte("\n"), []byte("\r\n")))
	return err
}

func newReportView(meta Meta, res *reconcile.Result, o Options) reportView {
	v := reportView{Balanced: res.Balanced()}
	if res.ReviewCount > 0 {
		v.Review = reviewText(res)
	}
	v.cover = coverageOf(meta, res)
	v.Period, v.Batches, v.Files, v.Carried = v.cover.PeriodText, v.cover.Batches, v.cover.Files, v.cover.Carried
	v.RunAt, v.Zone = meta.runAt(), meta.zoneName()
	for _, t := range res.Totals {
		v.Totals = append(v.Totals, totalView{
			Currency: t.Currency, Provider: text(t.Provider), Category: t.Category.Label(), Count: t.Count,
			Amount: grouped(t.Amount, t.Currency), Fees: grouped(t.Fees, t.Currency),
		})
	}
	for _, t := range res.TieOut {
		v.TieOut = append(v.TieOut, tieView{
			Currency: t.Currency, Provider: text(t.Provider), InputCount: t.InputCount, Input: grouped(t.InputAmount, t.Currency),
			CategoriesCount: t.CategoriesCount, Categories: grouped(t.CategoriesAmount, t.Currency),
			Difference: grouped(t.Difference, t.Currency), Balanced: t.Difference == 0 && t.InputCount == t.CategoriesCount,
		})
	}
	// A report too large to hold its lines (reports.Run) keeps only the
	// first exceptions in Lines: the counts come from the totals.
	sampled := len(res.Lines) < res.LineCount
	if sampled {
		for _, t := range res.Totals {
			if t.Category.Exception() {
				v.ExceptionCount += t.Count
			} else {
				v.Matched += t.Count
			}
		}
	}
	for i := range res.Lines {
		l := &res.Lines[i]
		if !l.Category.Exception() {
			if !sampled {
				v.Matched++
			}
			continue
		}
		if !sampled {
			v.ExceptionCount++
		}
		if len(v.Exceptions) < maxEmailExceptions {
			v.Exceptions = append(v.Exceptions, exceptionView{
				PayoutID: ident(l.PayoutID), Provider: text(l.Provider), Amount: grouped(l.Amount, l.Currency) + " " + l.Currency,
				Category: l.Category.Label(), Reason: text(l.Reason), Age: l.AgeBucket, Account: o.sensitive(l.Account),
			})
		}
	}
	v.More = v.ExceptionCount - len(v.Exceptions)
	return v
}

// build renders both bodies, attaches the files and sets the headers that
// must not vary between two renderings of the same report.
func build(env Envelope, subject, kind string, at time.Time, ht *htmltemplate.Template, tt *texttemplate.Template, v any) (*email.Email, error) {
	if env.From == "" || len(env.To) == 0 {
		return nil, fmt.Errorf("reports: a message needs a sender and at least one recipient")
	}
	e := email.NewEmail()
	e.From, e.To, e.Cc = env.From, env.To, env.Cc
	e.Subject = strings.TrimSpace(env.SubjectPrefix + " " + subject)
	var hb, tb bytes.Buffer
	if err := renderCRLF(&hb, ht, v); err != nil {
		return nil, fmt.Errorf("render html: %w", err)
	}
	if err := renderCRLF(&tb, tt, v); err != nil {
		return nil, fmt.Errorf("render text: %w", err)
	}
	e.HTML, e.Text = hb.Bytes(), tb.Bytes()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s", kind, e.Subject, at.UTC().Format(time.RFC3339Nano), strings.Join(env.To, ","))
	for _, a := range env.Attachments {
		if _, err := e.AttachFile(a); err != nil {
			return nil, fmt.Errorf("attach %s: %w", filepath.Base(a), err)
		}
		h.Write([]byte(filepath.Base(a)))
	}
	if at.IsZero() {
		at = time.Now()
	}
	e.Headers.Set("Date", at.Format(time.RFC1123Z))
	e.Headers.Set("Message-Id", "<"+kind+"."+hex.EncodeToString(h.Sum(nil)[:12])+"@payrun>")
	return e, nil
}

// MessageID returns the message's Message-Id header ("<...@payrun>").
func MessageID(e *email.Email) string { return e.Headers.Get("Message-Id") }

type reportView struct {
	// Period, Batches, Files and Carried say what the report covers.
	Period, Batches, Files, Carried string
	RunAt, Zone                     string
	cover                           coverage
	Balanced                        bool
	Totals                          []totalView
	TieOut                          []tieView
	Exceptions                      []exceptionView
	ExceptionCount, More, Matched   int
	// Review names the payouts paid with another amount than the input's.
	Review string
}

type totalView struct {
	Currency, Provider, Category, Amount, Fees string
	Count                                      int
}

type tieView struct {
	Currency, Provider, Input, Categories, Difference string
	InputCount, CategoriesCount                       int
	Balanced                                          bool
}

type exceptionView struct {
	PayoutID, Provider, Amount, Category, Reason, Age, Account string
}

// grouped is an exact amount with thousands separators for reading:
// 150050 PEN is "1,500.50".
func grouped(minor int64, currency string) string {
	dec := decimal(minor, currency)
	sign := ""
	if strings.HasPrefix(dec, "-") {
		sign, dec = "-", dec[1:]
	}
	intPart, frac, hasFrac := strings.Cut(dec, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

var reportHTML = htmltemplate.Must(htmltemplate.New("report").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>payrun reconciliation</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px">
<h2>payrun reconciliation</h2>
{{if .Review}}<p style="color:#b00;font-weight:bold">Needs review: {{.Review}}</p>
{{end}}<table cellpadding="3">
<tr><th align="left">Period</th><td>{{.Period}}</td></tr>
<tr><th align="left">Batches</th><td>{{.Batches}}</td></tr>
<tr><th align="left">Files</th><td>{{.Files}}</td></tr>
{{if .Carried}}<tr><th align="left">Carried forward</th><td>{{.Carried}}</td></tr>
{{end}}
<tr><th align="left">Run time</th><td>{{.RunAt}}</td></tr>
<tr><th align="left">Time zone</th><td>{{.Zone}}</td></tr>
<tr><th align="left">Ties out</th><td>{{if .Balanced}}yes{{else}}<b style="color:#b00">NO, see the Tie-out</b>{{end}}</td></tr>
</table>
<h3>Summary</h3>
<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
<tr><th>Currency</th><th>Provider</th><th>Category</th><th>Count</th><th>Amount</th><th>Fees</th></tr>
{{range .Totals}}<tr><td>{{.Currency}}</td><td>{{.Provider}}</td><td>{{.Category}}</td><td align="right">{{.Count}}</td><td align="right">{{.Amount}}</td><td align="right">{{.Fees}}</td></tr>
{{end}}</table>
<h3>Tie-out</h3>
<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
<tr><th>Currency</th><th>Provider</th><th>Input rows</th><th>Input amount</th><th>Category rows</th><th>Categories amount</th><th>Difference</th></tr>
{{range .TieOut}}<tr><td>{{.Currency}}</td><td>{{.Provider}}</td><td align="right">{{.InputCount}}</td><td align="right">{{.Input}}</td><td align="right">{{.CategoriesCount}}</td><td align="right">{{.Categories}}</td><td align="right"{{if not .Balanced}} style="color:#b00;font-weight:bold"{{end}}>{{.Difference}}</td></tr>
{{end}}</table>
<h3>Exceptions ({{.ExceptionCount}})</h3>
{{if .Exceptions}}<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
<tr><th>Payout ID</th><th>Provider</th><th>Amount</th><th>Category</th><th>Reason</th><th>Age</th><th>Account</th></tr>
{{range .Exceptions}}<tr><td>{{.PayoutID}}</td><td>{{.Provider}}</td><td align="right">{{.Amount}}</td><td>{{.Category}}</td><td>{{.Reason}}</td><td>{{.Age}}</td><td>{{.Account}}</td></tr>
{{end}}</table>
{{if .More}}<p>and {{.More}} more in the attached workbook.</p>{{end}}{{else}}<p>None.</p>{{end}}
</body></html>
`))

var reportText = texttemplate.Must(texttemplate.New("report").Parse(`payrun reconciliation
{{if .Review}}
NEEDS REVIEW: {{.Review}}
{{end}}
Period:    {{.Period}}
Batches:   {{.Batches}}
Files:     {{.Files}}
{{if .Carried}}Carried:   {{.Carried}}
{{end}}Run time:  {{.RunAt}}
Time zone: {{.Zone}}
Ties out:  {{if .Balanced}}yes{{else}}NO, see the Tie-out{{end}}

SUMMARY
{{range .Totals}}{{printf "%-4s %-14s %-30s %7d %20s %14s" .Currency .Provider .Category .Count .Amount .Fees}}
{{end}}
TIE-OUT (input = sum of categories)
{{range .TieOut}}{{printf "%-4s %-14s input %7d %20s  categories %7d %20s  difference %s" .Currency .Provider .InputCount .Input .CategoriesCount .Categories .Difference}}
{{end}}
EXCEPTIONS ({{.ExceptionCount}})
{{range .Exceptions}}{{.PayoutID}}  {{.Provider}}  {{.Amount}}  {{.Category}}{{if .Reason}}: {{.Reason}}{{end}}{{if .Age}} ({{.Age}}){{end}}{{if .Account}}  account {{.Account}}{{end}}
{{end}}{{if .More}}and {{.More}} more in the attached workbook.
{{end}}`))

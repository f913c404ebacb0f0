package reports

import (
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"

	"github.com/jordan-wright/email"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/reconcile"
)

// Preflight is what the operators are told before money moves.
type Preflight struct {
	BatchID string
	File    string
	At      time.Time
	// Location is the zone the times are shown in (nil: UTC).
	Location *time.Location
	// Groups are the accepted rows per provider and currency.
	Groups []PreflightGroup
	// Invalid are the problems of the rows that will not be sent.
	Invalid []reconcile.InvalidRow
	// Duplicates are rows that look like an earlier payout (same
	// beneficiary account and amount within the lookback window).
	Duplicates []dispatch.SuspectedDuplicate
	// Estimate is how long dispatch should take at the providers' limits.
	Estimate time.Duration
	// Held says the batch waits for `payrun approve`; HoldReason says why
	// (e.g. the total above the configured threshold) and Approve how.
	Held       bool
	HoldReason string
	Approve    string
}

// PreflightGroup is the count and total of one provider and currency.
type PreflightGroup struct {
	Provider string
	Currency string
	Count    int
	Amount   int64 // minor units of Currency
}

// PreflightOf is the message of a batch's pre-flight, shown at at in loc;
// approve says how to release a held batch.
func PreflightOf(p dispatch.Preflight, at time.Time, loc *time.Location, approve string) Preflight {
	out := Preflight{BatchID: p.Batch.ID, File: p.Batch.File, At: at, Location: loc, Duplicates: p.Duplicates,
		Estimate: p.Estimate, Held: p.Held, HoldReason: p.HoldReason}
	if p.Held {
		out.Approve = approve
	}
	for _, t := range p.Batch.Totals {
		out.Groups = append(out.Groups, PreflightGroup{Provider: t.Provider, Currency: t.Currency, Count: t.Count, Amount: t.Amount})
	}
	for _, e := range p.Invalid {
		out.Invalid = append(out.Invalid, reconcile.InvalidRow{BatchID: p.Batch.ID, File: p.Batch.File, Row: e.Row,
			Column: e.Column, Value: e.Value, Reason: e.Reason})
	}
	return out
}

// ComposePreflight builds the pre-flight message (HTML and text).
func ComposePreflight(p Preflight, env Envelope, o Options) (*email.Email, error) {
	meta := Meta{BatchIDs: []string{p.BatchID}, File: p.File, RunAt: p.At, Location: p.Location}
	v := preflightView{
		Batch: ident(p.BatchID), File: text(p.File), At: meta.runAt(), Zone: meta.zoneName(),
		Estimate: p.Estimate.Round(time.Second).String(), Held: p.Held, HoldReason: text(p.HoldReason),
		Approve: p.Approve, InvalidCount: len(p.Invalid),
	}
	rows := 0
	for _, g := range p.Groups {
		rows += g.Count
		v.Groups = append(v.Groups, totalView{Currency: g.Currency, Provider: text(g.Provider), Count: g.Count,
			Amount: grouped(g.Amount, g.Currency)})
	}
	for _, r := range p.Invalid {
		v.Invalid = append(v.Invalid, invalidView{Row: r.Row, Column: text(r.Column), Value: o.inputValue(r.Column, r.Value), Reason: text(r.Reason)})
	}
	for _, d := range p.Duplicates {
		v.Duplicates = append(v.Duplicates, duplicateView{
			Row: d.Row, PayoutID: ident(d.PayoutID), Account: o.sensitive(d.Account),
			Amount: grouped(d.Amount, d.Currency) + " " + d.Currency, OtherBatch: ident(d.OtherBatch),
			OtherPayoutID: ident(d.OtherPayoutID), OtherDate: meta.formatTime(d.OtherDate),
		})
	}
	subject := fmt.Sprintf("Pre-flight %s: %d rows to pay, %d invalid, %d suspected duplicates", p.BatchID, rows, len(p.Invalid), len(p.Duplicates))
	if p.Held {
		subject += " (HELD for approval)"
	}
	return build(env, subject, "preflight", p.At, preflightHTML, preflightText, v)
}

type preflightView struct {
	Batch, File, At, Zone, Estimate, HoldReason, Approve string
	Held                                                 bool
	Groups                                               []totalView
	Invalid                                              []invalidView
	InvalidCount                                         int
	Duplicates                                           []duplicateView
}

type invalidView struct {
	Row                   int
	Column, Value, Reason string
}

type duplicateView struct {
	Row                                                             int
	PayoutID, Account, Amount, OtherBatch, OtherPayoutID, OtherDate string
}

var preflightHTML = htmltemplate.Must(htmltemplate.New("preflight").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>payrun pre-flight</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px">
<h2>payrun pre-flight: {{.Batch}}</h2>
{{if .Held}}<p style="color:#b00"><b>HELD: no money moves until the batch is approved.</b> {{.HoldReason}}{{if .Approve}}<br>To approve: <code>{{.Approve}}</code>{{end}}</p>{{end}}
<table cellpadding="3">
<tr><th align="left">File</th><td>{{.File}}</td></tr>
<tr><th align="left">Checked at</th><td>{{.At}} ({{.Zone}})</td></tr>
<tr><th align="left">Estimated dispatch time</th><td>{{.Estimate}}</td></tr>
</table>
<h3>To pay</h3>
<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
<tr><th>Provider</th><th>Currency</th><th>Rows</th><th>Total</th></tr>
{{range .Groups}}<tr><td>{{.Provider}}</td><td>{{.Currency}}</td><td align="right">{{.Count}}</td><td align="right">{{.Amount}}</td></tr>
{{end}}</table>
<h3>Invalid rows ({{.InvalidCount}})</h3>
{{if .Invalid}}<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
<tr><th>Row</th><th>Column</th><th>Value</th><th>Reason</th></tr>
{{range .Invalid}}<tr><td>{{.Row}}</td><td>{{.Column}}</td><td>{{.Value}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h3>Suspected duplicates ({{len .Duplicates}})</h3>
{{if .Duplicates}}<table border="1" cellpadding="4" cellspacing="0" style="border-collapse:collapse">
<tr><th>Row</th><th>Payout ID</th><th>Account</th><th>Amount</th><th>Earlier batch</th><th>Earlier payout</th><th>Earlier date</th></tr>
{{range .Duplicates}}<tr><td>{{.Row}}</td><td>{{.PayoutID}}</td><td>{{.Account}}</td><td align="right">{{.Amount}}</td><td>{{.OtherBatch}}</td><td>{{.OtherPayoutID}}</td><td>{{.OtherDate}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
</body></html>
`))

var preflightText = texttemplate.Must(texttemplate.New("preflight").Parse(`payrun pre-flight: {{.Batch}}
{{if .Held}}
HELD: no money moves until the batch is approved. {{.HoldReason}}
{{if .Approve}}To approve: {{.Approve}}
{{end}}{{end}}
File:       {{.File}}
Checked at: {{.At}} ({{.Zone}})
Estimated dispatch time: {{.Estimate}}

TO PAY
{{range .Groups}}{{printf "%-14s %-4s %7d %20s" .Provider .Currency .Count .Amount}}
{{end}}
INVALID ROWS ({{.InvalidCount}})
{{range .Invalid}}row {{.Row}} {{.Column}} {{printf "%q" .Value}}: {{.Reason}}
{{end}}
SUSPECTED DUPLICATES ({{len .Duplicates}})
{{range .Duplicates}}row {{.Row}} {{.PayoutID}} account {{.Account}} {{.Amount}} resembles {{.OtherPayoutID}} in {{.OtherBatch}} ({{.OtherDate}})
{{end}}`))

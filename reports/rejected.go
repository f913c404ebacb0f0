package reports

import (
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/jordan-wright/email"
	"github.com/payrun/payrun/batch"
)

// ComposeRejected builds the message that tells operators a dropped file
// was refused, with its row-by-row error report (already masked: the
// validator never echoes a card number).
func ComposeRejected(file, report string, at time.Time, env Envelope) (*email.Email, error) {
	v := struct {
		File, Report, At string
	}{File: text(file), Report: text(report), At: at.UTC().Format("2006-01-02 15:04 UTC")}
	return build(env, "File rejected: "+v.File, "rejected", at, rejectedHTML, rejectedText, v)
}

var rejectedHTML = htmltemplate.Must(htmltemplate.New("rejected").Parse(`<!doctype html>
<html><body style="font-family: sans-serif">
<h2>File rejected: {{.File}}</h2>
<p>Received {{.At}}. Nothing in it was recorded or sent. Fix the rows below and drop the file again.</p>
<pre style="font-size: 12px">{{.Report}}</pre>
</body></html>
`))

var rejectedText = texttemplate.Must(texttemplate.New("rejected").Parse(`File rejected: {{.File}}
Received {{.At}}. Nothing in it was recorded or sent. Fix the rows below and drop the file again.

{{.Report}}
`))

// WriteRowErrors writes a file's validation report as a table, one line a
// problem: what an operator reads at the terminal and in the error report
// filed beside a rejected file.
func WriteRowErrors(w io.Writer, rep *batch.Report) {
	if rep == nil {
		return
	}
	fmt.Fprintf(w, "%s: %d row(s), %d valid, %d error(s)\n", rep.File, rep.Rows, rep.ValidRows, len(rep.Errors))
	if len(rep.Errors) == 0 {
		return
	}
	fmt.Fprintf(w, "  %6s  %-22s  %-24s  %s\n", "row", "column", "value", "reason")
	for _, re := range rep.Errors {
		v := strings.ReplaceAll(re.Value, "\n", " ")
		if r := []rune(v); len(r) > 24 {
			v = string(r[:21]) + "..."
		}
		fmt.Fprintf(w, "  %6d  %-22s  %-24s  %s\n", re.Row, re.Column, v, re.Reason)
	}
	if rep.Omitted > 0 {
		fmt.Fprintf(w, "  ... and %d more error(s)\n", rep.Omitted)
	}
}

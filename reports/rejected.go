package reports

import (
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"

	"github.com/jordan-wright/email"
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

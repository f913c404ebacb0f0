// Package reports turns a reconciliation into what accountants read: the
// morning workbook (XLSX), CSV exports of its Summary and Details, the
// original input file returned in its own format with status columns
// appended, and the email that carries them (SMTP, or an .eml in the outbox
// when no server is configured). It also renders the pre-flight message sent
// before money moves.
//
// It sits above reconcile in the import chain (providers <- batch <-
// journal <- dispatch <- reconcile <- reports <- internal/app <- cmd/payrun)
// and imports nothing of internal/config, internal/app, internal/daemon or
// cmd. The writers take a *reconcile.Result (or its lines as an iterator,
// so that a million-row Details sheet streams) and a Queue for undelivered
// mail; only the report run (Run) reads the journal itself, in a stream.
//
// Safety rules apply to every output format, in one place (safe.go): a text
// value starting with '=', '+', '-', '@', tab or CR is neutralised with a
// leading single quote; account and document numbers are masked to their last
// four characters, and beneficiaries' links lose their tokens (MaskLink),
// unless Options.Unmasked; anything that looks like a card number (13 to 19
// digits passing the Luhn check) is masked always.
//
// Every file it writes (reports, the annotated input, queued mail) goes
// through WriteFile (or, for the annotated CSV written row by row, the
// pendingFile beneath it): a temporary file beside the target, synced,
// renamed over it, so a reader never sees half of one.
//
// Amounts are never floats in payrun. Spreadsheet cells must nevertheless be
// numbers, so the exact decimal text ("1500.50") is what lands in the sheet
// XML: small sheets use excelize's SetCellDefault, which stores the text as a
// number verbatim; streamed sheets go through excelize's StreamWriter, whose
// only numeric path for non-integers is float64, and there the float is a mere
// carrier, built from the decimal text and used only when excelize's
// formatting of it reproduces that text byte for byte (see number.go).
//
//	f, _ := os.Create("reconciliation.xlsx")
//	err := reports.WriteWorkbook(f, reports.Meta{BatchIDs: ids, File: name, RunAt: now, Location: lima}, res, reports.Options{})
//	msg, _ := reports.Compose(meta, res, reports.Envelope{From: from, To: to, Attachments: []string{f.Name()}}, reports.Options{})
//	mailer := &reports.Mailer{SMTP: smtpCfg, Outbox: "outbox", Queue: q}
//	_ = mailer.Submit(ctx, msg) // queued first, then delivered; Flush retries later
package reports

// Package sandboxes starts the sandbox of every registration in
// providers/all on loopback and writes the credentials and a client
// configuration for each, so that the demo, `payrun sandbox`, the
// end-to-end tests and `payrun bench` get a whole provider landscape on
// one machine with one call.
//
// It imports providers/all (and so every client and its sandbox) and
// sandboxkit; nothing of batch, the journal or anything above them.
//
//	l, err := sandboxes.Start(sandboxes.Options{Dir: dir, WebhookBase: "http://127.0.0.1:8080/webhooks/"})
//	defer l.Close()
//	cfg := l.Configs["teemopay"] // base_url, merchant id and file: key references
package sandboxes

// Package journal is payrun's durable memory, as a contract: Journal (in
// journal.go) is everything the rest of payrun needs from a store, in the
// domain's words, and a driver per store implements it (boltjournal, the
// embedded default; pgjournal, PostgreSQL). What every driver must do is
// written once here: the item state graph and the one function that
// checks a change against it (ApplyTo), the rules a provider's status
// follows (StatusChange), the generic ingest of a validated file
// (Ingest, over a driver's Staging), and the card-number scrubbing of
// stored payloads. journaltest.Exercise holds every driver to it.
//
// It imports the file domain (batch), the providers' contract, money and
// internal/pan; nothing of dispatch, reconcile, reports, internal/app or
// cmd.
//
//	j, err := drivers.Open(ctx, "payrun.db", drivers.Options{})
//	res, err := j.Ingest(ctx, "payouts.csv", journal.IngestOptions{})
//	err = j.Apply(ctx, journal.Change{PayoutID: "P-1", From: journal.Queued, To: journal.Sending, Actor: "dispatcher"})
package journal

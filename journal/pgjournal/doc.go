// Package pgjournal is the PostgreSQL driver of journal.Journal: the store
// a team moves to when one machine is not enough, shared by every payrun
// process that opens the same database.
//
// Every write is one PostgreSQL transaction at READ COMMITTED, committed
// (and so synced, with the server's default synchronous_commit) before it
// returns. What two processes could race for is decided by the database:
// items are locked (SELECT ... FOR UPDATE) before journal.ApplyTo checks a
// change against them; a payout_id, a provider event and a provider
// reference are primary keys; the event queue is applied by one process at
// a time (a transaction-scoped advisory lock); a batch being staged is held
// by its ingesting session's advisory lock. The schema is payrun's own
// (migrations/), applied by Open.
//
// Two writes are grouped: concurrent Persist calls share one statement
// and one commit (persist.go), so that a storm of webhooks costs the
// server a sync per group, not per delivery; and a file's chunks commit
// without waiting for the disk, the acceptance of the batch waiting for
// all of them (staging.go).
//
//	j, err := pgjournal.Open(ctx, "postgres://payrun@db/payrun", pgjournal.Options{})
//
// It imports journal and the file domain; nothing above the journal
// (dispatch, reconcile, reports, the daemon, the commands).
package pgjournal

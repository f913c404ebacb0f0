// Package boltjournal is the embedded driver of journal.Journal: one bbolt
// file, mode 0600, held by one process. Small writes share group-committed
// transactions (commit.go: one fsync for every writer waiting); a file is
// ingested a thousand rows a transaction; items are stored without what
// they repeat (layout.go) and webhook events as binary records carrying
// their facts (event_record.go). A file is read whole before it is opened,
// so that a damaged one is journal.ErrCorrupt, never a crash. Journals of
// older schemas are upgraded on the first open for writing (upgrade.go,
// intake.go).
//
// It imports journal and the file domain; nothing above the journal.
package boltjournal

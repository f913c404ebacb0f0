// Package boltjournal is the embedded driver of journal.Journal: one bbolt
// file, mode 0600, held by one process. Small writes share group-committed
// transactions (commit.go: one fsync for every writer waiting); a file is
// ingested 5,000 rows a transaction (journal.IngestChunk); items are
// stored without what they repeat (layout.go), webhook events as binary
// records carrying their facts (event_record.go), appended in the order
// they came and indexed by provider and event id (event_store.go). A file
// is read whole before it is opened, so that a damaged one is
// journal.ErrCorrupt, never a crash. Journals of older schemas are
// upgraded on the first open for writing (upgrade.go, intake.go).
//
// It imports journal and the file domain; nothing above the journal.
package boltjournal

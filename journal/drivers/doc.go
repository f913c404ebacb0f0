// Package drivers opens a journal by its location: the one place that
// knows every driver. A file path is the embedded bbolt journal (the
// default); a postgres:// or postgresql:// URL is PostgreSQL.
//
// It imports the drivers and nothing above the journal.
package drivers

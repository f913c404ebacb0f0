// Package drivers opens a journal by its location: the one place that
// knows every driver. A file path is the embedded bbolt journal (the
// default); a postgres:// or postgresql:// URL is PostgreSQL. A location
// may be a secret reference (env:NAME or file:PATH, as every credential in
// the config) that resolves to the URL, so that the database's password
// is never written in the config.
//
// It imports the drivers and nothing above the journal.
package drivers

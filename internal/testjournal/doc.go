// Package testjournal opens a journal for a test: the embedded bbolt one
// in t.TempDir() by default, checked and closed when the test ends.
// Tests above the journal (dispatch, reconcile, reports, the daemon) use
// it, so that they run on whatever driver the test run names.
package testjournal

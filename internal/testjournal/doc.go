// Package testjournal opens a journal for a test: the embedded bbolt one
// in t.TempDir() by default, or, when PAYRUN_TEST_JOURNAL=postgres, a
// PostgreSQL one in a database of the test's own (internal/pgtest; the
// server is PAYRUN_TEST_POSTGRES). Either is checked and closed when the
// test ends. Tests above the journal (dispatch, reconcile, reports,
// internal/collect, the daemon, the commands, and a few provider tests)
// use it, so that they run on whatever driver the test run names:
//
//	PAYRUN_TEST_JOURNAL=postgres PAYRUN_TEST_POSTGRES=postgres://postgres@127.0.0.1:55432/postgres go test ./reconcile/
//
// It imports journal, its two drivers and internal/pgtest; nothing above
// the journal. Only tests import it (internal/layering).
package testjournal

// Package pgtest gives a test a PostgreSQL database of its own: a clone of
// a template database prepared once per test binary, dropped when the test
// ends. The server is named by PAYRUN_TEST_POSTGRES (an admin URL, such as
// postgres://postgres@127.0.0.1:55432/postgres); .ci/postgres.sh starts
// one and prints it. Without the variable a test skips, saying how to
// start one; with the variable set and the server unreachable it fails,
// so that CI never passes by skipping.
//
//	dsn := pgtest.New(t, pgjournal.Migrate)
//
// It is for tests only (internal/layering keeps shipped code but the
// bench from importing it) and imports nothing of payrun's.
package pgtest

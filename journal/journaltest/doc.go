// Package journaltest is the conformance suite of the journal contract:
// Exercise runs every behaviour journal.Journal promises against a driver
// (both drivers' tests call it), and Dump describes a journal so that two
// can be compared. It also builds items for tests (Item, ValidItem,
// Import). Only tests import it.
package journaltest

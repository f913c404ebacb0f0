// Command payrun is the bulk payout processor and reconciler: one binary
// with a subcommand per job (validate, ingest, process, resume, reconcile,
// report, serve, status, sandbox, demo, bench, ...). This package is wiring
// only: it loads the configuration, opens the journal, builds the provider
// clients from the explicit registration list, and hands them to the
// services in batch, reconcile, reports and internal/daemon. One file per
// subcommand; exit codes are 0 ok, 1 invalid input, 2 usage or
// configuration error, 3 runtime failure.
//
//	payrun demo                       # everything against the sandboxes, no configuration
//	payrun --config payrun.yaml serve # the daemon
package main

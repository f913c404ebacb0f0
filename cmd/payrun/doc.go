// Command payrun is the bulk payout processor and reconciler: one binary
// with a subcommand per job (validate, ingest, process, resume, reconcile,
// report, serve, status, sandbox, demo, bench, ...). This package is wiring
// only: it loads the configuration, opens the journal and builds payrun
// from them (internal/app: the provider clients from the explicit
// registration list, the dispatcher), and hands that to the services in
// journal, dispatch, reconcile, reports and internal/daemon. One file per
// subcommand (resume shares process's, release approve's); exit codes are
// 0 ok, 1 invalid input, 2 usage or configuration error, 3 runtime failure.
//
// It is the top floor: nothing imports it, and it imports what it wires
// (internal/app, internal/daemon, internal/bench and the domain packages
// below them).
//
//	payrun demo                       # everything against the sandboxes, no configuration
//	payrun --config payrun.yaml serve # the daemon
package main

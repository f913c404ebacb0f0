// Package daemon is the plumbing of `payrun serve`: the folder intake, the
// cron schedules, the HTTP server (webhooks, health, readiness, metrics, the
// read-only status API and page), the control socket through which one-shot
// commands reach a running daemon (Control, DialControl: approve, hold,
// send now, report now, resume, status), the Prometheus metrics and the
// log's aggregation of repeated warnings.
//
// It orchestrates the domain packages only through function hooks and small
// interfaces, so that cmd/payrun does the wiring and tests drive every part
// on its own: each service has a one-pass method that tests call directly
// (Intake.RunOnce, Scheduler.RunDue) and a loop (Intake.Start,
// Scheduler.Start) that only decides when to call it.
//
// Wiring, in outline:
//
//	in := &daemon.Intake{Inbox: ..., Processing: ..., Archive: ..., Rejected: ...,
//		StableFor: cfg.Serve.StableFor, ScanInterval: cfg.Serve.ScanInterval,
//		Location: cfg.Location(), Handle: ingestFile, BatchDone: batchDone}
//	cron, _ := daemon.ParseCron(cfg.Serve.Report, cfg.Location())
//	sched, _ := daemon.NewScheduler([]daemon.Job{{Name: "report", Schedule: cron,
//		Run: report.RunOnce, CatchUp: cfg.Serve.CatchUp}}, daemon.SchedulerOptions{})
//	reg := prometheus.NewRegistry()
//	m := daemon.NewMetrics(reg)
//	status := daemon.JournalStatus{J: j}
//	_ = m.RegisterStatus(status)
//	h := daemon.NewServer(daemon.ServerOptions{Webhooks: receiver, Gatherer: reg,
//		Status: status, Ready: []daemon.Check{status.Check(), sched.Check()}})
//
// On a journal several daemons share, one of them, the leader, runs the
// schedules and the intake; every one sends, takes webhooks and takes over
// what a gone node held (leader.go); /api/cluster, the status page and
// /metrics show the nodes (cluster_status.go).
//
// The package never imports cmd and holds no domain rules of its own.
package daemon

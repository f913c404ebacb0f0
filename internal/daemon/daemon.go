package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/testsignal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

// Daemon is `payrun serve`: the webhook receiver, the HTTP server (webhooks,
// status page and API, health, metrics), the folder intake and the
// scheduler, over one App. New builds them and starts nothing; Start
// starts them in their order and Stop stops them in the reverse one, which
// is the one place that order is written.
type Daemon struct {
	App     *app.App
	Metrics *Metrics
	Intake  *Intake
	Sched   *Scheduler
	HTTP    *HTTPServer
	Recv    *reconcile.Receiver
	Poller  *reconcile.Poller

	cfg *config.Config
	log *slog.Logger
	// member is the daemon's part in a cluster (leader.go); nil on a
	// journal this process holds alone.
	member *member
	// dispatchMu runs one dispatch pass at a time.
	dispatchMu sync.Mutex
	// jobs are the dispatch passes and the start-up pass running on their
	// own goroutines (a file dispatched at once).
	jobs sync.WaitGroup
	// root outlives the context of an intake hook: work it starts goes on
	// after the hook returns.
	root   context.Context
	cancel context.CancelFunc

	// resumed is signalled when the start-up pass is done, for tests.
	resumed testsignal.Signal[error]
}

// New builds the daemon over a; it starts nothing.
func New(a *app.App) (*Daemon, error) {
	cfg, j, log := a.Config, a.Journal, a.Log
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(reg)
	status := JournalStatus{J: j}
	if err := metrics.RegisterStatus(status); err != nil {
		return nil, err
	}
	a.Dispatcher.Observe(metrics.ObserveRequest)
	d := &Daemon{App: a, Metrics: metrics, cfg: cfg, log: log, Poller: a.Poller(false)}
	for _, dir := range []string{cfg.Dirs.Reports, cfg.Dirs.Outbox} {
		if err := os.MkdirAll(cfg.Abs(dir), 0o750); err != nil {
			return nil, err
		}
	}
	loc := cfg.Location()
	d.Intake = &Intake{
		Inbox: cfg.Abs(cfg.Dirs.Inbox), Processing: cfg.Abs(cfg.Dirs.Processing),
		Archive: cfg.Abs(cfg.Dirs.Archive), Rejected: cfg.Abs(cfg.Dirs.Rejected),
		StableFor: cfg.Serve.StableFor, ReadyMarker: cfg.Serve.ReadyMarker, ScanInterval: cfg.Serve.ScanInterval,
		Location: loc, Log: log, Handle: d.handleFile, Observe: metrics.IntakeFile, Waiting: metrics.IntakeWaiting,
		BatchDone: func(id string) (bool, error) {
			ctx := context.Background()
			if err := journal.RefreshBatch(ctx, j, id); err != nil {
				return false, err
			}
			b, err := j.Batch(ctx, id)
			return err == nil && b.State == journal.BatchDone, err
		},
	}
	jobs, err := d.schedule(loc)
	if err != nil {
		return nil, err
	}
	sopts := SchedulerOptions{LastRun: app.LastRuns{J: j}, Log: log, Observe: metrics.ObserveJob}
	if d.Sched, err = NewScheduler(jobs, sopts); err != nil {
		return nil, err
	}
	var cluster ClusterSource
	if c, ok := j.(journal.Cluster); ok {
		d.member = newMember(d, c, cfg.Cluster.Lease, jobs, sopts)
		cluster = ClusterView{C: c, Leading: d.member.Leading}
		reg.MustRegister(clusterCollector{src: cluster})
	}
	d.Recv = a.Receiver(metrics.ObserveWebhook)
	handler := NewServer(ServerOptions{Webhooks: d.Recv, Ready: []Check{status.Check(), d.schedulerCheck()},
		Gatherer: reg, Status: status, Cluster: cluster, Location: loc, Log: log})
	d.HTTP = &HTTPServer{Addr: cfg.Serve.Listen, Handler: handler, Log: log}
	return d, nil
}

// Start starts the receiver's applier (what a crash left queued is
// applied first), the HTTP server, the start-up pass, the folder intake
// and the scheduler. On an error, what was started is stopped.
func (d *Daemon) Start(ctx context.Context) error {
	d.root, d.cancel = context.WithCancel(ctx)
	started := []interface{ Stop() }{}
	fail := func(err error) error {
		for i := len(started) - 1; i >= 0; i-- {
			started[i].Stop()
		}
		d.cancel()
		return err
	}
	if err := d.Recv.Start(d.root); err != nil {
		return fail(err)
	}
	started = append(started, d.Recv)
	if err := d.HTTP.Start(d.root); err != nil {
		return fail(err)
	}
	started = append(started, d.HTTP)
	d.jobs.Go(func() {
		err := d.resume(d.root)
		if err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("start-up pass", "err", err)
		}
		d.resumed.Signal(err)
	})
	for _, s := range d.leaderServices() {
		if err := s.Start(d.root); err != nil {
			return fail(err)
		}
		started = append(started, s)
	}
	inf, _ := d.App.Journal.Info(ctx)
	d.log.Info("payrun serving", "listen", d.HTTP.BoundAddr().String(), "journal", inf.Location, "inbox", d.Intake.Inbox,
		"timezone", d.cfg.TimeZone)
	return nil
}

// Addr is the address the HTTP server listens on.
func (d *Daemon) Addr() net.Addr { return d.HTTP.BoundAddr() }

// Stop takes no new files or schedules, lets the dispatch passes and the
// requests in flight finish (their answers are journaled), stops the HTTP
// server, then applies what the receiver acknowledged (for at most five
// seconds; the rest stays queued in the journal) and stops it.
func (d *Daemon) Stop() {
	d.log.Info("stopping: no new files or schedules; requests in flight finish")
	leader := d.leaderServices()
	for i := len(leader) - 1; i >= 0; i-- {
		leader[i].Stop()
	}
	d.cancel()
	d.jobs.Wait()
	d.HTTP.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Recv.Drain(ctx); err != nil {
		d.log.Warn("webhook events left queued in the journal; the next run applies them", "err", err)
	}
	d.Recv.Stop()
	d.log.Info("stopped")
}

// resume is the start-up pass: every payout a stop or a crash left
// between a request and its answer is looked at now, not at the next poll.
// Batches that were being sent go on being sent (in doubt first: the
// dispatcher asks the provider before anything is sent again); then every
// payout waiting for a result or a confirmation is asked about at once,
// within the providers' rate limits.
func (d *Daemon) resume(ctx context.Context) error {
	bs, err := d.App.Journal.ListBatches(ctx)
	if err != nil {
		return err
	}
	var sending []string
	for _, b := range bs {
		if b.State == journal.BatchDispatching || b.State == journal.BatchWaiting {
			sending = append(sending, b.ID)
		}
	}
	if len(sending) > 0 {
		if err := d.dispatch(ctx, sending); err != nil {
			return err
		}
	}
	if d.member != nil && d.member.othersLive(ctx) {
		// The other nodes kept watching while this one was down: what it
		// held is taken over and asked about; nothing else waits on it.
		return nil
	}
	st, err := d.Poller.Sweep(ctx)
	if st.Due > 0 {
		d.log.Info("start-up: asked the providers about what a stop left open", "asked", st.Due, "changed", st.Changed, "final", st.Final)
	}
	return err
}

// schedule is the daemon's jobs: the dispatch cut-off, polling and the
// morning report.
func (d *Daemon) schedule(loc *time.Location) ([]Job, error) {
	var out []Job
	for _, s := range []struct {
		name, spec string
		run        func(context.Context) error
	}{
		{"dispatch", d.cfg.Serve.Cutoff, func(ctx context.Context) error { return d.dispatch(ctx, nil) }},
		{"poll", d.cfg.Serve.Poll, d.poll},
		{"report", d.cfg.Serve.Report, d.report},
	} {
		if s.spec == "" {
			continue
		}
		sch, err := ParseCron(s.spec, loc)
		if err != nil {
			return nil, &config.Error{Path: d.cfg.Path, Problems: []string{fmt.Sprintf("serve.%s %q: %v", s.name, s.spec, err)}}
		}
		out = append(out, Job{Name: s.name, Schedule: sch, Run: s.run, CatchUp: d.cfg.Serve.CatchUp})
	}
	return out, nil
}

// handleFile is the intake's hook: ingest, pre-flight, and dispatch at once
// when the config says so (otherwise at the cut-off).
func (d *Daemon) handleFile(ctx context.Context, path string) (Outcome, error) {
	a := d.App
	o := app.IngestOptions(d.cfg, app.EnabledProviders(d.cfg))
	o.Name = filepath.Base(path)
	res, err := a.Journal.Ingest(ctx, path, o)
	if errors.Is(err, batch.ErrInput) {
		return Outcome{Result: Rejected, Reason: err.Error(), Report: []byte(err.Error() + "\n")}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	switch {
	case res.Rejected:
		var buf bytes.Buffer
		reports.WriteRowErrors(&buf, res.Report)
		d.notifyRejected(ctx, filepath.Base(path), buf.String())
		return Outcome{Result: Rejected, Report: buf.Bytes(),
			Reason: fmt.Sprintf("%d error(s) in %d row(s); nothing was recorded", len(res.Report.Errors), res.Report.Rows-res.Report.ValidRows)}, nil
	case res.Recognised && !Resumed(ctx):
		return Outcome{Result: Duplicate, BatchID: res.Batch.ID,
			Reason: fmt.Sprintf("the same content was received on %s as batch %s (%s); nothing is sent again",
				res.Batch.Created.In(d.cfg.Location()).Format("2006-01-02 15:04"), res.Batch.ID, res.Batch.File)}, nil
	}
	gate, err := a.Gate(ctx, res.Batch.ID)
	if err != nil {
		return Outcome{}, err
	}
	if gate.Held {
		d.log.Warn("batch held for approval", "batch", res.Batch.ID, "file", res.Batch.File, "why", gate.Reason, "release", gate.Approve)
	} else {
		d.log.Info("batch accepted", "batch", res.Batch.ID, "file", res.Batch.File, "valid", res.Batch.Valid,
			"invalid", res.Batch.Invalid, "duplicates", res.Batch.Duplicates)
	}
	if d.cfg.Serve.DispatchAtOnce && !gate.Held {
		d.jobs.Go(func() {
			if err := d.dispatch(d.root, nil); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("dispatch", "err", err)
			}
		})
	}
	return Outcome{Result: Accepted, BatchID: res.Batch.ID}, nil
}

// dispatch sends the batches (every unfinished one that is not held when
// ids is nil).
func (d *Daemon) dispatch(ctx context.Context, ids []string) error {
	d.dispatchMu.Lock()
	defer d.dispatchMu.Unlock()
	sum, err := d.App.Dispatcher.Run(ctx, ids, nil)
	if sum.Held > 0 {
		d.log.Warn("payouts held by caps", "held", sum.Held, "why", sum.HeldWhy)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// poll asks the providers about open payouts once.
func (d *Daemon) poll(ctx context.Context) error {
	st, err := d.Poller.RunOnce(ctx)
	if err == nil && st.Changed > 0 {
		d.log.Info("poll", "due", st.Due, "changed", st.Changed, "final", st.Final)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// report writes and emails the morning report of yesterday's batches (with
// every item still open, whatever its day).
func (d *Daemon) report(ctx context.Context) error {
	day := d.App.Journal.Now().In(d.cfg.Location()).AddDate(0, 0, -1).Format("2006-01-02")
	return d.ReportDay(ctx, day)
}

// ReportDay writes and emails the report of a day's batches.
func (d *Daemon) ReportDay(ctx context.Context, day string) error {
	// What was acknowledged counts; an event that cannot be applied yet
	// (the log says why, and the Applier retries it) must not cost the
	// accountants their report: the log says what it leaves out.
	if err := d.Recv.Drain(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		d.log.Warn("morning report written without the webhook events not applied yet", "err", err)
	}
	var notes bytes.Buffer
	files, err := app.Report(ctx, d.cfg, d.App.Journal, reconcile.Scope{Date: day, Open: true}, d.cfg.Abs(d.cfg.Dirs.Reports), true, &notes)
	if err != nil {
		return err
	}
	d.log.Info("morning report written", "day", day, "workbook", files.Workbook, "email", files.EML, "balanced", files.Balanced,
		"needs_review", files.ReviewCount)
	// Deliver anything an earlier outage left in the queue.
	if m, err := d.App.Mailer(); err == nil {
		if _, err := m.Flush(ctx); err != nil {
			d.log.Warn("mail queue not flushed; retried at the next report", "err", err)
		}
	}
	return nil
}

// notifyRejected tells the operators that a file was refused, row by row.
func (d *Daemon) notifyRejected(ctx context.Context, name, report string) {
	m, err := d.App.Mailer()
	if err != nil {
		d.log.Error("mailer", "err", err)
		return
	}
	msg, err := reports.ComposeRejected(name, report, d.App.Journal.Now(), app.Envelope(d.cfg, d.cfg.Reports.Operators))
	if err != nil {
		d.log.Error("rejected-file message", "err", err)
		return
	}
	if err := m.Submit(ctx, msg); err != nil {
		d.log.Warn("rejected-file message queued, not delivered yet", "err", err)
	}
}

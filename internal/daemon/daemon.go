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
	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/service"
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
	// Collect serves beneficiaries' card collection pages and emails
	// waiting links (internal/collect).
	Collect *app.Collect

	// Control is the control socket commands reach the daemon by (nil
	// when the journal is PostgreSQL's, or its path is too long for a
	// socket).
	Control *ControlServer

	cfg *config.Config
	log *slog.Logger
	// member is the daemon's part in a cluster (leader.go); nil on a
	// journal this process holds alone.
	member *member
	// cluster is what the status page, /api/cluster and the control
	// socket show of the cluster; nil without one.
	cluster ClusterSource
	// status is what the HTTP server shows (links masked); controlStatus
	// what the control socket answers (links whole).
	status, controlStatus JournalStatus
	// warnings aggregates repeated warnings, when the log does.
	warnings *WarnAggregator
	// house runs the periodic chores: approval files, warning counts.
	house service.Loop
	// dispatchMu runs one dispatch pass at a time.
	dispatchMu sync.Mutex
	// jobs are the dispatch passes, reports and the start-up pass running
	// on their own goroutines (a file dispatched at once, a command);
	// jobsMu and stopping keep Stop's Wait from racing a new one.
	jobsMu   sync.Mutex
	stopping bool
	jobs     sync.WaitGroup
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
	metrics.Providers(app.EnabledProviders(cfg)...)
	coll, err := a.Collect()
	if err != nil {
		return nil, err
	}
	d := &Daemon{App: a, Metrics: metrics, cfg: cfg, log: log, Poller: a.Poller(false), Collect: coll}
	d.warnings, _ = log.Handler().(*WarnAggregator)
	d.status = JournalStatus{J: j, NextCutoff: d.nextCutoff, AtOnce: cfg.Serve.DispatchAtOnce, Release: a.HowToApprove, Link: coll.Link}
	d.controlStatus = d.status
	d.controlStatus.FullURLs = true
	status := d.status
	if err := metrics.RegisterStatus(status); err != nil {
		return nil, err
	}
	a.Dispatcher.Observe(metrics.ObserveRequest)
	// The intake makes its own folders. The approvals folder is made here
	// with these, as config check says start-up does, so that a held
	// batch's "or drop approvals/BATCH.approved" names a folder that is.
	made := []string{cfg.Dirs.Reports, cfg.Dirs.Outbox}
	if cfg.Preflight.ApprovalDir != "" {
		made = append(made, cfg.Preflight.ApprovalDir)
	}
	for _, dir := range made {
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
	for _, job := range jobs {
		metrics.Jobs(job.Name)
	}
	if c, ok := j.(journal.Cluster); ok {
		d.member = newMember(d, c, cfg.Cluster.Lease, jobs, sopts)
		d.cluster = ClusterView{C: c, Leading: d.member.Leading}
		reg.MustRegister(clusterCollector{src: d.cluster})
	}
	d.Recv = a.Receiver(metrics.ObserveWebhook)
	command := "payrun"
	if cfg.Path != "" {
		command += " --config " + cfg.Path
	}
	handler := NewServer(ServerOptions{Webhooks: d.Recv, Ready: []Check{status.Check(), d.schedulerCheck()},
		Gatherer: reg, Status: status, Cluster: d.cluster, Location: loc, Log: log, Command: command})
	d.HTTP = &HTTPServer{Addr: cfg.Serve.Listen, Handler: d.Collect.Mount(handler), Log: log}
	if path := SocketPath(cfg); path != "" {
		d.Control = &ControlServer{Path: path, Handler: d.ControlHandler(), Log: log}
	} else if f := app.JournalFile(cfg); f != "" {
		log.Warn("no control socket: the journal's path is too long for one; commands cannot reach this daemon",
			"journal", f)
	}
	return d, nil
}

// nextCutoff is the next dispatch cut-off (zero when none is scheduled).
func (d *Daemon) nextCutoff() time.Time {
	if d.Sched == nil {
		return time.Time{}
	}
	return d.Sched.NextRun("dispatch")
}

// errStopping refuses work asked of a daemon that is stopping.
var errStopping = errors.New("the daemon is stopping; nothing new is started")

// goJob runs fn on its own goroutine, unless the daemon is stopping: Stop
// waits for every job it started.
func (d *Daemon) goJob(fn func()) error {
	d.jobsMu.Lock()
	defer d.jobsMu.Unlock()
	if d.stopping {
		return errStopping
	}
	d.jobs.Go(fn)
	return nil
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
	if err := d.Collect.Start(d.root); err != nil {
		return fail(err)
	}
	started = append(started, d.Collect)
	if d.Control != nil {
		if err := d.Control.Start(d.root); err != nil {
			return fail(err)
		}
		started = append(started, d.Control)
	}
	d.jobsMu.Lock()
	d.stopping = false
	d.jobsMu.Unlock()
	if err := d.goJob(func() {
		err := d.resume(d.root, "start-up")
		if err != nil && !errors.Is(err, context.Canceled) {
			d.log.Error("start-up pass", "err", err)
		}
		d.resumed.Signal(err)
	}); err != nil {
		return fail(err)
	}
	for _, s := range d.leaderServices() {
		if err := s.Start(d.root); err != nil {
			return fail(err)
		}
		started = append(started, s)
	}
	if err := d.house.Run(d.root, d.housekeeping); err != nil {
		return fail(err)
	}
	inf, _ := d.App.Journal.Info(ctx)
	control := ""
	if d.Control != nil {
		control = d.Control.Path
	}
	d.log.Info("payrun serving", "listen", d.HTTP.BoundAddr().String(), "journal", inf.Location, "control", control,
		"inbox", d.Intake.Inbox, "timezone", d.cfg.TimeZone, "next_cutoff", d.when(d.nextCutoff()))
	return nil
}

// when is a time as the log shows it, in the configured zone.
func (d *Daemon) when(t time.Time) string {
	if t.IsZero() {
		return "none scheduled"
	}
	return t.In(d.cfg.Location()).Format("2006-01-02 15:04 MST")
}

// housekeeping releases held batches whose approval file has come and
// writes the counts of repeated warnings, every scan interval.
func (d *Daemon) housekeeping(ctx context.Context) {
	every := d.cfg.Serve.ScanInterval
	if every <= 0 {
		every = 30 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		d.ApprovalFiles(ctx)
		if d.warnings != nil {
			d.warnings.Flush(false)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ApprovalFiles releases every held batch whose approval file is in the
// approvals folder (one pass; the housekeeping loop runs it every scan
// interval, the first time at start-up).
func (d *Daemon) ApprovalFiles(ctx context.Context) {
	res, err := d.App.ApproveByFiles(ctx)
	if err != nil && ctx.Err() == nil {
		d.log.Error("approvals folder", "err", err)
	}
	for _, r := range res {
		if r.Err != nil {
			d.log.WarnContext(event, "approval file refused", "batch", r.Batch, "by", r.By, "file", r.File, "why", r.Err.Error(),
				"kept_as", r.File+refusedSuffix)
			continue
		}
		if r.Approved {
			d.approved(r.Batch, r.By, "approvals file")
		}
	}
}

// refusedSuffix is what app.ApproveByFiles appends to a refused file.
const refusedSuffix = ".refused"

// approve releases a held batch and says what happens next.
func (d *Daemon) approve(ctx context.Context, id, by, via string, seen *dispatch.Seen) (string, error) {
	if err := d.App.Approve(ctx, id, by, via, seen); err != nil {
		return "", err
	}
	return d.approved(id, by, via), nil
}

// approved logs an approval and sends the batch at once when the
// configuration says files go at once; it returns what happens next.
func (d *Daemon) approved(id, by, via string) string {
	b, _ := d.App.Journal.Batch(context.Background(), id)
	next := "it is sent at the next cut-off (" + d.when(d.nextCutoff()) + "); 'payrun send " + id + "' sends it now"
	if d.cfg.Serve.DispatchAtOnce {
		next = "it is being sent now"
		if err := d.goJob(func() { d.logDispatch(d.dispatch(d.root, []string{id}, "approved by "+by)) }); err != nil {
			next = "the daemon is stopping; it is sent at the next start"
		}
	}
	d.log.Info("batch approved", "batch", id, "by", by, "via", via, "totals", totalsText(b.Totals), "next", next)
	return fmt.Sprintf("Batch %s approved by %s (%s); %s.", id, by, totalsText(b.Totals), next)
}

// Addr is the address the HTTP server listens on.
func (d *Daemon) Addr() net.Addr { return d.HTTP.BoundAddr() }

// Stop takes no new files or schedules, lets the dispatch passes and the
// requests in flight finish (their answers are journaled), stops the HTTP
// server, then applies what the receiver acknowledged (for at most five
// seconds; the rest stays queued in the journal) and stops it.
func (d *Daemon) Stop() {
	d.log.Info("stopping: no new files, schedules or commands; requests in flight finish")
	d.jobsMu.Lock()
	d.stopping = true
	d.jobsMu.Unlock()
	if d.Control != nil {
		d.Control.Stop()
	}
	d.house.Halt()
	leader := d.leaderServices()
	for i := len(leader) - 1; i >= 0; i-- {
		leader[i].Stop()
	}
	d.cancel()
	d.jobs.Wait()
	d.Collect.Stop()
	d.HTTP.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Recv.Drain(ctx); err != nil {
		d.log.Warn("webhook events left queued in the journal; the next run applies them", "err", err)
	}
	d.Recv.Stop()
	d.log.Info("stopped")
	if d.warnings != nil {
		d.warnings.Flush(true)
	}
}

// resume is the start-up pass: every payout a stop or a crash left
// between a request and its answer is looked at now, not at the next poll.
// Batches that were being sent go on being sent (in doubt first: the
// dispatcher asks the provider before anything is sent again); then every
// payout waiting for a result or a confirmation is asked about at once,
// within the providers' rate limits.
func (d *Daemon) resume(ctx context.Context, trigger string) error {
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
	if trigger != "start-up" {
		sending = nil // every unfinished batch that is not held
	}
	if len(sending) > 0 || trigger != "start-up" {
		if err := d.dispatch(ctx, sending, trigger); err != nil {
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
		{"dispatch", d.cfg.Serve.Cutoff, func(ctx context.Context) error { return d.dispatch(ctx, nil, "cut-off") }},
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
	// The file's owner dropped it (kept once: a resumed file does not
	// change it).
	if fi, err := os.Stat(path); err == nil {
		if err := app.RecordDropper(ctx, a.Journal, res.Batch.ID, app.FileOwner(fi)); err != nil {
			return Outcome{}, err
		}
	}
	gate, err := a.Gate(ctx, res.Batch.ID)
	if err != nil {
		return Outcome{}, err
	}
	b := res.Batch
	if nb, err := a.Journal.Batch(ctx, b.ID); err == nil {
		b = nb
	}
	payouts := 0
	for _, t := range b.Totals {
		payouts += t.Count
	}
	if gate.Held {
		d.log.WarnContext(event, "file held for approval: nothing of it is sent until it is approved", "file", b.File, "batch", b.ID,
			"payouts", payouts, "totals", totalsText(b.Totals), "why", gate.Reason, "dropped_by", b.DroppedBy,
			"release", d.App.HowToApprove(b.ID))
		return Outcome{Result: Accepted, BatchID: b.ID}, nil
	}
	send := "at the next cut-off, " + d.when(d.nextCutoff()) + " ('payrun send " + b.ID + "' sends it now)"
	if d.cfg.Serve.DispatchAtOnce {
		send = "now"
	} else if b.State != journal.BatchAccepted {
		send = "resuming where it stopped"
	}
	d.log.Info("file accepted", "file", b.File, "batch", b.ID, "payouts", payouts, "totals", totalsText(b.Totals),
		"invalid", b.Invalid, "duplicates", b.Duplicates, "dropped_by", b.DroppedBy, "send", send)
	if d.cfg.Serve.DispatchAtOnce {
		if err := d.goJob(func() { d.logDispatch(d.dispatch(d.root, []string{b.ID}, "file taken")) }); err != nil {
			d.log.WarnContext(event, "file accepted while the daemon stops; it is sent at the next start", "batch", b.ID)
		}
	}
	return Outcome{Result: Accepted, BatchID: b.ID}, nil
}

// logDispatch logs a dispatch pass's failure (a stop is not one).
func (d *Daemon) logDispatch(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		d.log.Error("dispatch", "err", err)
	}
}

// dispatch sends the batches (every unfinished one that is not held when
// ids is nil), saying in the log when the run starts (what it sends, the
// totals per currency) and when it ends (what became of the payouts).
// trigger says why it runs (the cut-off, a command, a file).
func (d *Daemon) dispatch(ctx context.Context, ids []string, trigger string) error {
	d.dispatchMu.Lock()
	defer d.dispatchMu.Unlock()
	plan, err := d.planRun(ctx, ids)
	if err != nil {
		return err
	}
	if plan.pending == 0 {
		// Nothing accepted, queued or in doubt: a run would send nothing.
		d.log.Info("dispatch: nothing to send", "trigger", trigger, "batches", plan.ids)
		return nil
	}
	d.log.Info("dispatch run started", "trigger", trigger, "batches", plan.sending, "payouts", plan.pending,
		"totals", plan.totals())
	start := time.Now()
	sum, err := d.App.Dispatcher.Run(ctx, plan.ids, nil)
	took := time.Since(start).Round(time.Millisecond).String()
	end := d.runEnd(context.WithoutCancel(ctx), plan.ids)
	if sum.Held > 0 {
		d.log.WarnContext(event, "payouts held by caps", "held", sum.Held, "why", sum.HeldWhy)
	}
	attrs := []any{"trigger", trigger, "batches", plan.sending, "sent", end.sent, "failed", end.failed, "in_doubt", end.inDoubt,
		"held", end.held, "left", end.left, "paid", end.paidText(), "took", took}
	if errors.Is(err, context.Canceled) {
		d.log.WarnContext(event, "dispatch run stopped by the daemon's stop; the next start resumes it", attrs...)
		return nil
	}
	if err != nil {
		d.log.ErrorContext(event, "dispatch run failed", append(attrs, "err", err)...)
		return err
	}
	d.log.Info("dispatch run ended", attrs...)
	return nil
}

// poll asks the providers about open payouts once, then again about
// payouts paid at a provider that refunds without a notification (on its
// own slow schedule: Poller.Recheck).
func (d *Daemon) poll(ctx context.Context) error {
	st, err := d.Poller.RunOnce(ctx)
	if err == nil && st.Changed > 0 {
		d.log.Info("poll", "due", st.Due, "changed", st.Changed, "final", st.Final)
	}
	if err == nil {
		var rc reconcile.PollStats
		rc, err = d.Poller.Recheck(ctx)
		if rc.Rechecked > 0 || rc.Errors > 0 {
			d.log.Info("re-check of paid payouts", "asked", rc.Rechecked, "reversed", rc.Reversed, "errors", rc.Errors)
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// report writes and emails the morning report of yesterday's batches (with
// every item still open, whatever its day).
func (d *Daemon) report(ctx context.Context) error {
	_, err := d.ReportDay(ctx, d.yesterday())
	return err
}

// yesterday is the day the morning report covers.
func (d *Daemon) yesterday() string {
	return d.App.Journal.Now().In(d.cfg.Location()).AddDate(0, 0, -1).Format("2006-01-02")
}

// ReportDay writes and emails the report of a day's batches.
func (d *Daemon) ReportDay(ctx context.Context, day string) (ReportFiles, error) {
	// What was acknowledged counts; an event that cannot be applied yet
	// (the log says why, and the Applier retries it) must not cost the
	// accountants their report: the log says what it leaves out.
	if err := d.Recv.Drain(ctx); err != nil {
		if ctx.Err() != nil {
			return ReportFiles{}, err
		}
		d.log.Warn("morning report written without the webhook events not applied yet", "err", err)
	}
	var notes bytes.Buffer
	files, err := app.Report(ctx, d.cfg, d.App.Journal, reconcile.Scope{Date: day, Open: true}, d.cfg.Abs(d.cfg.Dirs.Reports), true, &notes)
	if err != nil {
		return ReportFiles{}, err
	}
	d.log.Info("morning report written", "day", day, "workbook", files.Workbook, "email", files.EML, "balanced", files.Balanced,
		"needs_review", files.ReviewCount)
	// Deliver anything an earlier outage left in the queue.
	if m, err := d.App.Mailer(); err == nil {
		if _, err := m.Flush(ctx); err != nil {
			d.log.Warn("mail queue not flushed; retried at the next report", "err", err)
		}
	}
	return ReportFiles{Day: day, Workbook: files.Workbook, SummaryCSV: files.SummaryCSV, DetailsCSV: files.DetailsCSV,
		Annotated: files.Annotated, EML: files.EML, Balanced: files.Balanced, ReviewCount: files.ReviewCount}, nil
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

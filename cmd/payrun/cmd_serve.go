package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func cmdServe() command {
	c := command{Name: "serve", Summary: "run the daemon: folder intake, cron schedules, webhooks, metrics and the status page",
		Usage: "serve [--config FILE]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		cfg, j, err := openConfigured(e)
		if err != nil {
			return err
		}
		log := newLogger(cfg, e.stderr)
		defer j.Close()
		return serveDaemon(ctx, e, cfg, j, log)
	}
	return c
}

// journalLastRun keeps the schedules' last runs in the journal, so that a
// run missed while the daemon was down is caught up at start-up.
type journalLastRun struct{ j journal.Journal }

func (l journalLastRun) Get(name string) time.Time {
	v, ok, err := l.j.Mark(context.Background(), "lastrun:"+name)
	if err != nil || !ok {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

func (l journalLastRun) Set(name string, t time.Time) error {
	return l.j.SetMark(context.Background(), "lastrun:"+name, t.UTC().Format(time.RFC3339Nano))
}

// daemonState is what the daemon's services share.
type daemonState struct {
	rt      *app
	cfg     *config.Config
	log     *slog.Logger
	metrics *daemon.Metrics
	poller  *reconcile.Poller
	// recv is the webhook receiver; reports wait for what it acknowledged
	// to be applied. It is set before the scheduler starts.
	recv *reconcile.Receiver

	dispatchMu sync.Mutex // one dispatch pass at a time
	wg         sync.WaitGroup
	// root is the daemon's context: work started from a file's hook
	// outlives the hook's own context.
	root context.Context
}

// serveDaemon runs every service until ctx is done (SIGINT/SIGTERM), then
// stops taking work, lets requests in flight finish and returns nil.
func serveDaemon(ctx context.Context, e *env, cfg *config.Config, j journal.Journal, log *slog.Logger) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := daemon.NewMetrics(reg)
	status := daemon.JournalStatus{J: j}
	if err := metrics.RegisterStatus(status); err != nil {
		return err
	}
	rt, err := newApp(cfg, j, log)
	if err != nil {
		return err
	}
	rt.disp.Observe(metrics.ObserveRequest)
	d := &daemonState{rt: rt, cfg: cfg, log: log, metrics: metrics, poller: rt.newPoller(false), root: ctx}
	for _, dir := range []string{cfg.Dirs.Inbox, cfg.Dirs.Processing, cfg.Dirs.Archive, cfg.Dirs.Rejected, cfg.Dirs.Reports, cfg.Dirs.Outbox} {
		if err := os.MkdirAll(cfg.Abs(dir), 0o750); err != nil {
			return err
		}
	}
	loc := cfg.Location()
	intake := &daemon.Intake{
		Inbox: cfg.Abs(cfg.Dirs.Inbox), Processing: cfg.Abs(cfg.Dirs.Processing),
		Archive: cfg.Abs(cfg.Dirs.Archive), Rejected: cfg.Abs(cfg.Dirs.Rejected),
		StableFor: cfg.Serve.StableFor, ReadyMarker: cfg.Serve.ReadyMarker, ScanInterval: cfg.Serve.ScanInterval,
		Location: loc, Log: log, Handle: d.handleFile, Observe: metrics.IntakeFile,
		BatchDone: func(id string) (bool, error) {
			if err := journal.RefreshBatch(ctx, j, id); err != nil {
				return false, err
			}
			b, err := j.Batch(ctx, id)
			return err == nil && b.State == journal.BatchDone, err
		},
	}
	jobs, err := d.jobs(loc)
	if err != nil {
		return err
	}
	sched, err := daemon.NewScheduler(jobs, daemon.SchedulerOptions{LastRun: journalLastRun{j}, Log: log, Observe: metrics.ObserveJob})
	if err != nil {
		return err
	}
	recv := reconcile.NewReceiver(j, rt.provs, reconcile.ReceiverOptions{MaxBody: cfg.Reconcile.MaxWebhookBytes, Log: log,
		Observe: metrics.ObserveWebhook})
	d.recv = recv
	defer recv.Close()
	handler := daemon.NewServer(daemon.ServerOptions{Webhooks: recv, Ready: []daemon.Check{status.Check(), sched.Check()},
		Gatherer: reg, Status: status, Location: loc, Log: log})
	ln, err := net.Listen("tcp", cfg.Serve.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Serve.Listen, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	inf, _ := j.Info(ctx)
	log.Info("payrun serving", "listen", ln.Addr().String(), "journal", inf.Location, "inbox", intake.Inbox, "timezone", cfg.TimeZone)
	fmt.Fprintf(e.stdout, "payrun serving on http://%s (status page /, metrics /metrics); inbox %s\n", ln.Addr(), intake.Inbox)

	if err := sched.Start(ctx); err != nil {
		return err
	}
	intakeDone := make(chan error, 1)
	go func() { intakeDone <- intake.Run(ctx) }()

	<-ctx.Done()
	log.Info("stopping: no new files or schedules; requests in flight finish")
	sched.Stop()
	ierr := <-intakeDone
	d.wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	stopReceiver(sctx, recv, log)
	if err := <-srvDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if ierr != nil && !errors.Is(ierr, context.Canceled) {
		return ierr
	}
	log.Info("stopped")
	return nil
}

// jobs are the daemon's schedules: the dispatch cut-off, polling and the
// morning report.
func (d *daemonState) jobs(loc *time.Location) ([]daemon.Job, error) {
	var out []daemon.Job
	for _, s := range []struct {
		name, spec string
		run        func(context.Context) error
	}{
		{"dispatch", d.cfg.Serve.Cutoff, d.dispatch},
		{"poll", d.cfg.Serve.Poll, d.poll},
		{"report", d.cfg.Serve.Report, d.report},
	} {
		if s.spec == "" {
			continue
		}
		sch, err := daemon.ParseCron(s.spec, loc)
		if err != nil {
			return nil, &config.Error{Path: d.cfg.Path, Problems: []string{fmt.Sprintf("serve.%s %q: %v", s.name, s.spec, err)}}
		}
		out = append(out, daemon.Job{Name: s.name, Schedule: sch, Run: s.run, CatchUp: d.cfg.Serve.CatchUp})
	}
	return out, nil
}

// handleFile is the intake's hook: ingest, pre-flight, and dispatch at once
// when the config says so (otherwise at the cut-off).
func (d *daemonState) handleFile(ctx context.Context, path string) (daemon.Outcome, error) {
	rt := d.rt
	o := ingestOptions(d.cfg, enabledProviders(d.cfg))
	o.Name = filepath.Base(path)
	res, err := rt.j.Ingest(ctx, path, o)
	if errors.Is(err, batch.ErrInput) {
		return daemon.Outcome{Result: daemon.Rejected, Reason: err.Error(), Report: []byte(err.Error() + "\n")}, nil
	}
	if err != nil {
		return daemon.Outcome{}, err
	}
	switch {
	case res.Rejected:
		var buf bytes.Buffer
		printRowErrors(&buf, res.Report)
		d.notifyRejected(ctx, filepath.Base(path), buf.String())
		return daemon.Outcome{Result: daemon.Rejected, Report: buf.Bytes(),
			Reason: fmt.Sprintf("%d error(s) in %d row(s); nothing was recorded", len(res.Report.Errors), res.Report.Rows-res.Report.ValidRows)}, nil
	case res.Recognised && !daemon.Resumed(ctx):
		return daemon.Outcome{Result: daemon.Duplicate, BatchID: res.Batch.ID,
			Reason: fmt.Sprintf("the same content was received on %s as batch %s (%s); nothing is sent again",
				res.Batch.Created.In(d.cfg.Location()).Format("2006-01-02 15:04"), res.Batch.ID, res.Batch.File)}, nil
	}
	var buf bytes.Buffer
	if _, err := rt.preflight(ctx, res.Batch.ID, &buf); err != nil {
		return daemon.Outcome{}, err
	}
	d.log.Info("batch accepted", "batch", res.Batch.ID, "file", res.Batch.File, "valid", res.Batch.Valid,
		"invalid", res.Batch.Invalid, "duplicates", res.Batch.Duplicates)
	if d.cfg.Serve.DispatchAtOnce {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.dispatch(d.root); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("dispatch", "err", err)
			}
		}()
	}
	return daemon.Outcome{Result: daemon.Accepted, BatchID: res.Batch.ID}, nil
}

// dispatch sends every unfinished batch that is not held.
func (d *daemonState) dispatch(ctx context.Context) error {
	d.dispatchMu.Lock()
	defer d.dispatchMu.Unlock()
	sum, err := d.rt.disp.Run(ctx, nil, nil)
	if sum.Held > 0 {
		d.log.Warn("payouts held by caps", "held", sum.Held, "why", sum.HeldWhy)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// poll asks the providers about open payouts once.
func (d *daemonState) poll(ctx context.Context) error {
	st, err := d.poller.RunOnce(ctx)
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
func (d *daemonState) report(ctx context.Context) error {
	day := d.rt.j.Now().In(d.cfg.Location()).AddDate(0, 0, -1).Format("2006-01-02")
	return d.reportDay(ctx, day)
}

func (d *daemonState) reportDay(ctx context.Context, day string) error {
	// What was acknowledged counts; an event that cannot be applied yet
	// (the log says why, and the Applier retries it) must not cost the
	// accountants their report: the log says what it leaves out.
	if err := d.recv.Drain(ctx); err != nil {
		if ctx.Err() != nil {
			return err
		}
		d.log.Warn("morning report written without the webhook events not applied yet", "err", err)
	}
	var buf bytes.Buffer
	files, err := writeReports(ctx, d.cfg, d.rt.j, reconcile.Scope{Date: day, Open: true}, d.cfg.Abs(d.cfg.Dirs.Reports), true, &buf)
	if err != nil {
		return err
	}
	d.log.Info("morning report written", "day", day, "workbook", files.Workbook, "email", files.EML, "balanced", files.Balanced)
	// Deliver anything an earlier outage left in the queue.
	if m, err := newMailer(d.cfg, d.rt.j); err == nil {
		if _, err := m.Flush(ctx); err != nil {
			d.log.Warn("mail queue not flushed; retried at the next report", "err", err)
		}
	}
	return nil
}

// notifyRejected tells the operators that a file was refused, row by row.
func (d *daemonState) notifyRejected(ctx context.Context, name, report string) {
	m, err := newMailer(d.cfg, d.rt.j)
	if err != nil {
		d.log.Error("mailer", "err", err)
		return
	}
	msg, err := reports.ComposeRejected(name, report, d.rt.j.Now(), envelope(d.cfg, d.cfg.Reports.Operators))
	if err != nil {
		d.log.Error("rejected-file message", "err", err)
		return
	}
	if err := m.Submit(ctx, msg); err != nil {
		d.log.Warn("rejected-file message queued, not delivered yet", "err", err)
	}
}

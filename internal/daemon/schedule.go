package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/config"
)

// Schedule says when a job runs next after a time. robfig/cron's schedules
// satisfy it, and tests can pass any function-like fake.
type Schedule interface {
	Next(time.Time) time.Time
}

// ParseCron parses a standard cron spec (five fields: minute hour
// day-of-month month day-of-week; or a descriptor such as @daily or
// @every 10s) in the zone loc (nil: UTC). A CRON_TZ= or TZ= prefix in the
// spec wins over loc. It is config.ParseCron, the one config check uses.
func ParseCron(spec string, loc *time.Location) (Schedule, error) {
	s, err := config.ParseCron(spec, loc)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w", spec, err)
	}
	return s, nil
}

// LastRun remembers when each job last ran, across restarts when backed by
// the journal.
type LastRun interface {
	Get(name string) time.Time
	Set(name string, t time.Time) error
}

// MemoryLastRun is a LastRun kept in memory (tests, and a daemon without
// catch-up). Its zero value is ready to use.
type MemoryLastRun struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// Get returns when name last ran (zero: never).
func (l *MemoryLastRun) Get(name string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[name]
}

// Set records that name ran at t.
func (l *MemoryLastRun) Set(name string, t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]time.Time{}
	}
	l.m[name] = t
	return nil
}

// Job is one scheduled service pass.
type Job struct {
	Name     string
	Schedule Schedule
	// Run is the job's one pass (its runOnce). The context is cancelled by
	// Stop.
	Run func(ctx context.Context) error
	// CatchUp runs the job once at start-up when a run was missed while the
	// daemon was down (the time after its last recorded run has passed).
	// A job that never ran is not caught up: it waits for its next time.
	CatchUp bool
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// LastRun records runs (nil: a MemoryLastRun).
	LastRun LastRun
	// Now is the clock of the loop started by Start (nil: time.Now).
	Now func() time.Time
	Log *slog.Logger
	// Observe, when set, is told about every run.
	Observe func(job string, d time.Duration, err error)
}

// Scheduler runs jobs at their times, one run at a time per job. RunDue is
// one pass; Start runs a loop that calls it at the right times.
type Scheduler struct {
	jobs []*jobState
	o    SchedulerOptions
	log  *slog.Logger

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wake    chan struct{}
	wg      sync.WaitGroup // the loop and every job run it started
}

type jobState struct {
	Job
	next    time.Time // zero until the first pass decides it
	running bool
}

// NewScheduler returns a scheduler of jobs. Job names must be unique.
func NewScheduler(jobs []Job, o SchedulerOptions) (*Scheduler, error) {
	if o.LastRun == nil {
		o.LastRun = &MemoryLastRun{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{o: o, log: log, wake: make(chan struct{}, 1)}
	names := map[string]bool{}
	for _, j := range jobs {
		switch {
		case j.Name == "":
			return nil, errors.New("scheduler: a job without a name")
		case names[j.Name]:
			return nil, fmt.Errorf("scheduler: job %q twice", j.Name)
		case j.Schedule == nil || j.Run == nil:
			return nil, fmt.Errorf("scheduler: job %q needs a Schedule and a Run", j.Name)
		}
		names[j.Name] = true
		s.jobs = append(s.jobs, &jobState{Job: j})
	}
	return s, nil
}

// due marks and returns the jobs due at now, and sets their next times.
func (s *Scheduler) due(now time.Time) []*jobState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*jobState
	for _, js := range s.jobs {
		if js.running {
			continue
		}
		run := false
		if js.next.IsZero() {
			last := s.o.LastRun.Get(js.Name)
			run = js.CatchUp && !last.IsZero() && !js.Schedule.Next(last).After(now)
			if run {
				s.log.Info("scheduler: catching up a missed run", "job", js.Name, "last", last)
			}
		} else {
			run = !js.next.After(now)
		}
		// The next time moves only when the job runs (or is first seen):
		// recomputing it on every pass would let a frequent job's wake-ups
		// push a rarer job's time forward for ever.
		if run || js.next.IsZero() {
			js.next = js.Schedule.Next(now)
		}
		if run {
			js.running = true
			out = append(out, js)
		}
	}
	return out
}

// run runs one job pass and records it.
func (s *Scheduler) run(ctx context.Context, js *jobState, at time.Time) error {
	start := time.Now()
	err := js.Run(ctx)
	d := time.Since(start)
	if s.o.Observe != nil {
		s.o.Observe(js.Name, d, err)
	}
	took := d.Round(time.Millisecond).String()
	if err != nil {
		s.log.Error("scheduler: job failed", "job", js.Name, "err", err, "took", took)
	} else {
		s.log.Info("scheduler: job ran", "job", js.Name, "took", took)
	}
	if serr := s.o.LastRun.Set(js.Name, at); serr != nil {
		err = errors.Join(err, fmt.Errorf("record run of %s: %w", js.Name, serr))
	}
	s.mu.Lock()
	js.running = false
	s.mu.Unlock()
	return err
}

// RunDue runs, concurrently, every job due at now (and, on the first pass,
// every missed run of a CatchUp job), waits for them and returns their
// errors joined. A job still running from the loop is skipped.
func (s *Scheduler) RunDue(ctx context.Context, now time.Time) error {
	jobs := s.due(now)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, js := range jobs {
		wg.Go(func() {
			if err := s.run(ctx, js, now); err != nil {
				errs[i] = fmt.Errorf("job %s: %w", js.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Next returns the earliest next run time of the jobs that are not
// running (zero before the first pass).
func (s *Scheduler) Next() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, js := range s.jobs {
		if !js.running && !js.next.IsZero() && (next.IsZero() || js.next.Before(next)) {
			next = js.next
		}
	}
	return next
}

// NextRun is when the job name runs next (zero for a job that is not
// scheduled): its planned time, or, before the first pass has planned it,
// its schedule's next time from now.
func (s *Scheduler) NextRun(name string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, js := range s.jobs {
		if js.Name != name {
			continue
		}
		if js.next.IsZero() {
			return js.Schedule.Next(s.o.Now())
		}
		return js.next
	}
	return time.Time{}
}

// Start starts the loop: a first pass at once (catch-up), then each job at
// its times, each run in its own goroutine. Stop ends it.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("scheduler: already started")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.started, s.cancel = true, cancel
	s.wg.Go(func() { s.loop(ctx) })
	return nil
}

// Stop cancels running jobs and waits for them and the loop to end.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	s.mu.Lock()
	s.started, s.cancel = false, nil
	s.mu.Unlock()
}

// Running reports whether the loop runs (for /readyz).
func (s *Scheduler) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// Check is a readiness check that passes while the loop runs.
func (s *Scheduler) Check() Check {
	return Check{Name: "scheduler", Func: func(context.Context) error {
		if !s.Running() {
			return errors.New("scheduler is not running")
		}
		return nil
	}}
}

func (s *Scheduler) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := s.o.Now()
		for _, js := range s.due(now) {
			s.wg.Go(func() {
				_ = s.run(ctx, js, now)
				select {
				case s.wake <- struct{}{}:
				default:
				}
			})
		}
		wait := time.Hour
		if next := s.Next(); !next.IsZero() {
			wait = max(next.Sub(s.o.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
		}
	}
}

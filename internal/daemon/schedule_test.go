package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseCron(t *testing.T) {
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) // 07:00 in Lima
	tests := []struct {
		spec string
		loc  *time.Location
		want time.Time
	}{
		{"0 18 * * *", lima, time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)},
		{"0 7 * * *", lima, time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}, // 07:00 exactly has passed
		{"0 18 * * *", nil, time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)},
		{"*/5 * * * *", lima, time.Date(2026, 11, 21, 12, 5, 0, 0, time.UTC)},
		{"@every 10s", lima, at.Add(10 * time.Second)},
		{"@daily", lima, time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)},
		{"CRON_TZ=UTC 0 18 * * *", lima, time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		s, err := ParseCron(tt.spec, tt.loc)
		if err != nil {
			t.Fatalf("%q: %v", tt.spec, err)
		}
		if got := s.Next(at); !got.Equal(tt.want) {
			t.Errorf("%q in %v: Next = %v, want %v", tt.spec, tt.loc, got.UTC(), tt.want)
		}
	}
	for _, bad := range []string{"", "0 18 * *", "61 * * * *", "@sometimes", "* * * * * *"} {
		if _, err := ParseCron(bad, lima); err == nil {
			t.Errorf("ParseCron(%q) accepted", bad)
		}
	}
}

// counter is a job's Run that counts its runs.
type counter struct{ n atomic.Int32 }

func (c *counter) run(context.Context) error { c.n.Add(1); return nil }

func mustCron(t *testing.T, spec string) Schedule {
	t.Helper()
	s, err := ParseCron(spec, lima)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSchedulerRunDueRunsJobsAtTheirTimes(t *testing.T) {
	var cutoff, poll counter
	last := &MemoryLastRun{}
	s, err := NewScheduler([]Job{
		{Name: "cutoff", Schedule: mustCron(t, "0 18 * * *"), Run: cutoff.run, CatchUp: true},
		{Name: "poll", Schedule: mustCron(t, "*/5 * * * *"), Run: poll.run},
	}, SchedulerOptions{LastRun: last})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Date(2026, 11, 21, 17, 58, 0, 0, lima)
	// First pass: nothing has run before, nothing is caught up.
	if err := s.RunDue(ctx, start); err != nil {
		t.Fatal(err)
	}
	if cutoff.n.Load() != 0 || poll.n.Load() != 0 {
		t.Fatalf("ran at start: cutoff %d poll %d", cutoff.n.Load(), poll.n.Load())
	}
	if next := s.Next(); !next.Equal(time.Date(2026, 11, 21, 18, 0, 0, 0, lima)) {
		t.Fatalf("Next = %v", next)
	}
	_ = s.RunDue(ctx, start.Add(time.Minute)) // 17:59: nothing due
	if cutoff.n.Load() != 0 || poll.n.Load() != 0 {
		t.Fatal("ran before its time")
	}
	at := time.Date(2026, 11, 21, 18, 0, 30, 0, lima)
	if err := s.RunDue(ctx, at); err != nil {
		t.Fatal(err)
	}
	if cutoff.n.Load() != 1 || poll.n.Load() != 1 {
		t.Fatalf("at 18:00: cutoff %d poll %d", cutoff.n.Load(), poll.n.Load())
	}
	if got := last.Get("cutoff"); !got.Equal(at) {
		t.Fatalf("last run of cutoff %v", got)
	}
	_ = s.RunDue(ctx, at.Add(time.Minute))
	_ = s.RunDue(ctx, at.Add(5*time.Minute))
	if cutoff.n.Load() != 1 || poll.n.Load() != 2 {
		t.Fatalf("at 18:05: cutoff %d poll %d", cutoff.n.Load(), poll.n.Load())
	}
}

func TestSchedulerCatchesUpAMissedRunOnce(t *testing.T) {
	last := &MemoryLastRun{}
	twoDaysAgo := time.Date(2026, 11, 19, 18, 0, 0, 0, lima)
	for _, name := range []string{"cutoff", "report"} {
		if err := last.Set(name, twoDaysAgo); err != nil {
			t.Fatal(err)
		}
	}
	var cutoff, report counter
	s, err := NewScheduler([]Job{
		{Name: "cutoff", Schedule: mustCron(t, "0 18 * * *"), Run: cutoff.run, CatchUp: true},
		{Name: "report", Schedule: mustCron(t, "0 18 * * *"), Run: report.run}, // no catch-up
	}, SchedulerOptions{LastRun: last})
	if err != nil {
		t.Fatal(err)
	}
	// The daemon was down at 18:00 yesterday and today; it starts at 20:00:
	// one catch-up run, not one per missed time.
	now := time.Date(2026, 11, 21, 20, 0, 0, 0, lima)
	if err := s.RunDue(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	if cutoff.n.Load() != 1 || report.n.Load() != 0 {
		t.Fatalf("cutoff %d report %d", cutoff.n.Load(), report.n.Load())
	}
	if err := s.RunDue(context.Background(), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if cutoff.n.Load() != 1 {
		t.Fatalf("caught up twice: %d", cutoff.n.Load())
	}
	if got := last.Get("cutoff"); !got.Equal(now) {
		t.Fatalf("last run %v", got)
	}

	// Nothing missed: a restart before the next time runs nothing.
	var again counter
	s2, err := NewScheduler([]Job{{Name: "cutoff", Schedule: mustCron(t, "0 18 * * *"), Run: again.run, CatchUp: true}},
		SchedulerOptions{LastRun: last})
	if err != nil {
		t.Fatal(err)
	}
	_ = s2.RunDue(context.Background(), now.Add(2*time.Hour))
	if again.n.Load() != 0 {
		t.Fatal("caught up a run that was not missed")
	}
}

func TestSchedulerReportsJobErrors(t *testing.T) {
	last := &MemoryLastRun{}
	_ = last.Set("report", time.Date(2026, 11, 20, 7, 0, 0, 0, lima))
	s, err := NewScheduler([]Job{{Name: "report", Schedule: mustCron(t, "0 7 * * *"), CatchUp: true,
		Run: func(context.Context) error { return errors.New("smtp down") }}}, SchedulerOptions{LastRun: last})
	if err != nil {
		t.Fatal(err)
	}
	err = s.RunDue(context.Background(), time.Date(2026, 11, 21, 8, 0, 0, 0, lima))
	if err == nil || !strings.Contains(err.Error(), "report") || !strings.Contains(err.Error(), "smtp down") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewSchedulerRefusesBadJobs(t *testing.T) {
	run := func(context.Context) error { return nil }
	every := mustCron(t, "@every 1m")
	for name, jobs := range map[string][]Job{
		"no name":     {{Schedule: every, Run: run}},
		"twice":       {{Name: "a", Schedule: every, Run: run}, {Name: "a", Schedule: every, Run: run}},
		"no schedule": {{Name: "a", Run: run}},
		"no run":      {{Name: "a", Schedule: every}},
	} {
		if _, err := NewScheduler(jobs, SchedulerOptions{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSchedulerStartStop runs the loop: a catch-up run starts at once, a
// second pass does not start the job again while it runs, and Stop cancels
// the run and waits for it.
func TestSchedulerStartStop(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 21, 20, 0, 0, 0, lima))
	last := &MemoryLastRun{}
	_ = last.Set("cutoff", time.Date(2026, 11, 20, 18, 0, 0, 0, lima))
	started := make(chan struct{}, 4)
	var finished atomic.Bool
	var runs atomic.Int32
	s, err := NewScheduler([]Job{{Name: "cutoff", Schedule: mustCron(t, "0 18 * * *"), CatchUp: true,
		Run: func(ctx context.Context) error {
			runs.Add(1)
			started <- struct{}{}
			<-ctx.Done()
			finished.Store(true)
			return ctx.Err()
		}}}, SchedulerOptions{LastRun: last, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check().Func(context.Background()); err == nil {
		t.Fatal("ready before Start")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("started twice")
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		s.Stop()
		t.Fatal("catch-up run did not start")
	}
	if err := s.Check().Func(context.Background()); err != nil {
		t.Fatalf("not ready while running: %v", err)
	}
	// Due again by the clock, but still running: not started twice.
	if err := s.RunDue(context.Background(), time.Date(2026, 11, 22, 18, 0, 0, 0, lima)); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d concurrent runs", n)
	}
	s.Stop()
	if !finished.Load() {
		t.Fatal("Stop returned before the run ended")
	}
	if s.Running() {
		t.Fatal("running after Stop")
	}
}

func TestMemoryLastRunIsSafeForConcurrentUse(t *testing.T) {
	var l MemoryLastRun
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { _ = l.Set("job", time.Unix(int64(i), 0)) })
	}
	wg.Wait()
	if l.Get("job").IsZero() || !l.Get("other").IsZero() {
		t.Fatal("bad last runs")
	}
}

// A frequent job's passes must not push a rarer job's time forward: every
// pass of the loop calls due, and the rare job still runs on time.
func TestSchedulerFrequentJobDoesNotStarveARareOne(t *testing.T) {
	every := func(spec string) Schedule {
		s, err := ParseCron(spec, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var fast, slow int
	s, err := NewScheduler([]Job{
		{Name: "fast", Schedule: every("@every 1s"), Run: func(context.Context) error { fast++; return nil }},
		{Name: "slow", Schedule: every("@every 3s"), Run: func(context.Context) error { slow++; return nil }},
	}, SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	for i := 0; i <= 7; i++ {
		if err := s.RunDue(context.Background(), t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if fast != 7 || slow != 2 {
		t.Fatalf("fast ran %d times (want 7), slow %d (want 2)", fast, slow)
	}
}

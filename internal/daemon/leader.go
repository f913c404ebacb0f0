package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/service"
	"github.com/payrun/payrun/journal"
)

// Several daemons on one shared journal (journal.Cluster, PostgreSQL):
// every node receives webhooks, claims payouts and answers the status
// API; one node, the leader, runs the cron schedules and takes the files
// of the (shared) inbox, so that each fires once in the cluster. The
// leader is elected through the journal with a lease it renews; a node
// that stops renewing is replaced once its lease lapses, and the new
// leader's scheduler starts from the last runs kept in the journal, so a
// schedule missed during the takeover runs once (catch-up, as after a
// restart). A node acts as leader only until its own view of the lease
// ends, which is before the journal lets another node take it.
//
// Every node also: takes over what gone nodes held (in doubt, asked of
// the provider, never resent blindly), is woken by the journal when
// another node queues payouts or acknowledges webhook events (LISTEN/
// NOTIFY) and sends or applies them, and looks for waiting payouts now
// and then in case a notification was lost.

// leaderRole is the role the leader holds.
const leaderRole = "leader"

// lookEvery is how often a node looks for queued payouts without being
// woken (a notification lost while its listening connection was down).
const lookEvery = 10 * time.Second

// member is the daemon's part in a cluster.
type member struct {
	d    *Daemon
	c    journal.Cluster
	ttl  time.Duration
	log  *slog.Logger
	jobs []Job
	opts SchedulerOptions

	loop   service.Loop
	work   chan struct{}
	events chan struct{}

	mu       sync.Mutex
	leading  bool
	until    time.Time // local: the leadership's end as this node sees it
	sched    *Scheduler
	lastPass time.Time
	warned   bool
}

func newMember(d *Daemon, c journal.Cluster, ttl time.Duration, jobs []Job, opts SchedulerOptions) *member {
	if ttl <= 0 {
		ttl = 15 * time.Second
	}
	m := &member{d: d, c: c, ttl: ttl, log: d.log, jobs: jobs, work: make(chan struct{}, 1), events: make(chan struct{}, 1)}
	last := opts.LastRun
	opts.LastRun = recordedRuns{LastRun: last, log: d.log, node: c.Lease}
	m.opts = opts
	return m
}

// recordedRuns logs every run the leader records, with its node, so that
// an operator (and the cluster's crash test) can tell which node fired
// which run.
type recordedRuns struct {
	LastRun
	log  *slog.Logger
	node func() journal.Lease
}

func (r recordedRuns) Set(name string, t time.Time) error {
	err := r.LastRun.Set(name, t)
	if err == nil {
		r.log.Info("scheduler: run recorded", "job", name, "at", t.UTC().Format(time.RFC3339Nano), "node", r.node().Node)
	}
	return err
}

// Start starts the node's loops: the leadership and takeovers, the
// listener, and the passes it wakes.
func (m *member) Start(ctx context.Context) error {
	// The folders exist whoever leads: a file can be dropped before the
	// first leader is elected.
	in := m.d.Intake
	for _, dir := range []string{in.Inbox, in.Processing, in.Archive, in.Rejected} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("intake: %w", err)
		}
	}
	return m.loop.Run(ctx, func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { m.lead(ctx) })
		wg.Go(func() {
			_ = m.c.Listen(ctx, func(ch string) {
				switch ch {
				case journal.ChannelEvents:
					kick(m.events)
				case journal.ChannelWork:
					kick(m.work)
				}
			}, journal.ChannelEvents, journal.ChannelWork)
		})
		wg.Go(func() { m.passes(ctx) })
		wg.Go(func() { m.applies(ctx) })
		wg.Wait()
		m.stepDown("stopping", true)
	})
}

// Stop stops the loops; a leader steps down (and resigns, so that another
// node takes over at once), its schedules and intake stopped.
func (m *member) Stop() { m.loop.Halt() }

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// lead renews the node's leadership, or takes it when free, every fifth
// of the lease; takes over what gone nodes held; and looks for waiting
// payouts.
func (m *member) lead(ctx context.Context) {
	every := max(m.ttl/5, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	// ends fires when the leadership this node holds ends by its own
	// clock without a renewal: it stops leading then, not at the next
	// tick, which may come after another node took over.
	ends := time.NewTimer(time.Hour)
	defer ends.Stop()
	for {
		m.tick(ctx)
		m.mu.Lock()
		if m.leading {
			ends.Reset(max(time.Until(m.until), 0))
		} else {
			ends.Stop()
		}
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-ends.C:
			m.mu.Lock()
			over := m.leading && !time.Now().Before(m.until)
			m.mu.Unlock()
			if over {
				m.stepDown("the leadership was not renewed in time", false)
			}
		}
	}
}

func (m *member) tick(ctx context.Context) {
	now := time.Now()
	l := m.c.Lease()
	if !l.Holds(l.Node, now) {
		m.stepDown("this node's lease on the journal lapsed", false)
		m.warnOnce("this node has no lease on the journal: it neither leads nor sends until the database answers again", l.Err)
		return
	}
	ld, err := m.c.Lead(ctx, leaderRole, m.ttl)
	switch {
	case err != nil:
		m.mu.Lock()
		expired := m.leading && !now.Before(m.until)
		m.mu.Unlock()
		if expired {
			m.stepDown("the leadership could not be renewed: "+err.Error(), false)
		}
		m.warnOnce("the journal does not answer", err)
		return
	case ld.Mine:
		m.mu.Lock()
		m.until = ld.Local
		m.mu.Unlock()
		m.stepUp(ctx, l.Node)
	default:
		m.stepDown("node "+ld.Node+" leads", false)
	}
	m.mu.Lock()
	if m.warned {
		m.warned = false
		m.log.Info("the journal answers again", "node", l.Node)
	}
	m.mu.Unlock()
	if n, err := m.d.App.Dispatcher.Recover(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("taking over what gone nodes held", "err", err)
	} else if n > 0 {
		m.log.Info("took over payouts that gone nodes held; the providers are asked about them before anything is sent again", "payouts", n)
		kick(m.work)
	}
	m.mu.Lock()
	look := time.Since(m.lastPass) >= lookEvery
	m.mu.Unlock()
	if look {
		if ok, err := m.c.HasQueued(ctx); err == nil && ok {
			kick(m.work)
		}
	}
}

func (m *member) warnOnce(msg string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.warned {
		m.warned = true
		m.log.Error(msg, "err", err)
	}
}

// stepUp starts this term's schedules and intake, if not leading yet.
func (m *member) stepUp(ctx context.Context, node string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leading {
		return
	}
	// A scheduler of its own per term: its first pass reads the last runs
	// from the journal, so that what the previous leader ran is not run
	// again and what it missed is caught up once.
	sched, err := NewScheduler(m.jobs, m.opts)
	if err == nil {
		err = sched.Start(m.d.root)
	}
	if err != nil {
		m.log.Error("cannot lead: the scheduler does not start", "err", err)
		_ = m.c.Resign(ctx, leaderRole)
		return
	}
	if err := m.d.Intake.Start(m.d.root); err != nil {
		sched.Stop()
		m.log.Error("cannot lead: the intake does not start", "err", err)
		_ = m.c.Resign(ctx, leaderRole)
		return
	}
	m.sched, m.leading = sched, true
	m.log.Info("this node leads the cluster: it runs the schedules and takes the files of the inbox", "node", node)
}

// stepDown stops this term's schedules and intake, if leading; resign
// gives the leadership up at once.
func (m *member) stepDown(why string, resign bool) {
	m.mu.Lock()
	if !m.leading {
		m.mu.Unlock()
		return
	}
	sched := m.sched
	m.sched, m.leading = nil, false
	m.mu.Unlock()
	sched.Stop()
	m.d.Intake.Stop()
	if resign {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.c.Resign(ctx, leaderRole)
	}
	m.log.Warn("this node no longer leads: its schedules and intake are stopped", "why", why)
}

// leaderServices are what the leader runs, in their start order: the
// intake and the scheduler on a journal one process holds, the cluster's
// loops (which start and stop them as the node leads) on a shared one.
func (d *Daemon) leaderServices() []service.Service {
	if d.member != nil {
		return []service.Service{d.member}
	}
	return []service.Service{d.Intake, d.Sched}
}

// schedulerCheck is the readiness check of what runs the schedules.
func (d *Daemon) schedulerCheck() Check {
	if d.member != nil {
		return d.member.check()
	}
	return d.Sched.Check()
}

// Leading reports whether this node leads.
func (m *member) Leading() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leading
}

// passes runs a dispatch pass whenever woken: payouts queued by another
// node, or taken over.
func (m *member) passes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.work:
		}
		m.mu.Lock()
		m.lastPass = time.Now()
		m.mu.Unlock()
		if err := m.d.dispatch(ctx, nil, "work queued or taken over in the cluster"); err != nil && ctx.Err() == nil {
			m.log.Error("dispatch", "err", err)
		}
	}
}

// applies applies the webhook events another node acknowledged.
func (m *member) applies(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.events:
		}
		if err := m.d.Recv.Drain(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("webhook events persisted by another node, not applied yet; retrying", "err", err)
		}
	}
}

// othersLive reports whether another daemon of the cluster holds a live
// lease (so that the cluster was not down while this node was).
func (m *member) othersLive(ctx context.Context) bool {
	ns, err := m.c.Nodes(ctx)
	if err != nil {
		return false
	}
	self := m.c.Lease().Node
	for _, n := range ns {
		if n.Live && n.ID != self && n.Role == "serve" {
			return true
		}
	}
	return false
}

// check is the readiness of a node: it holds a lease, and, when it
// leads, its scheduler runs.
func (m *member) check() Check {
	return Check{Name: "cluster", Func: func(context.Context) error {
		if !m.loop.Running() {
			return errors.New("the node's cluster loop is not running")
		}
		l := m.c.Lease()
		if !l.Holds(l.Node, time.Now()) {
			if l.Err != nil {
				return fmt.Errorf("this node has no lease on the journal: %w", l.Err)
			}
			return errors.New("this node has no lease on the journal")
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.leading && !m.sched.Running() {
			return errors.New("this node leads but its scheduler is not running")
		}
		return nil
	}}
}

package dispatch_test

import (
	"bytes"
	"context"

	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
)

// Several dispatchers on one PostgreSQL journal (nodes of a cluster).

// books is a provider that keeps what it was sent: each payout once, by
// its reference, as a provider that refuses duplicates would.
type books struct {
	name  string
	delay time.Duration
	mu    sync.Mutex
	sent  map[string]int
	at    map[string][]time.Time // when each request started, by node
}

func newBooks() *books {
	return &books{name: "teemopay", sent: map[string]int{}, at: map[string][]time.Time{}}
}

// node is the provider as one node's client sees it.
func (b *books) node(name string) providers.Provider { return &bookClient{b: b, node: name} }

func (b *books) count() (paid, twice int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range b.sent {
		paid++
		if n > 1 {
			twice++
		}
	}
	return paid, twice
}

type bookClient struct {
	b    *books
	node string
}

func (c *bookClient) Name() string { return c.b.name }
func (c *bookClient) Capabilities() providers.Capabilities {
	return providers.Capabilities{LookupByReference: true}
}
func (c *bookClient) Submit(_ context.Context, p providers.Payout) (providers.Status, error) {
	c.b.mu.Lock()
	c.b.at[c.node] = append(c.b.at[c.node], time.Now())
	c.b.sent[p.ID]++
	c.b.mu.Unlock()
	time.Sleep(c.b.delay) // the provider's answer takes its time
	return providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: p.ID, ProviderID: "T-" + p.ID}}, nil
}
func (c *bookClient) Lookup(_ context.Context, r providers.Refs) (providers.Status, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.sent[r.PayoutID] == 0 {
		return providers.Status{}, providers.ErrNotFound
	}
	return providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: r.PayoutID, ProviderID: "T-" + r.PayoutID}}, nil
}
func (c *bookClient) ParseWebhook(providers.WebhookRequest) (providers.WebhookResult, error) {
	return providers.WebhookResult{}, providers.ErrUnsupported
}

// queued imports n queued items of the provider.
func queued(t *testing.T, j journal.Journal, batch string, n int) {
	t.Helper()
	var items []journal.Item
	for i := range n {
		it := journaltest.ValidItem(fmt.Sprintf("%s-%03d", batch, i), "teemopay", 1000)
		it.State = journal.Queued
		items = append(items, it)
	}
	journaltest.Import(t, j, batch, items...)
}

func clusterNode(t *testing.T, dsn, name string, lease, grace time.Duration) *pgjournal.Journal {
	t.Helper()
	j, err := pgjournal.Open(context.Background(), dsn, pgjournal.Options{MaxConns: 8, Node: journal.NodeOptions{Name: name, Lease: lease, Grace: grace}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// Three nodes send one batch at once: every payout is sent once, by one
// of them, and the three together keep the provider's rate.
func TestClusterNodesSendEachPayoutOnce(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	b := newBooks()
	const n = 240
	pools := map[string]dispatch.PoolConfig{"teemopay": {RatePerSecond: 200, Burst: 10, Concurrency: 6}}
	var ds []*dispatch.Dispatcher
	for i := range 3 {
		j := clusterNode(t, dsn, fmt.Sprintf("n%d", i+1), 0, 0)
		if i == 0 {
			queued(t, j, "B1", n)
		}
		ds = append(ds, dispatch.NewDispatcher(j, map[string]providers.Provider{"teemopay": b.node(fmt.Sprintf("n%d", i+1))},
			dispatch.DispatchOptions{Pools: pools}))
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, d := range ds {
		if !d.Clustered() {
			t.Fatal("a dispatcher on PostgreSQL does not share its journal")
		}
		wg.Go(func() {
			if _, err := d.Run(context.Background(), []string{"B1"}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	paid, twice := b.count()
	if paid != n || twice != 0 {
		t.Fatalf("%d of %d paid, %d twice", paid, n, twice)
	}
	byNode := map[string]int{}
	for node, at := range b.at {
		byNode[node] = len(at)
	}
	t.Logf("%d payouts in %s: %v", n, elapsed.Round(time.Millisecond), byNode)
	// 240 at 200/s with a burst of 10: never sooner than 1.15 s.
	if elapsed < 1100*time.Millisecond {
		t.Errorf("three nodes sent %d payouts in %s: faster than the rate of 200/s", n, elapsed)
	}
}

// A node that loses the database stops sending before its lease ends,
// says so, and when the database answers again joins as a new run and
// goes on; what it held when it lost the database is taken over through
// the in-doubt path (asked of the provider), and nothing is sent twice.
func TestClusterNodeThatLosesTheDatabaseStopsSending(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	px := newCutProxy(t, dsn)
	const lease, grace = time.Second, 500 * time.Millisecond
	j := clusterNode(t, px.dsn, "a", lease, grace)
	queued(t, j, "B1", 120)
	b := newBooks()
	b.delay = 20 * time.Millisecond
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
	d := dispatch.NewDispatcher(j, map[string]providers.Provider{"teemopay": b.node("a")}, dispatch.DispatchOptions{
		Pools: map[string]dispatch.PoolConfig{"teemopay": {RatePerSecond: 40, Burst: 1, Concurrency: 4}}, Log: log,
		RequestTimeout: 300 * time.Millisecond})

	done := make(chan error, 1)
	go func() { _, err := d.Run(context.Background(), []string{"B1"}, nil); done <- err }()
	waitUntil(t, "20 payouts sent", func() bool { p, _ := b.count(); return p >= 20 })
	px.cut()
	cutAt := time.Now()
	until := j.Lease().Until
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(lease + 10*time.Second):
		t.Fatal("the run goes on without its database")
	}
	if runErr == nil {
		t.Fatal("the run ended without saying the database is gone")
	}
	b.mu.Lock()
	last := time.Time{}
	for _, at := range b.at["a"] {
		if at.After(last) {
			last = at
		}
	}
	b.mu.Unlock()
	if last.After(until) {
		t.Fatalf("a request started %s after the lease ended (cut at +0, lease until +%s)", last.Sub(until), until.Sub(cutAt))
	}
	waitUntil(t, "the lease lost", func() bool { return j.Lease().Err != nil && !j.Lease().Holds(j.Lease().Node, time.Now()) })
	t.Logf("cut after %d payouts; the run said: %v", len(b.at["a"]), runErr)
	// Woken again without its database, the node refuses to send and
	// says why.
	if _, err := d.Run(context.Background(), []string{"B1"}, nil); err == nil || !strings.Contains(err.Error(), "lost its lease") {
		t.Fatalf("a run without a lease: %v", err)
	}
	logMu.Lock()
	said := logs.String()
	logMu.Unlock()
	if !strings.Contains(said, "lost its lease on the journal and stops sending") {
		t.Errorf("the log does not say the node lost its lease:\n%s", said)
	}

	// The database answers again once the lease lapsed there too, and its
	// grace: the node joins anew, takes over what its old run held
	// (asking the provider about each) and finishes.
	old := j.Lease().Node
	waitUntil(t, "the lease and its grace lapsed", func() bool { return time.Now().After(until.Add(lease + grace)) })
	px.restore()
	waitUntil(t, "a new lease", func() bool { l := j.Lease(); return l.Holds(l.Node, time.Now()) })
	if j.Lease().Node == old && old != "" {
		t.Fatal("the node kept the run whose lease lapsed")
	}
	waitUntil(t, "every payout sent", func() bool {
		if _, err := d.Run(context.Background(), []string{"B1"}, nil); err != nil {
			t.Logf("run: %v", err)
		}
		open := 0
		_ = j.BatchItems(context.Background(), "B1", func(it journal.Item) bool {
			if it.State != journal.Submitted {
				open++
			}
			return true
		})
		return open == 0
	})
	if paid, twice := b.count(); paid != 120 || twice != 0 {
		t.Fatalf("%d of 120 paid, %d twice", paid, twice)
	}
	logMu.Lock()
	said = logs.String()
	logMu.Unlock()
	if !strings.Contains(said, "holds a lease on the journal again") {
		t.Errorf("the log does not say the node sends again:\n%s", said)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// waitUntil polls cond every 20 ms for 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cutProxy stands between a journal and its database and can cut every
// connection, as a network partition would.
type cutProxy struct {
	dsn    string
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, dsn string) *cutProxy {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: u.Host}
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable")
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	p.dsn = u.String()
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Go(func() { _, _ = io.Copy(s, c); s.Close() })
		p.wg.Go(func() { _, _ = io.Copy(c, s); c.Close() })
	}
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Rows a cap held are weighed again by whichever node runs next: they stay
// held while the cap stops them and are sent, once each, when it allows
// them.
func TestClusterHeldByCapSentWhenTheCapAllows(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	b := newBooks()
	var ds []*dispatch.Dispatcher
	for i, max := range []int{3, 3, 10} {
		node := fmt.Sprintf("n%d", i+1)
		j := clusterNode(t, dsn, node, 0, 0)
		if i == 0 {
			var items []journal.Item
			for k := range 5 {
				items = append(items, journaltest.ValidItem(fmt.Sprintf("CAP-%d", k), "teemopay", 1000))
			}
			journaltest.Import(t, j, "B1", items...)
		}
		ds = append(ds, dispatch.NewDispatcher(j, map[string]providers.Provider{"teemopay": b.node(node)},
			dispatch.DispatchOptions{Caps: []dispatch.Cap{{Provider: "teemopay", Scope: "day", MaxCount: max}}}))
	}
	for i, want := range []struct{ paid, held int }{{3, 2}, {3, 2}, {5, 0}} {
		sum, err := ds[i].Run(context.Background(), []string{"B1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if paid, twice := b.count(); paid != want.paid || twice != 0 || sum.Held != want.held {
			t.Fatalf("after node %d: %d paid (%d twice), %d held (%v); want %d paid, %d held", i+1, paid, twice, sum.Held, sum.HeldWhy, want.paid, want.held)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// TestClusterCrash runs three `payrun serve` nodes on one PostgreSQL
// journal and one inbox, drops a file of payouts over all four providers
// (faults on: answers lost, 5xx, a provider refusing above its limit,
// webhooks duplicated, delayed and reordered, delivered to any node), and
// SIGKILLs a random node at random moments, starting it again each time,
// sometimes at once (it takes over what its previous run held), sometimes
// after its lease and grace lapsed (the other nodes take it over). Then,
// by the sandboxes' ledgers, every row is paid exactly once; the poll
// schedule fired once a minute in the cluster; the journal agrees.
//
// Short (5 kills, 2,000 rows) by default when PAYRUN_TEST_POSTGRES names a
// server; PAYRUN_CLUSTER=long kills 30 times over 12,000 rows.
func TestClusterCrash(t *testing.T) {
	kills, rows := crashSize(t, "PAYRUN_CLUSTER", 5, 2000, 30, 12000)
	dsn := pgtest.New(t, nil)
	bin := buildPayrun(t)
	dir := t.TempDir()
	land := crashLand(t, dir, 27)
	for _, n := range land.Names() {
		f := serveFaults(0.05, 0.03)
		if n == "teemopay" {
			f.RateLimitPerSecond = 40 // below the configured rate: the cluster learns it
		}
		land.Kit(n).SetFaults(f)
	}

	// Webhooks go to any live node, as a load balancer would send them.
	proxy := newNodeProxy()
	proxyAddr := freeAddr(t)
	psrv := &http.Server{Addr: proxyAddr, Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = psrv.ListenAndServe() }()
	defer psrv.Close()
	hooks := "http://" + proxyAddr + "/webhooks/"
	land.SetWebhookBase(hooks)

	const nodes = 3
	var cfgPaths, addrs []string
	var cfg *config.Config
	for i := range nodes {
		addr := freeAddr(t)
		addrs = append(addrs, addr)
		cfg = serveCrashConfig(land, dir, addr, hooks, "@every 10s")
		// Three nodes' pools within the server's connections, beside the
		// other packages' tests on the same server.
		cfg.Journal = withPoolMax(dsn, 6)
		cfg.Serve.ScanInterval = 200 * time.Millisecond
		cfg.Reconcile.PollAfter = 20 * time.Second
		cfg.Cluster.Node = fmt.Sprintf("node-%d", i+1)
		cfg.Cluster.Lease = 3 * time.Second
		cfg.Log.Level = "info"
		for n, pc := range cfg.Providers {
			pc.RatePerSecond, pc.Burst, pc.Timeout = 50, 5, 2*time.Second
			cfg.Providers[n] = pc
		}
		p := filepath.Join(dir, fmt.Sprintf("node-%d.yaml", i+1))
		if err := writeConfig(p, cfg); err != nil {
			t.Fatal(err)
		}
		cfgPaths = append(cfgPaths, p)
	}
	proxy.set(addrs)

	var outMu sync.Mutex
	var outputs []*syncBuffer
	type node struct {
		cmd  *exec.Cmd
		done chan error
	}
	running := make([]*node, nodes)
	start := func(i int) {
		cmd := exec.Command(bin, "--config", cfgPaths[i], "serve")
		buf := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = buf, buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		outMu.Lock()
		outputs = append(outputs, buf)
		outMu.Unlock()
		n := &node{cmd: cmd, done: make(chan error, 1)}
		go func() { n.done <- cmd.Wait() }()
		running[i] = n
		proxy.up(i, true)
	}
	kill := func(i int) {
		proxy.up(i, false)
		_ = running[i].cmd.Process.Signal(syscall.SIGKILL)
		<-running[i].done
		running[i] = nil
	}
	allOutput := func() string {
		outMu.Lock()
		defer outMu.Unlock()
		var b strings.Builder
		for _, o := range outputs {
			b.WriteString(o.String())
		}
		return b.String()
	}
	// The poll ran before this test (a schedule that never ran is not
	// caught up): a minute missed during a takeover is run once.
	watch := openTestJournal(t, dsn)
	defer watch.Close()
	if err := watch.SetMark(context.Background(), "lastrun:poll", time.Now().Add(-30*time.Second).UTC().Format(time.RFC3339Nano)); err != nil {
		t.Fatal(err)
	}
	for i := range nodes {
		start(i)
	}
	if p := os.Getenv("PAYRUN_CLUSTER_LOG"); p != "" {
		// The nodes' logs, for a run that needs looking into.
		defer func() { _ = os.WriteFile(p, []byte(allOutput()), 0o600) }()
	}
	defer func() {
		for i, n := range running {
			if n != nil {
				kill(i)
			}
		}
	}()
	for _, a := range addrs {
		waitFor(t, "a node answering", 30*time.Second, func() bool { return ready(a) })
	}
	began := time.Now()

	valid := payableRows("C", rows)
	dropIntoInbox(t, dir, valid)
	paidCount := func() (paid, twice int) { return ledgerPaid(land, valid) }

	// takenOver says the runs of a node named name are gone and hold
	// nothing: their lease lapsed and the other nodes took over.
	takenOver := func(name string) bool {
		ns, err := watch.(journal.Cluster).Nodes(context.Background())
		if err != nil {
			return false
		}
		for _, n := range ns {
			if n.Name == name && (n.Live || n.Holding > 0) {
				return false
			}
		}
		return true
	}
	if os.Getenv("PAYRUN_CLUSTER_PROGRESS") != "" {
		stopProgress := make(chan struct{})
		defer close(stopProgress)
		go func() {
			tk := time.NewTicker(2 * time.Second)
			defer tk.Stop()
			for {
				select {
				case <-stopProgress:
					return
				case <-tk.C:
					p, _ := paidCount()
					per := map[string]int{}
					for _, n := range land.Names() {
						per[n] = len(land.Kit(n).Ledger.PaidByReference())
					}
					t.Logf("%s: %d paid %v", time.Since(began).Round(time.Second), p, per)
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(27, 2))
	killed, late := 0, 0
	for killed < kills {
		// A random moment: after a random number of further payouts.
		p0, _ := paidCount()
		next := min(p0+40+rng.IntN(160), len(valid))
		if !waitUntil(60*time.Second, func() bool { p, _ := paidCount(); return p >= next }) {
			t.Fatalf("no progress for a minute: %d of %d paid\n%s", p0, len(valid), tail(allOutput(), 60))
		}
		if p, _ := paidCount(); p == len(valid) {
			break
		}
		i := rng.IntN(nodes)
		kill(i)
		killed++
		t.Logf("%s: killed node %d", time.Since(began).Round(100*time.Millisecond), i+1)
		// Sometimes the node comes back at once (and takes over what its
		// killed run held itself), sometimes only once its lease lapsed
		// and the other nodes took over what it held.
		if killed%2 == 0 {
			late++
			waitFor(t, "the other nodes to take over what node "+fmt.Sprint(i+1)+" held", 30*time.Second,
				func() bool { return takenOver(fmt.Sprintf("node-%d", i+1)) })
		}
		start(i)
	}
	paidAtLastKill, _ := paidCount()
	t.Logf("killed %d times (%d of them restarted after the lease and grace lapsed); %d of %d rows paid then",
		killed, late, paidAtLastKill, len(valid))
	if killed < kills {
		t.Fatalf("the batch finished after %d kills, before the %d the test needs: make it slower", killed, kills)
	}

	// Every row paid, once, by the ledgers. The providers answer promptly
	// now, as in the single-node crash tests' last start: what the kills
	// and faults left is settled at the next poll at the latest.
	for _, n := range land.Names() {
		land.Kit(n).SetFaults(sandboxkit.Faults{})
	}
	for deadline := time.Now().Add(90 * time.Second); ; {
		p, twice := paidCount()
		if twice > 0 {
			t.Fatalf("%d rows paid twice", twice)
		}
		if p == len(valid) {
			break
		}
		if time.Now().After(deadline) {
			counts := map[string]int{}
			for _, n := range land.Names() {
				for ref, k := range land.Kit(n).Ledger.PaidByReference() {
					counts[ref] += k
				}
			}
			for _, r := range valid {
				if counts[r.PayoutID] == 0 {
					it, _ := watch.Item(context.Background(), r.PayoutID)
					t.Logf("unpaid: %s (%s) is %s: %s", r.PayoutID, r.Provider, it.State, it.Reason)
					_ = watch.Transitions(context.Background(), r.PayoutID, func(tr journal.Transition) bool {
						t.Logf("  %s %s -> %s by %s: %s", tr.At.Format("15:04:05.000"), tr.From, tr.To, tr.Actor, tr.Reason)
						return true
					})
				}
			}
			t.Fatalf("%d of %d rows paid 90 s after the last kill", p, len(valid))
		}
		// Webhooks that backed off while their node was down come round
		// (TeemoPay's clock stays: it signs with the time).
		for _, n := range []string{"monnet", "bank131", "smartglocal"} {
			land.Kit(n).Clock.Advance(2 * time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("every row paid once, %s after the file was dropped", time.Since(began).Round(100*time.Millisecond))
	// Who leads, the nodes and their leases, and each provider's rate for
	// the cluster, as an operator sees them.
	out, err := exec.Command(bin, "--config", cfgPaths[0], "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Cluster: ") || !strings.Contains(string(out), " leads (schedules, intake)") ||
		!strings.Contains(string(out), "teemopay     rate ") {
		t.Errorf("payrun status: %v\n%s", err, out)
	}
	for i, n := range running {
		if n == nil {
			continue
		}
		proxy.up(i, false)
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-n.done; err != nil {
			t.Errorf("node %d after SIGTERM: %v", i+1, err)
		}
		running[i] = nil
	}

	// The journal agrees, once `payrun reconcile` asked about what the
	// providers settled after the nodes stopped listening.
	settled := func() (bad []string) {
		j := openTestJournal(t, dsn)
		defer j.Close()
		_ = j.AllItems(context.Background(), func(it journal.Item) bool {
			waitsForMonnet := it.State == journal.Submitted && it.Provider == "monnet" && it.Refs.ProviderID == ""
			if it.State != journal.Succeeded && !waitsForMonnet {
				bad = append(bad, fmt.Sprintf("%s (%s) is %s", it.PayoutID, it.Provider, it.State))
			}
			return true
		})
		return bad
	}
	for deadline := time.Now().Add(60 * time.Second); ; {
		out, err := exec.Command(bin, "--config", cfgPaths[0], "reconcile").CombinedOutput()
		if err != nil {
			t.Fatalf("payrun reconcile: %v\n%s", err, out)
		}
		bad := settled()
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal disagrees with the providers: %d items, first %v", len(bad), bad[:min(len(bad), 10)])
		}
		for _, n := range []string{"monnet", "bank131", "smartglocal"} {
			land.Kit(n).Clock.Advance(20 * time.Second)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, twice := paidCount(); twice > 0 {
		t.Errorf("%d rows paid twice", twice)
	}
	j := openTestJournal(t, dsn)
	defer j.Close()
	if err := j.Check(context.Background()); err != nil {
		t.Errorf("journal check: %v", err)
	}
	count, tookOver := 0, 0
	_ = j.AllItems(context.Background(), func(it journal.Item) bool {
		count++
		return true
	})
	_ = j.Transitions(context.Background(), "", func(tr journal.Transition) bool {
		if tr.Actor == "recovery" && strings.Contains(tr.Reason, "node that is gone") {
			tookOver++
		}
		return true
	})
	if count != len(valid) {
		t.Errorf("journal holds %d items, the file %d rows", count, len(valid))
	}
	t.Logf("%d payouts were taken over from nodes that were gone", tookOver)

	// The poll schedule (every 10 s) fired once at a time in the cluster:
	// never two runs within one period (two leaders, or a run repeated),
	// and never a period missed for longer than a takeover takes.
	checkSchedules(t, allOutput(), 10*time.Second, 10*time.Second+2*cfg.Cluster.Lease+5*time.Second)
}

// checkSchedules holds the poll runs the nodes' leaders recorded to the
// schedule: consecutive runs at least a period apart, at most most apart.
func checkSchedules(t *testing.T, logs string, period, most time.Duration) {
	t.Helper()
	type run struct {
		at, end time.Time
		node    string
		// done is when the run finished ("scheduler: job ran"), zero when
		// its node was killed during it.
		done time.Time
	}
	var runs []run
	open := -1 // the run recorded last and not finished yet
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time               time.Time
			Msg, Job, At, Node string
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Job != "poll" {
			continue
		}
		// The outputs are each process's in turn, and a process logs a
		// run's end after its record: an end belongs to the last run
		// recorded.
		if (l.Msg == "scheduler: job ran" || l.Msg == "scheduler: job failed") && open >= 0 {
			runs[open].done, open = l.Time, -1
			continue
		}
		if l.Msg != "scheduler: run recorded" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, l.At)
		if err != nil {
			t.Errorf("run recorded at %q: %v", l.At, err)
			continue
		}
		runs = append(runs, run{at: at, end: l.Time, node: l.Node})
		open = len(runs) - 1
	}
	slices.SortFunc(runs, func(a, b run) int { return a.at.Compare(b.at) })
	nodes := map[string]bool{}
	for i, r := range runs {
		nodes[r.node] = true
		if i == 0 {
			continue
		}
		prev := runs[i-1]
		// The schedule rounds to the second.
		if gap := r.at.Sub(prev.at); gap < period-time.Second || r.at.Before(prev.end) {
			t.Errorf("the poll ran twice within %s: at %s by %s (until %s) and at %s by %s", gap.Round(time.Millisecond),
				prev.at.Format("15:04:05.000"), prev.node, prev.end.Format("15:04:05.000"), r.at.Format("15:04:05.000"), r.node)
		}
		// A run that lasts longer than the period delays the next one:
		// the gap counts from its end (a poll pass over thousands of
		// payouts on spare tokens lasts minutes), or from its record
		// when its node was killed during it.
		from := prev.end
		if prev.done.After(from) {
			from = prev.done
		}
		if gap := r.at.Sub(from); gap > most {
			t.Errorf("no poll for %s: from %s by %s to %s by %s", gap.Round(time.Millisecond),
				from.Format("15:04:05.000"), prev.node, r.at.Format("15:04:05.000"), r.node)
		}
	}
	if len(runs) < 3 {
		t.Errorf("only %d poll runs recorded", len(runs))
	}
	t.Logf("schedule: %d poll runs recorded, by %d node runs (leaders)", len(runs), len(nodes))
}

// ready reports whether a node answers /readyz.
func ready(addr string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// waitUntil waits d, or until cond holds (checked every 50 ms), and says
// whether it held.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
	return cond()
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-lines):], "\n")
}

// syncBuffer is a bytes.Buffer that a process writes and the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// nodeProxy sends each webhook to a random node that is up, and to
// another when that one does not answer.
type nodeProxy struct {
	mu    sync.Mutex
	addrs []string
	live  []bool
	rng   *rand.Rand
	hc    *http.Client
}

func newNodeProxy() *nodeProxy {
	return &nodeProxy{rng: rand.New(rand.NewPCG(5, 6)), hc: &http.Client{Timeout: 10 * time.Second}}
}

func (p *nodeProxy) set(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addrs, p.live = addrs, make([]bool, len(addrs))
}

func (p *nodeProxy) up(i int, up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live[i] = up
}

func (p *nodeProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	order := p.rng.Perm(len(p.addrs))
	var targets []string
	for _, i := range order {
		if p.live[i] {
			targets = append(targets, p.addrs[i])
		}
	}
	p.mu.Unlock()
	for _, a := range targets {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+a+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			break
		}
		req.Header = r.Header.Clone()
		resp, err := p.hc.Do(req)
		if err != nil {
			continue // that node died meanwhile: the next one
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "no node answers", http.StatusServiceUnavailable)
}

// withPoolMax bounds the connection pool a journal opened on dsn keeps.
func withPoolMax(dsn string, n int) string {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return fmt.Sprintf("%s pool_max_conns=%d", dsn, n)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String()
}

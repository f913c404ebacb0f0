package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/reconcile"
	bolt "go.etcd.io/bbolt"
)

// The night's configuration. The rates are what the bench configures each
// provider's merchant account at, in requests per second at the provider
// (a Bank 131 payout is three requests: session/create and
// session/start/payout, then session/confirm; a Smart Glocal payout two:
// session/init/payout, then session/confirm), 160 payouts a second in
// all. They are chosen so that payrun and the four sandboxes need about
// one of the machine's two cores at full pace (about 6 ms of CPU a payout
// between them: Bank 131 and Smart Glocal payouts cost payrun two or
// three RSA-2048 signatures each, and the sandboxes sign every webhook), so
// that the night measures payrun's pacing, not a machine too small for
// the rates.
var (
	NightRates = map[string]float64{"monnet": 40, "teemopay": 40, "bank131": 120, "smartglocal": 80}
	// NightConcurrency is every pool's requests in flight: enough for the
	// rate at the sandboxes' latency, with room for retries.
	NightConcurrency = 16
	// NightLatency is every sandbox request's latency.
	NightLatency = 15 * time.Millisecond
)

// requestsPerPayout is how many requests one payout costs at a provider
// when nothing goes wrong and no status query is needed.
func requestsPerPayout(provider string) float64 {
	switch provider {
	case "bank131":
		return 3 // session/create, session/start/payout, session/confirm
	case "smartglocal":
		return 2 // session/init/payout, session/confirm
	}
	return 1
}

// nightRow returns night row i: the providers in turn (bank transfers at
// Monnet and TeemoPay, card tokens at Bank 131 and Smart Glocal: methods
// that finish without a beneficiary's action), one in fifty refused by the
// bank ("-F").
func nightRow(i int) []string {
	tmpl := nightTemplates()
	r := tmpl[i%len(tmpl)]
	r.Number = i + 2
	r.PayoutID = fmt.Sprintf("NT%09d", i)
	if i%50 == 7 {
		r.PayoutID += "-F"
	}
	if whole, _, ok := strings.Cut(r.Amount, "."); ok {
		r.Amount = fmt.Sprintf("%s.%02d", whole, (i*7)%100)
	}
	return record(r, nil)
}

// WriteNightCSV writes the night's payout file of n rows.
func WriteNightCSV(path string, n int) error {
	return writeCSVRows(path, n, func(i int, _ []string) []string { return nightRow(i) })
}

// nightJournal reads what the journal's buckets take, in bytes of pages
// in use, from a closed journal file.
func nightJournal(path string) (map[string]float64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := map[string]float64{}
	err = db.View(func(tx *bolt.Tx) error {
		// The pages written so far: bbolt grows its file ahead of them.
		out["journal_data"] = float64(tx.Size())
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			s := b.Stats()
			out["bucket_"+string(name)] = float64(s.BranchAlloc + s.LeafAlloc)
			out["bucketuse_"+string(name)] = float64(s.BranchInuse + s.LeafInuse)
			return nil
		})
	})
	return out, err
}

// phase measures one phase of the night in the night's process.
type phase struct {
	x     map[string]float64
	name  string
	start time.Time
	cpu   time.Duration
}

// nightSay writes one line of the night's progress to the process's
// standard error, which the bench passes on to its own: a night of a
// million rows takes about two hours.
func nightSay(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: night: "+format+"\n", a...)
}

// progressEvery is how often a long phase of the night says how far it is.
const progressEvery = time.Minute

// payProgress returns the dispatcher's progress callback for the night:
// a line a minute with the payouts sent and, at the pace so far, the
// time the sending has left.
func payProgress(start time.Time) func(dispatch.Progress) {
	next := start.Add(progressEvery)
	return func(p dispatch.Progress) {
		now := time.Now()
		if now.Before(next) || p.Total <= 0 {
			return
		}
		next = now.Add(progressEvery)
		took := now.Sub(start)
		left := "unknown"
		if p.Done > 0 {
			left = (time.Duration(float64(took) * float64(p.Total-p.Done) / float64(p.Done))).Round(time.Second).String()
		}
		nightSay("pay: %d of %d payouts sent in %s; about %s of sending left", p.Done, p.Total, took.Round(time.Second), left)
	}
}

// anonPeak is the most anonymous memory (RssAnon: heap and stacks, not
// the journal's mapped file pages, which VmHWM counts and the kernel may
// drop) seen since the phase began, sampled every 20 ms.
var anonPeak atomic.Int64

// sampleAnon keeps anonPeak until stop is closed.
func sampleAnon(stop <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if v := statusKB("RssAnon:"); v > anonPeak.Load() {
			anonPeak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

func startPhase(x map[string]float64, name string) *phase {
	resetPeak()
	anonPeak.Store(statusKB("RssAnon:"))
	return &phase{x: x, name: name, start: time.Now(), cpu: cpuTime()}
}

func (p *phase) end() {
	p.x[p.name+"_s"] = time.Since(p.start).Seconds()
	nightSay("%s done in %s", p.name, time.Since(p.start).Round(10*time.Millisecond))
	p.x[p.name+"_cpu_s"] = (cpuTime() - p.cpu).Seconds()
	p.x[p.name+"_peak"] = float64(PeakRSS())
	p.x[p.name+"_anon"] = float64(max(anonPeak.Load(), statusKB("RssAnon:")))
}

// resetPeak resets the process's peak resident set (VmHWM), so that a
// phase's peak is its own; without /proc it does nothing.
func resetPeak() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// nightConfig is payrun's configuration for a night under dir against the
// providers the sandbox child wrote.
func nightConfig(dir string, port int) (*config.Config, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "providers.json"))
	if err != nil {
		return nil, err
	}
	var provs map[string]providers.Config
	if err := json.Unmarshal(raw, &provs); err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.Dir = filepath.Join(dir, "run")
	cfg.Path = filepath.Join(cfg.Dir, "payrun.yaml")
	for name, pc := range provs {
		pc.Enabled = true
		pc.RatePerSecond = NightRates[name]
		pc.Burst = 0 // the pool's default
		pc.Concurrency = NightConcurrency
		pc.Timeout = 10 * time.Second
		cfg.Providers[name] = pc
	}
	// No daily caps: the night pays every row (caps are a safety net the
	// operator sizes to the file; the default's 50,000 TeemoPay payouts a
	// day would hold most of a large night).
	cfg.Dispatch.Caps = nil
	cfg.Dispatch.ResendAfter = 2 * time.Second
	// A payout is asked about 10 s after its last change (a webhook's
	// included), then every 10 s, doubling to a minute.
	cfg.Reconcile.PollAfter = 10 * time.Second
	cfg.Reconcile.PollInterval = 10 * time.Second
	cfg.Reconcile.PollMax = time.Minute
	cfg.Preflight.Enabled = true
	cfg.Preflight.HoldAbove = nil
	cfg.Serve.PublicURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg.Serve.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	for _, d := range []string{cfg.Dirs.Reports, cfg.Dirs.Outbox} {
		if err := os.MkdirAll(cfg.Abs(d), 0o750); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// nightRun is the night's payrun: the payout file at input through ingest,
// pre-flight, dispatch (with the poller and the webhook receiver at work
// meanwhile), until every payout has its result, then `payrun reconcile`
// and `payrun report` of the day, each phase timed, with its CPU time and
// its own peak resident set.
func nightRun(ctx context.Context, dir, input string, port int) (Side, error) {
	x := map[string]float64{}
	if path := os.Getenv("PAYRUN_NIGHT_CPUPROFILE"); path != "" {
		// Where the night's CPU goes (go tool pprof).
		f, err := os.Create(path)
		if err != nil {
			return Side{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return Side{}, err
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := nightConfig(dir, port)
	if err != nil {
		return Side{}, err
	}
	logf, err := os.Create(filepath.Join(cfg.Dir, "payrun.log"))
	if err != nil {
		return Side{}, err
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	j, err := app.OpenJournal(ctx, cfg)
	if err != nil {
		return Side{}, err
	}
	closed := false
	defer func() {
		if !closed {
			j.Close()
		}
	}()
	a, err := app.New(cfg, j, log)
	if err != nil {
		return Side{}, err
	}
	ln, err := net.Listen("tcp", cfg.Serve.Listen)
	if err != nil {
		return Side{}, err
	}
	recv := a.Receiver(nil)
	srv := &daemon.HTTPServer{Listener: ln, Handler: recv.Handler(), Log: log}
	if err := recv.Start(ctx); err != nil {
		return Side{}, err
	}
	if err := srv.Start(ctx); err != nil {
		recv.Stop()
		return Side{}, err
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			srv.Stop()
			recv.Stop()
		}
	}
	defer stop()
	nightStart, nightCPU := time.Now(), cpuTime()
	stopSampling := make(chan struct{})
	defer close(stopSampling)
	go sampleAnon(stopSampling)

	ph := startPhase(x, "ingest")
	res, err := j.Ingest(ctx, input, app.IngestOptions(cfg, app.EnabledProviders(cfg)))
	if err != nil {
		return Side{}, err
	}
	if res.Rejected {
		return Side{}, fmt.Errorf("night file rejected: %v", res.Report.Errors)
	}
	ph.end()
	id := res.Batch.ID
	n := res.Batch.Valid

	ph = startPhase(x, "preflight")
	g, err := a.Gate(ctx, id)
	if err != nil {
		return Side{}, err
	}
	if g.Held {
		return Side{}, fmt.Errorf("night batch held: %s", g.Reason)
	}
	ph.end()

	// Dispatch, with the poller asking about what is due meanwhile (it
	// shares the pools' limits), and the receiver applying webhooks.
	ph = startPhase(x, "pay")
	pollCtx, stopPolls := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	pwg.Go(func() {
		pl := a.Poller(false)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if _, err := pl.RunOnce(pollCtx); err != nil && pollCtx.Err() == nil {
				log.Warn("poll", "err", err)
			}
			select {
			case <-pollCtx.Done():
				return
			case <-t.C:
			}
		}
	})
	sum, err := a.Dispatcher.Run(ctx, []string{id}, payProgress(ph.start))
	if err != nil {
		stopPolls()
		pwg.Wait()
		return Side{}, err
	}
	x["dispatch_s"] = time.Since(ph.start).Seconds()
	x["sent"] = float64(sum.Sent)
	nightSay("pay: every payout sent in %s; waiting for the last results", time.Since(ph.start).Round(10*time.Millisecond))
	left, err := waitSettled(ctx, j, a.Providers, id, 10*time.Minute)
	stopPolls()
	pwg.Wait()
	if err != nil {
		return Side{}, err
	}
	if err := recv.Drain(ctx); err != nil {
		return Side{}, err
	}
	x["left_open"] = float64(left)
	for name, st := range a.Dispatcher.PoolStats() {
		x["sent_busiest_second_"+name] = float64(st.BusiestSecond)
		x["sent_requests_"+name] = float64(st.Requests)
		x["rate_limited_"+name] = float64(st.RateLimited)
	}
	ph.end()

	ph = startPhase(x, "reconcile")
	// The nightly report of the day the file was received, as an operator
	// runs it the morning after (payrun report --date DAY): "today" would
	// leave out a night that crossed midnight in the configured time zone.
	loc := cfg.Location()
	scope := reconcile.Scope{Date: res.Batch.Created.In(loc).Format("2006-01-02"), Open: true}
	mo := reconcile.MatchOptions{Location: loc, SLA: cfg.Reconcile.SLA}
	mres, err := reconcile.MatchLines(ctx, j, scope, j.Now(), mo, nil)
	if err != nil {
		return Side{}, err
	}
	if mres.LineCount < n {
		return Side{}, fmt.Errorf("reconcile: %d lines for the night's %d valid rows (scope %s)", mres.LineCount, n, scope)
	}
	if !mres.Balanced() {
		return Side{}, errors.New("reconcile: the tie-out does not balance")
	}
	ph.end()

	ph = startPhase(x, "report")
	files, err := app.Report(ctx, cfg, j, scope, cfg.Abs(cfg.Dirs.Reports), false, io.Discard)
	if err != nil {
		return Side{}, err
	}
	if !files.Balanced {
		return Side{}, errors.New("report: the tie-out does not balance")
	}
	ph.end()
	x["night_s"] = time.Since(nightStart).Seconds()
	x["night_cpu_s"] = (cpuTime() - nightCPU).Seconds()
	stop()

	// What became of every payout, and when the last result came (not
	// timed).
	var last time.Time
	states := map[journal.State]int{}
	polls, waiting := 0, 0
	if err := j.BatchItems(ctx, id, func(it journal.Item) bool {
		states[it.State]++
		polls += it.Polls
		if !it.State.Final() && !reconcile.NeedsPayrun(it, a.Providers, time.Now()) {
			// Waiting for a notification only the provider can send (a
			// Monnet payout whose Id payrun never learned): the fault
			// that lost its webhook keeps it open.
			waiting++
		}
		if it.State.Final() && it.Updated.After(last) {
			last = it.Updated
		}
		return true
	}); err != nil {
		return Side{}, err
	}
	x["last_result_unix"] = float64(last.UnixNano()) / 1e9
	x["polls_journal"] = float64(polls)
	x["waiting_notification"] = float64(waiting)
	for s, c := range states {
		x["state_"+string(s)] = float64(c)
	}
	info, err := j.Info(ctx)
	if err != nil {
		return Side{}, err
	}
	if err := j.Close(); err != nil {
		return Side{}, err
	}
	closed = true
	x["journal_bytes"] = float64(info.Bytes)
	if st, err := os.Stat(cfg.Abs(cfg.Journal)); err == nil {
		x["journal_bytes"] = float64(st.Size())
		// What the file takes on the disk: bbolt grows it ahead of its
		// pages, and the part not written yet takes no blocks.
		x["journal_disk"] = float64(diskUsage(st))
	}
	buckets, err := nightJournal(cfg.Abs(cfg.Journal))
	if err != nil {
		return Side{}, err
	}
	for k, v := range buckets {
		x[k] = v
	}
	return Side{Elapsed: time.Duration(x["night_s"] * float64(time.Second)), Items: n, Extra: x}, nil
}

// waitSettled waits until no payout of the batch needs payrun any more
// (reconcile.NeedsPayrun), or wait has passed, and returns how many still
// do. It counts from the journal's open index, reading items only once
// few are left.
func waitSettled(ctx context.Context, j journal.Journal, provs map[string]providers.Provider, id string, wait time.Duration) (int, error) {
	deadline, say := time.Now().Add(wait), time.Now().Add(progressEvery)
	for {
		open := 0
		if err := j.OpenStates(ctx, func(_ string, s journal.State) bool {
			if s != journal.AwaitingBeneficiary && s != journal.Held {
				open++
			}
			return true
		}); err != nil {
			return 0, err
		}
		if open < 1000 {
			n := 0
			if err := j.OpenItems(ctx, func(it journal.Item) bool {
				if it.BatchID == id && reconcile.NeedsPayrun(it, provs, time.Now()) {
					n++
				}
				return true
			}); err != nil || n == 0 {
				return n, err
			}
			open = n
		}
		if time.Now().After(deadline) {
			return open, nil
		}
		if time.Now().After(say) {
			say = time.Now().Add(progressEvery)
			nightSay("pay: %d payouts still open", open)
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return open, ctx.Err()
		case <-t.C:
		}
	}
}

package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"github.com/payrun/payrun/providers/sandboxes"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/providers/teemopay"
)

// teemoSandbox is an in-process TeemoPay sandbox behind a handler of ours
// that notes when each create request arrived, and a client pointed at it.
type teemoSandbox struct {
	land *sandboxes.Landscape
	srv  *http.Server
	tr   *http.Transport
	Prov providers.Provider

	mu       sync.Mutex
	arrivals []time.Time
}

// startTeemo starts the sandbox (payouts stay processing for an hour, so
// no settlement or callback work runs beside the measurement) and a client
// with an idle pool as wide as the concurrency.
func startTeemo(dir string) (*teemoSandbox, error) {
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: time.Hour, Only: []string{teemopay.Name}})
	if err != nil {
		return nil, err
	}
	ts := &teemoSandbox{land: land}
	sb := land.Sandboxes[teemopay.Name]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		land.Close()
		return nil, err
	}
	ts.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == teemopay.PathCreate {
			now := time.Now()
			ts.mu.Lock()
			ts.arrivals = append(ts.arrivals, now)
			ts.mu.Unlock()
		}
		sb.ServeHTTP(w, r)
	})}
	go func() { _ = ts.srv.Serve(ln) }()
	cfg := land.Configs[teemopay.Name]
	cfg.BaseURL = "http://" + ln.Addr().String()
	ts.tr = &http.Transport{MaxIdleConns: 4 * Concurrency, MaxIdleConnsPerHost: 4 * Concurrency, IdleConnTimeout: time.Minute}
	reg, err := providers.Lookup(all.Registrations(), teemopay.Name)
	if err == nil {
		ts.Prov, err = reg.New(cfg, providers.Deps{HTTP: &http.Client{Transport: ts.tr, Timeout: 30 * time.Second}})
	}
	if err != nil {
		ts.Close()
		return nil, err
	}
	return ts, nil
}

// Kit returns the sandbox's fault knobs.
func (ts *teemoSandbox) Kit() *sandboxkit.Kit { return ts.land.Kit(teemopay.Name) }

// MaxPerSecond is the most create requests that arrived within any one
// second (a sliding window, stricter than calendar seconds).
func (ts *teemoSandbox) MaxPerSecond() int {
	ts.mu.Lock()
	t := slices.Clone(ts.arrivals)
	ts.mu.Unlock()
	slices.SortFunc(t, func(a, b time.Time) int { return a.Compare(b) })
	best, lo := 0, 0
	for hi := range t {
		for t[hi].Sub(t[lo]) >= time.Second {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// MaxPerCalendarSecond is the most create requests that arrived within one
// wall-clock second (hh:mm:ss).
func (ts *teemoSandbox) MaxPerCalendarSecond() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	per := map[int64]int{}
	best := 0
	for _, t := range ts.arrivals {
		k := t.Unix()
		per[k]++
		best = max(best, per[k])
	}
	return best
}

func (ts *teemoSandbox) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ts.srv.Shutdown(ctx)
	if ts.tr != nil {
		ts.tr.CloseIdleConnections()
	}
	ts.land.Close()
}

// teemoItems returns n TeemoPay items in state whose payout_ids start
// with prefix.
func teemoItems(prefix string, n int, state journal.State) ([]journal.Item, error) {
	out := make([]journal.Item, n)
	for i := range n {
		r := teemoRow(prefix, i)
		p, prov, err := r.Payout()
		if err != nil {
			return nil, err
		}
		out[i] = journal.Item{PayoutID: p.ID, Row: r.Number, Provider: prov, Payout: p, State: state}
	}
	return out, nil
}

// dispatchOptions are the configuration defaults of payrun (config.go)
// with one pool for TeemoPay.
func dispatchOptions(pc dispatch.PoolConfig) dispatch.DispatchOptions {
	return dispatch.DispatchOptions{Pools: map[string]dispatch.PoolConfig{teemopay.Name: pc}, MaxAttempts: 8,
		BackoffBase: 200 * time.Millisecond, BackoffMax: 30 * time.Second, BreakerFailures: 10, BreakerCooldown: 30 * time.Second}
}

// dispatched is what one timed dispatcher run did and cost.
type dispatched struct {
	Elapsed, CPU time.Duration
	Sum          dispatch.Summary
	Stats        dispatch.PoolStats
}

// dispatchRun journals n TeemoPay payouts as a batch (not timed) and times
// the dispatcher sending them: sending committed before each request, the
// request, its answer committed (fsync'd group commits). The items are
// journaled already queued, as an interrupted run leaves them, so the
// timed run is the sending alone.
func dispatchRun(ctx context.Context, ts *teemoSandbox, j journal.Journal, prefix string, n int, pc dispatch.PoolConfig) (dispatched, error) {
	items, err := teemoItems(prefix, n, journal.Queued)
	if err != nil {
		return dispatched{}, err
	}
	const id = "B-bench-dispatch"
	if err := j.Import(ctx, journal.Batch{ID: id, File: "dispatch.csv", Rows: n, Valid: n}, items); err != nil {
		return dispatched{}, err
	}
	d := dispatch.NewDispatcher(j, map[string]providers.Provider{teemopay.Name: ts.Prov}, dispatchOptions(pc))
	start, cpu := time.Now(), cpuTime()
	sum, err := d.Run(ctx, []string{id}, nil)
	return dispatched{Elapsed: time.Since(start), CPU: cpuTime() - cpu, Sum: sum, Stats: d.PoolStats()[teemopay.Name]}, err
}

// DispatchOurs times the dispatcher sending n payouts to an unthrottled
// TeemoPay sandbox with Concurrency requests in flight, over a fresh
// bbolt journal under dir.
func DispatchOurs(ctx context.Context, dir string, n int) (Side, error) {
	j, err := boltjournal.Open(filepath.Join(dir, "journal.db"), boltjournal.Options{})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	return dispatchOn(ctx, dir, j, n)
}

// dispatchOn is DispatchOurs over the journal j (empty).
func dispatchOn(ctx context.Context, dir string, j journal.Journal, n int) (Side, error) {
	ts, err := startTeemo(dir)
	if err != nil {
		return Side{}, err
	}
	defer ts.Close()
	run, err := dispatchRun(ctx, ts, j, "D", n, dispatch.PoolConfig{Concurrency: Concurrency})
	if err != nil {
		return Side{}, err
	}
	if got := run.Sum.ByState[journal.Submitted]; got != n {
		return Side{}, fmt.Errorf("dispatch: %d of %d submitted (%v)", got, n, run.Sum.ByState)
	}
	return Side{Elapsed: run.Elapsed, Items: n, CPU: run.CPU}, nil
}

// DispatchBaseline sends the same signed create requests with the TeemoPay
// client itself from Concurrency goroutines: no journal, no pool, no
// retries.
func DispatchBaseline(ctx context.Context, dir string, n int) (Side, error) {
	ts, err := startTeemo(dir)
	if err != nil {
		return Side{}, err
	}
	defer ts.Close()
	items, err := teemoItems("X", n, journal.Accepted)
	if err != nil {
		return Side{}, err
	}
	start, cpu := time.Now(), cpuTime()
	sent, err := bareLoop(ctx, ts.Prov, items)
	elapsed, cpu := time.Since(start), cpuTime()-cpu
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: elapsed, Items: sent, CPU: cpu}, nil
}

// bareLoop submits every item from Concurrency goroutines.
func bareLoop(ctx context.Context, p providers.Provider, items []journal.Item) (int, error) {
	var sent atomic.Int64
	var firstErr error
	var once sync.Once
	// each stops only on ctx's end.
	err := each(len(items), Concurrency, func(i int) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := p.Submit(ctx, items[i].Payout); err != nil {
			once.Do(func() { firstErr = err }) // keep going: the loop counts what it sent
			return nil
		}
		sent.Add(1)
		return nil
	})
	if err != nil {
		return int(sent.Load()), err
	}
	if firstErr != nil {
		return int(sent.Load()), fmt.Errorf("bare loop: %w", firstErr)
	}
	return int(sent.Load()), nil
}

// RateRun dispatches n payouts through a pool configured at RateLimit/s
// (burst RateBurst) and reports the elapsed time and, in Extra, the most
// requests the sandbox saw in any one second and what became of the
// items. With refuseAbove > 0 the sandbox answers 429 above that many
// requests per second while the configuration still says RateLimit.
func RateRun(ctx context.Context, dir string, n, refuseAbove int) (Side, error) {
	ts, err := startTeemo(dir)
	if err != nil {
		return Side{}, err
	}
	defer ts.Close()
	if refuseAbove > 0 {
		ts.Kit().SetFaults(sandboxkit.Faults{RateLimitPerSecond: refuseAbove})
	}
	j, err := boltjournal.Open(filepath.Join(dir, "journal.db"), boltjournal.Options{})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	run, err := dispatchRun(ctx, ts, j, "R", n,
		dispatch.PoolConfig{RatePerSecond: RateLimit, Burst: RateBurst, Concurrency: Concurrency})
	if err != nil && !errors.Is(err, context.Canceled) {
		return Side{}, err
	}
	sum := run.Sum
	sent := sum.ByState[journal.Submitted] + sum.ByState[journal.Succeeded]
	return Side{Elapsed: run.Elapsed, Items: sent, Extra: map[string]float64{
		"sent":           float64(sent),
		"failed":         float64(sum.ByState[journal.Failed]),
		"left":           float64(sum.Left),
		"in_doubt":       float64(sum.InDoubt),
		"rate_limited":   float64(run.Stats.RateLimited),
		"max_per_second": float64(ts.MaxPerSecond()),
		"max_calendar":   float64(ts.MaxPerCalendarSecond()),
	}}, err
}

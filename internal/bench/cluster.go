package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/providers/teemopay"
)

// ClusterRun is what one run of ClusterRate measured.
type ClusterRun struct {
	Nodes, Items, RefuseAbove int
	// Elapsed is from the nodes' start to the last one's end; Ideal is
	// what the rate allows (the configured one, or the provider's limit).
	Elapsed, Ideal time.Duration
	// MaxPerSecond is the most requests the sandbox saw in any one-second
	// window, MaxCalendar in any clock second.
	MaxPerSecond, MaxCalendar   int
	Sent, Failed, Left, InDoubt int
	// Refused counts the provider's refusals (429), Rate the cluster's rate
	// in force at the end.
	Refused int64
	Rate    float64
	// First and Last are when the first and the last request arrived,
	// from the start; PerSecond counts the arrivals of each second from
	// the start.
	First, Last time.Duration
	PerSecond   []int
}

// String is the run as one line of figures.
func (r ClusterRun) String() string {
	s := fmt.Sprintf("%d node(s), %d payouts, %d/s configured", r.Nodes, r.Items, RateLimit)
	if r.RefuseAbove > 0 {
		s += fmt.Sprintf(", sandbox refuses above %d/s", r.RefuseAbove)
	}
	return s + fmt.Sprintf(": %.3f s (ideal %.1f s, %.3fx, %+.1f%%; first request at %.3f s, last at %.3f s); max %d requests in a clock second, %d in any sliding second; %d sent, %d failed, %d left, %d in doubt; %d refused; rate in force at the end %.1f/s",
		r.Elapsed.Seconds(), r.Ideal.Seconds(), r.Elapsed.Seconds()/r.Ideal.Seconds(), 100*(r.Elapsed.Seconds()/r.Ideal.Seconds()-1),
		r.First.Seconds(), r.Last.Seconds(), r.MaxCalendar, r.MaxPerSecond, r.Sent, r.Failed, r.Left, r.InDoubt, r.Refused, r.Rate)
}

// ClusterRate sends n TeemoPay payouts through nodes dispatchers, each
// with a journal of its own on the PostgreSQL database at dsn (one
// cluster), configured at RateLimit/s (burst RateBurst) and Concurrency
// requests in flight for the cluster, all started at once, and times them
// until every payout is sent. With refuseAbove > 0 the sandbox answers 429
// above that many requests per clock second. The items of each run are
// its own (prefix); the provider's budget starts afresh.
func ClusterRate(ctx context.Context, dir, dsn, prefix string, nodes, n, refuseAbove int) (ClusterRun, error) {
	run := ClusterRun{Nodes: nodes, Items: n, RefuseAbove: refuseAbove}
	ts, err := startTeemo(dir)
	if err != nil {
		return run, err
	}
	defer ts.Close()
	if refuseAbove > 0 {
		ts.Kit().SetFaults(sandboxkit.Faults{RateLimitPerSecond: refuseAbove})
	}
	js := make([]*pgjournal.Journal, nodes)
	for i := range nodes {
		// Pools of 8 (a node commits some 150 times a second, a few
		// milliseconds each): three nodes' stay well within the server's
		// default of 100 connections beside another package's tests.
		j, err := pgjournal.Open(ctx, dsn, pgjournal.Options{MaxConns: 8, Node: journal.NodeOptions{Name: fmt.Sprintf("bench-%d", i+1), Role: "bench"}})
		if err != nil {
			return run, err
		}
		defer j.Close()
		js[i] = j
	}
	if err := resetBudget(ctx, dsn, teemopay.Name); err != nil {
		return run, err
	}
	items, err := teemoItems(prefix, n, journal.Queued)
	if err != nil {
		return run, err
	}
	id := "B-bench-cluster-" + prefix
	if err := js[0].Import(ctx, journal.Batch{ID: id, File: "cluster.csv", Rows: n, Valid: n}, items); err != nil {
		return run, err
	}
	ds := make([]*dispatch.Dispatcher, nodes)
	for i, j := range js {
		ds[i] = dispatch.NewDispatcher(j, map[string]providers.Provider{teemopay.Name: ts.Prov},
			dispatchOptions(dispatch.PoolConfig{RatePerSecond: RateLimit, Burst: RateBurst, Concurrency: Concurrency}))
	}
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	start := time.Now()
	for i, d := range ds {
		wg.Go(func() { _, errs[i] = d.Run(ctx, []string{id}, nil) })
	}
	wg.Wait()
	run.Elapsed = time.Since(start)
	for _, err := range errs {
		if err != nil {
			return run, err
		}
	}
	rate := float64(RateLimit)
	if refuseAbove > 0 {
		rate = min(rate, float64(refuseAbove))
	}
	run.Ideal = time.Duration(float64(n) / rate * float64(time.Second))
	run.MaxPerSecond, run.MaxCalendar = ts.MaxPerSecond(), ts.MaxPerCalendarSecond()
	ts.mu.Lock()
	run.PerSecond = make([]int, int(run.Elapsed/time.Second)+1)
	for _, a := range ts.arrivals {
		if i := int(a.Sub(start) / time.Second); i >= 0 && i < len(run.PerSecond) {
			run.PerSecond[i]++
		}
	}
	for _, a := range ts.arrivals {
		if d := a.Sub(start); run.First == 0 || d < run.First {
			run.First = d
		}
		run.Last = max(run.Last, a.Sub(start))
	}
	ts.mu.Unlock()
	err = js[0].BatchItems(ctx, id, func(it journal.Item) bool {
		switch it.State {
		case journal.Submitted, journal.Succeeded:
			run.Sent++
		case journal.Failed:
			run.Failed++
		case journal.Queued, journal.Accepted:
			run.Left++
		case journal.InDoubt:
			run.InDoubt++
		}
		return true
	})
	if err != nil {
		return run, err
	}
	bs, err := js[0].Budgets(ctx)
	for _, b := range bs {
		if b.Provider == teemopay.Name {
			run.Refused, run.Rate = b.Refused, b.Rate
		}
	}
	return run, err
}

// resetBudget forgets what the cluster learned of a provider.
func resetBudget(ctx context.Context, dsn, provider string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, `DELETE FROM payrun_budgets WHERE provider = $1`, provider)
	return err
}

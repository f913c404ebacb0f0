package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/teemopay"
	"github.com/payrun/payrun/reconcile"
)

// The PostgreSQL stages: each takes the URL of an empty database that the
// caller made (and drops), so that ours and the baseline start alike.

// IngestPostgres ingests a payout file into a new PostgreSQL journal at
// dsn with Journal.Ingest: read, validate and journal in 5,000-row (journal.IngestChunk)
// transactions (owners in one query, new items through COPY).
func IngestPostgres(ctx context.Context, path, dsn string) (Side, error) {
	j, err := pgjournal.Open(ctx, dsn, pgjournal.Options{})
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	start, cpu := time.Now(), cpuTime()
	res, err := j.Ingest(ctx, path, journal.IngestOptions{})
	elapsed, cpu := time.Since(start), cpuTime()-cpu
	if err != nil {
		return Side{}, err
	}
	if res.Rejected {
		return Side{}, fmt.Errorf("generated file rejected: %d errors", len(res.Report.Errors))
	}
	return Side{Elapsed: elapsed, Items: res.Batch.Valid, CPU: cpu}, nil
}

// bareItems is the baseline's table: the shape of payrun_items (the same
// columns, key, row index and open index), with the row's cells as its
// JSON.
const bareItems = `CREATE TABLE bare_items (
	payout_id text PRIMARY KEY,
	batch_id  text NOT NULL,
	"row"     integer NOT NULL,
	provider  text NOT NULL,
	state     text NOT NULL,
	item      json NOT NULL
);
CREATE UNIQUE INDEX bare_items_batch_row ON bare_items (batch_id, "row");
CREATE INDEX bare_items_open ON bare_items (payout_id) INCLUDE (state) WHERE state NOT IN ('succeeded', 'failed')`

// IngestCopyBaseline is the least the same job needs on PostgreSQL: the
// file read with the bare reader, each record's cells as JSON, and one
// COPY of every row into a table of payrun_items's shape, committed once.
// No validation, no duplicate check, no staging.
func IngestCopyBaseline(ctx context.Context, path, dsn string) (Side, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return Side{}, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, bareItems); err != nil {
		return Side{}, err
	}
	start, cpu := time.Now(), cpuTime()
	next, closeFn, err := rawRows(path)
	if err != nil {
		return Side{}, err
	}
	defer closeFn()
	if _, err := next(); err != nil { // the header
		return Side{}, err
	}
	now := time.Now().UTC()
	n := 0
	var readErr error
	src := &copyIter{next: func() ([]any, bool) {
		rec, err := next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			return nil, false
		}
		n++
		r := baseRecord{BatchID: "B-baseline", Row: n + 1, State: "accepted", Created: now}
		r.fill(rec)
		raw, err := json.Marshal(&r)
		if err != nil {
			readErr = err
			return nil, false
		}
		return []any{r.PayoutID, r.BatchID, r.Row, r.Provider, r.State, raw}, true
	}}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"bare_items"}, []string{"payout_id", "batch_id", "row", "provider", "state", "item"}, src)
	if err == nil {
		err = readErr
	}
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: n, CPU: cpuTime() - cpu}, nil
}

// copyIter is a pgx.CopyFromSource over a function.
type copyIter struct {
	next func() ([]any, bool)
	row  []any
}

func (c *copyIter) Next() bool {
	var ok bool
	c.row, ok = c.next()
	return ok
}

func (c *copyIter) Values() ([]any, error) { return c.row, nil }
func (c *copyIter) Err() error             { return nil }

// WebhookPoolConns is the connection pool of both webhook sides on
// PostgreSQL: the journal's default (a daemon's), fewer than the
// deliveries in flight, and few enough that a server's default
// max_connections (100) has room for other clients beside the bench.
const WebhookPoolConns = 32

// WebhookResult is one webhook storm on a journal: the verified webhooks
// acknowledged a second, and the acknowledgement's latency.
type WebhookResult struct {
	Side
	P50, P99, Max time.Duration
}

// WebhookPostgres delivers n signed TeemoPay callbacks, width at a time,
// to payrun's receiver over a new PostgreSQL journal at dsn: each is
// verified, persisted (committed) and acknowledged; the receiver's
// applier applies them meanwhile. Only the deliveries are timed; every
// payout must be paid in the journal afterwards.
func WebhookPostgres(ctx context.Context, dir, dsn string, n, width int) (WebhookResult, error) {
	at := time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC)
	prov, items, hooks, err := webhookSetup(dir, n, at)
	if err != nil {
		return WebhookResult{}, err
	}
	j, err := pgjournal.Open(ctx, dsn, pgjournal.Options{Now: func() time.Time { return at }, MaxConns: WebhookPoolConns})
	if err != nil {
		return WebhookResult{}, err
	}
	defer j.Close()
	if err := j.Import(ctx, journal.Batch{ID: webhookBatch, File: "webhooks.csv", Rows: n, Valid: n}, items); err != nil {
		return WebhookResult{}, err
	}
	rc := reconcile.NewReceiver(j, map[string]providers.Provider{teemopay.Name: prov},
		reconcile.ReceiverOptions{Now: func() time.Time { return at }})
	if err := rc.Start(ctx); err != nil {
		return WebhookResult{}, err
	}
	defer rc.Stop()
	// The pool's connections are opened before the storm, as a running
	// daemon's are.
	var warm sync.WaitGroup
	for range width {
		warm.Go(func() { _, _ = j.Queued(ctx) })
	}
	warm.Wait()
	runtime.GC()
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	start, cpu := time.Now(), cpuTime()
	var wg sync.WaitGroup
	for range width {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				var rec ackRecorder
				rc.ServeHTTP(&rec, hooks[i].request())
				lat[i] = time.Since(t0)
				if rec.code != http.StatusOK || strings.TrimSpace(string(rec.body)) != teemopay.AckBody {
					errOnce.Do(func() { firstErr = fmt.Errorf("webhook %d: %d %q", i, rec.code, rec.body) })
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu
	if firstErr != nil {
		return WebhookResult{}, firstErr
	}
	drainStart, drainCPU := time.Now(), cpuTime()
	if err := rc.Drain(ctx); err != nil {
		return WebhookResult{}, err
	}
	drained, drainCPU := time.Since(drainStart), cpuTime()-drainCPU
	paid := 0
	if err := j.BatchItems(ctx, webhookBatch, func(it journal.Item) bool {
		if it.State == journal.Succeeded {
			paid++
		}
		return true
	}); err != nil {
		return WebhookResult{}, err
	}
	if paid != n {
		return WebhookResult{}, fmt.Errorf("webhooks: %d of %d payouts succeeded in the journal", paid, n)
	}
	slices.Sort(lat)
	return WebhookResult{Side: Side{Elapsed: elapsed, Items: n, CPU: cpu, Tail: drained, TailCPU: drainCPU},
		P50: lat[n/2], P99: lat[n*99/100], Max: lat[n-1]}, nil
}

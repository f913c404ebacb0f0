package pgjournal

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/payrun/payrun/journal"
)

// Options configure Open.
type Options struct {
	// Now is the clock (nil: time.Now). The journal keeps microseconds,
	// as PostgreSQL does: Now truncates it.
	Now func() time.Time
	// ReadOnly opens without migrating or cleaning up; every write fails
	// with journal.ErrReadOnly.
	ReadOnly bool
	// MaxConns bounds the pool (default 32, or the URL's pool_max_conns):
	// webhook deliveries and dispatch workers each hold a connection for a
	// transaction, and the server syncs the commits of concurrent
	// transactions together.
	MaxConns int32
	// Node says how this process takes part in the cluster of processes
	// sharing the database (cluster.go); a writable journal always does.
	Node journal.NodeOptions
}

// defaultMaxConns is the pool's size when neither Options nor the URL say,
// defaultMinConns the connections it keeps open.
const (
	defaultMaxConns = 32
	defaultMinConns = 4
	// coordConns is the coordination pool's size: the heartbeat, a claim
	// per provider and a reservation per provider at once.
	coordConns = 4
)

// Journal is the PostgreSQL driver of journal.Journal.
type Journal struct {
	pool    *pgxpool.Pool
	persist *persister // nil when read-only
	member  *member    // nil when read-only
	// coord is a small pool of its own for the cluster's coordination
	// (leases, claims, the rate budget): the commits of a busy run never
	// delay a renewal or a reservation (nil when read-only).
	coord    *pgxpool.Pool
	location string
	now      func() time.Time
	ro       bool

	// ingestMu runs one Ingest of this process at a time; other processes'
	// ingests are told apart by their advisory locks (staging.go).
	ingestMu sync.Mutex
	mu       sync.Mutex
	closed   bool
	// stagings are the staging sessions of this process still holding a
	// batch's lock: an ingest that failed without cleaning up leaves one.
	stagings map[*staging]struct{}
}

var (
	_ journal.Journal = (*Journal)(nil)
	_ journal.Stager  = (*Journal)(nil)
)

// Open connects to the database at dsn (a postgres:// URL or a libpq
// connection string), applies the migrations this payrun carries (refusing
// a database whose schema is newer, with journal.ErrSchema), and removes
// batches a crashed ingest left staging, unless another process is
// ingesting them right now.
func Open(ctx context.Context, dsn string, o Options) (*Journal, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may repeat the DSN, password included.
		return nil, fmt.Errorf("journal %s: not a PostgreSQL connection string", journal.Redact(dsn))
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	} else if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if !strings.Contains(dsn, "pool_min_conns") && !o.ReadOnly {
		// A few connections stay open: a busy server takes long to start
		// one, and the first claims and answers of a run need them at once.
		cfg.MinConns = min(defaultMinConns, cfg.MaxConns)
	}
	if o.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	j := &Journal{location: journal.Redact(dsn), now: now, ro: o.ReadOnly, stagings: map[*staging]struct{}{}}
	j.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, j.wrap(err)
	}
	fail := func(err error) (*Journal, error) {
		j.pool.Close()
		if errors.Is(err, journal.ErrSchema) {
			return nil, err
		}
		return nil, j.wrap(err)
	}
	if err := j.pool.Ping(ctx); err != nil {
		return fail(err)
	}
	if o.ReadOnly {
		if err := j.checkSchema(ctx); err != nil {
			return fail(err)
		}
		return j, nil
	}
	if err := migrate(ctx, j.pool, j.location); err != nil {
		return fail(err)
	}
	if err := j.DropStaging(ctx); err != nil {
		return fail(err)
	}
	ccfg := cfg.Copy()
	ccfg.MaxConns, ccfg.MinConns = coordConns, min(2, coordConns)
	if j.coord, err = pgxpool.NewWithConfig(ctx, ccfg); err != nil {
		return fail(err)
	}
	j.member = newMember(o.Node)
	if err := j.join(ctx); err != nil {
		j.coord.Close()
		return fail(err)
	}
	go j.heartbeat()
	j.persist = newPersister(j.pool)
	return j, nil
}

// wrap names the database in an error.
func (j *Journal) wrap(err error) error {
	return fmt.Errorf("journal %s: %w", j.location, err)
}

// Now returns the journal's clock, to the microsecond.
func (j *Journal) Now() time.Time { return j.now().Truncate(time.Microsecond) }

// Close waits for an Ingest in progress (cancel its context to stop it
// sooner), releases the staging sessions this process left, and closes
// the pool once every transaction in progress has ended.
func (j *Journal) Close() error {
	j.ingestMu.Lock()
	defer j.ingestMu.Unlock()
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	left := j.stagings
	j.stagings = nil
	j.mu.Unlock()
	for s := range left {
		s.close()
	}
	if j.persist != nil {
		j.persist.close()
	}
	if j.member != nil {
		j.leave()
	}
	if j.coord != nil {
		j.coord.Close()
	}
	j.pool.Close()
	return nil
}

// writable refuses writes to a closed or read-only journal.
func (j *Journal) writable() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return journal.ErrClosed
	}
	if j.ro {
		return journal.ErrReadOnly
	}
	return nil
}

// maxRetries bounds how often a write runs again after PostgreSQL broke a
// deadlock by aborting it (two transactions locking the same items in
// different orders, as Apply and ApplyQueued may).
const maxRetries = 5

// write runs fn in a transaction of its own at READ COMMITTED and commits
// it. fn runs again, whole, when the server aborted the transaction to
// break a deadlock or a serialization failure: a journal write must be
// deterministic, as the contract says (Change.Update, SetBatch's fn).
func (j *Journal) write(ctx context.Context, fn func(pgx.Tx) error) error {
	if err := j.writable(); err != nil {
		return err
	}
	for try := 0; ; try++ {
		err := pgx.BeginFunc(ctx, j.pool, fn)
		if try < maxRetries && retryable(err) {
			continue
		}
		return err
	}
}

// retryable reports a transaction the server aborted that succeeds when
// run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// isUnique reports a unique violation of the named constraint ("" for any).
func isUnique(err error, constraint string) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint) {
		return pe, true
	}
	return nil, false
}

// Advisory locks payrun takes, in its own class (the first key): the
// second key is lockMigrate, lockApplier, or a staging batch's hash.
const (
	lockClass   = 0x7061_7972 // "payr"
	lockMigrate = 1
	lockApplier = 2
)

// batchLock is the advisory lock key of a staging batch. Two ids may share
// a key: the cost is a leftover kept until the other ingest ends.
func batchLock(id string) int32 {
	h := fnv.New32a()
	h.Write([]byte("batch:" + id))
	return int32(h.Sum32())
}

// Info describes the database: its redacted location and what payrun's
// tables and their indexes take on disk.
func (j *Journal) Info(ctx context.Context) (journal.Info, error) {
	inf := journal.Info{Driver: "postgres", Location: j.location, Shared: true}
	err := j.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE 'payrun\_%' AND pg_table_is_visible(c.oid)`).Scan(&inf.Bytes)
	return inf, err
}

// Mark returns a bookkeeping value (schedule last runs).
func (j *Journal) Mark(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := j.pool.QueryRow(ctx, `SELECT value FROM payrun_marks WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil && v != "", err
}

// SetMark stores a bookkeeping value. One statement: the last writer wins,
// as a schedule's last run should.
func (j *Journal) SetMark(ctx context.Context, key, value string) error {
	return j.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO payrun_marks (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
		return err
	})
}

// ListMarks calls fn for every mark, in key order.
func (j *Journal) ListMarks(ctx context.Context, fn func(key, value string) bool) error {
	rows, err := j.pool.Query(ctx, `SELECT key, value FROM payrun_marks ORDER BY key`)
	if err != nil {
		return err
	}
	var k, v string
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error {
		if !fn(k, v) {
			return errStop
		}
		return nil
	})
	return stopped(err)
}

// errStop ends an iteration early when a caller's fn returns false.
var errStop = errors.New("stop")

// stopped is err without the early end a caller asked for.
func stopped(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

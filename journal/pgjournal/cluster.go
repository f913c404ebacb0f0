package pgjournal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
)

// The cluster: every writable Journal is a node of the database's cluster
// (journal.Cluster). Open joins (a row in payrun_nodes with a lease by the
// server's clock); a goroutine renews the lease every third of it; Close
// leaves. A renewal succeeds only while the lease has not lapsed, and a
// takeover only once it has lapsed by the node's grace: the two can never
// both happen, so a node that lost its lease joins again under a new id,
// and what its old id held is taken over through the in-doubt path.

var _ journal.Cluster = (*Journal)(nil)

// Lease defaults.
const (
	defaultLease = 15 * time.Second
	defaultGrace = 30 * time.Second
)

// member is this process as a node.
type member struct {
	o       journal.NodeOptions
	host    string
	hostKey string
	pid     int

	mu    sync.Mutex
	lease journal.Lease
	leads map[string]journal.Leadership

	stop chan struct{}
	done chan struct{}
}

func newMember(o journal.NodeOptions) *member {
	host, _ := os.Hostname()
	if o.Name == "" {
		o.Name = host
	}
	if o.Role == "" {
		o.Role = "payrun"
	}
	if o.Lease <= 0 {
		o.Lease = defaultLease
	}
	if o.Grace <= 0 {
		o.Grace = defaultGrace
	}
	return &member{o: o, host: host, hostKey: hostKey(host), pid: os.Getpid(), leads: map[string]journal.Leadership{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// hostKey tells this machine (and process-id namespace) apart from
// others of the same name.
func hostKey(host string) string {
	key := host
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		key += "/" + strings.TrimSpace(string(b))
	}
	if ns, err := os.Readlink("/proc/self/ns/pid"); err == nil {
		key += "/" + ns
	}
	return key
}

// margin is how much sooner than the store's end of a lease the node
// itself stops: a request decided at the last moment still starts before
// the lease ends.
func (m *member) margin(d time.Duration) time.Duration { return d / 10 }

// Lease returns this node's lease as it stands.
func (j *Journal) Lease() journal.Lease {
	if j.member == nil {
		return journal.Lease{}
	}
	j.member.mu.Lock()
	defer j.member.mu.Unlock()
	return j.member.lease
}

func (m *member) set(l journal.Lease) {
	m.mu.Lock()
	m.lease = l
	m.mu.Unlock()
}

// join inserts a node row for a new run of this process.
func (j *Journal) join(ctx context.Context) error {
	m := j.member
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := m.o.Name + "#" + hex.EncodeToString(b[:])
	version := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
	}
	sent := time.Now()
	_, err := j.coord.Exec(ctx, `INSERT INTO payrun_nodes (id, name, host, host_key, pid, role, addr, version, started, renewed, lease_until, grace)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp(), clock_timestamp(), clock_timestamp() + $9::interval, $10::interval)`,
		id, m.o.Name, m.host, m.hostKey, m.pid, m.o.Role, m.o.Addr, version, m.o.Lease, m.o.Grace)
	if err != nil {
		m.mu.Lock()
		m.lease.Err = err
		m.mu.Unlock()
		return err
	}
	m.set(journal.Lease{Node: id, Until: sent.Add(m.o.Lease - m.margin(m.o.Lease))})
	return nil
}

// renew extends the lease, or joins again when it lapsed.
func (j *Journal) renew(ctx context.Context) {
	m := j.member
	l := j.Lease()
	if l.Node == "" {
		_ = j.join(ctx)
		return
	}
	sent := time.Now()
	ct, err := j.coord.Exec(ctx, `UPDATE payrun_nodes SET renewed = clock_timestamp(), lease_until = clock_timestamp() + $2::interval
		WHERE id = $1 AND lease_until > clock_timestamp()`, l.Node, m.o.Lease)
	switch {
	case err != nil:
		l.Err = err
		m.set(l)
	case ct.RowsAffected() == 0:
		// Lapsed (or removed after lapsing): what this run held is
		// another node's to take over. Join again as a new run.
		m.mu.Lock()
		m.lease = journal.Lease{Err: journal.ErrLeaseLost}
		m.leads = map[string]journal.Leadership{}
		m.mu.Unlock()
		_ = j.join(ctx)
	default:
		m.set(journal.Lease{Node: l.Node, Until: sent.Add(m.o.Lease - m.margin(m.o.Lease))})
	}
}

// heartbeat renews the lease every third of it (every tenth while the
// database does not answer) until Close.
func (j *Journal) heartbeat() {
	m := j.member
	defer close(m.done)
	every := m.o.Lease / 3
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		j.renew(ctx)
		cancel()
		next := every
		if j.Lease().Err != nil {
			next = max(m.o.Lease/10, 10*time.Millisecond)
		}
		t.Reset(next)
	}
}

// leave stops the heartbeat and removes this node: what it still holds is
// taken over at once (it will send nothing more).
func (j *Journal) leave() {
	m := j.member
	close(m.stop)
	<-m.done
	l := j.Lease()
	if l.Node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = j.coord.Exec(ctx, `DELETE FROM payrun_leaders WHERE node = $1`, l.Node)
	_, _ = j.coord.Exec(ctx, `DELETE FROM payrun_nodes WHERE id = $1`, l.Node)
	m.set(journal.Lease{})
}

// gone returns the earlier runs of this node on this machine whose
// process is no longer there: their items need not wait for their lease.
func (j *Journal) gone(ctx context.Context) ([]string, error) {
	m := j.member
	rows, err := j.coord.Query(ctx, `SELECT id, pid FROM payrun_nodes WHERE name = $1 AND host_key = $2 AND id <> $3`,
		m.o.Name, m.hostKey, j.Lease().Node)
	if err != nil {
		return nil, err
	}
	var id string
	var pid int
	var out []string
	_, err = pgx.ForEachRow(rows, []any{&id, &pid}, func() error {
		if pid != m.pid && !alive(pid) {
			out = append(out, id)
		}
		return nil
	})
	return out, err
}

// alive reports whether a process of this machine exists (a process of
// another user's is alive too: EPERM).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// holderGone is the SQL condition of an item whose holder is gone: none,
// a node that left, one lapsed by its grace, or $2 (gone runs of this
// node); never $1 (this node).
const holderGone = `holder <> $1 AND (holder = '' OR holder = ANY($2) OR NOT EXISTS (
	SELECT 1 FROM payrun_nodes n WHERE n.id = holder AND n.lease_until + n.grace >= clock_timestamp()))`

// takeOverGroup bounds the items of one takeover transaction.
const takeOverGroup = 500

// TakeOver moves the items gone nodes held by fn's changes, a group a
// transaction, skipping items locked by another transaction, and removes
// the rows of gone runs.
func (j *Journal) TakeOver(ctx context.Context, fn func(journal.Item) journal.Change) (int, error) {
	if err := j.writable(); err != nil {
		return 0, err
	}
	gone, err := j.gone(ctx)
	if err != nil {
		return 0, err
	}
	if gone == nil {
		gone = []string{}
	}
	self := j.Lease().Node
	total := 0
	for {
		n := 0
		err := j.writeLockedRetry(ctx, func(w *writeTx) error {
			n = 0
			now := j.Now().UTC()
			for _, id := range sortedIDs(keys(w.items)) {
				it := *w.items[id]
				c := fn(it)
				c.PayoutID, c.From, c.Holder = id, it.State, ""
				if err := journal.ApplyTo(w, &it, c, now); err != nil {
					return err
				}
				n++
			}
			return nil
		}, `SELECT `+heldColumns+` FROM payrun_items WHERE state IN ('sending', 'confirming') AND `+holderGone+`
			ORDER BY payout_id LIMIT $3 FOR UPDATE SKIP LOCKED`, self, gone, takeOverGroup)
		if err != nil {
			return total, err
		}
		total += n
		if n < takeOverGroup {
			break
		}
	}
	// Runs of this node that are gone, and nodes lapsed long ago, leave
	// the table (a node that comes back joins again).
	_, err = j.coord.Exec(ctx, `DELETE FROM payrun_nodes WHERE id = ANY($1) OR lease_until + grace < clock_timestamp() - interval '1 hour'`, gone)
	return total, err
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// writeLockedRetry is writeLocked run again after a deadlock.
func (j *Journal) writeLockedRetry(ctx context.Context, fn func(*writeTx) error, lock string, args ...any) error {
	if err := j.writable(); err != nil {
		return err
	}
	for try := 0; ; try++ {
		err := j.writeLocked(ctx, j.coord, fn, lock, args...)
		if try < maxRetries && retryable(err) {
			continue
		}
		return err
	}
}

// Claim moves up to r.Max queued items of a provider to sending, held by
// this node, in batch and row order, skipping items locked elsewhere.
func (j *Journal) Claim(ctx context.Context, r journal.ClaimRequest) ([]journal.Item, error) {
	if err := j.writable(); err != nil {
		return nil, err
	}
	l := j.Lease()
	if !l.Holds(l.Node, time.Now()) {
		return nil, fmt.Errorf("claim: %w", journal.ErrLeaseLost)
	}
	if r.Max <= 0 {
		return nil, nil
	}
	skip := r.Skip
	if skip == nil {
		skip = []string{}
	}
	var out []journal.Item
	err := j.writeLockedRetry(ctx, func(w *writeTx) error {
		if w.holder != l.Node {
			return fmt.Errorf("claim: %w", journal.ErrLeaseLost)
		}
		out = out[:0]
		now := j.Now().UTC()
		items := make([]*journal.Item, 0, len(w.items))
		for _, it := range w.items {
			items = append(items, it)
		}
		sortClaimed(items)
		for _, p := range items {
			it := *p
			c := r.Change
			c.PayoutID, c.From, c.To, c.Holder = it.PayoutID, journal.Queued, journal.Sending, ""
			if err := journal.ApplyTo(w, &it, c, now); err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	}, `SELECT `+heldColumns+` FROM payrun_items WHERE state = 'queued' AND provider = $1
		AND ($2::text[] IS NULL OR batch_id = ANY($2)) AND NOT (payout_id = ANY($3))
		ORDER BY batch_id, "row" LIMIT $4 FOR UPDATE SKIP LOCKED`, r.Provider, r.Batches, skip, r.Max)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sortClaimed orders claimed items as the queue does: by batch, then row.
func sortClaimed(items []*journal.Item) {
	for i := 1; i < len(items); i++ {
		for k := i; k > 0 && claimedBefore(items[k], items[k-1]); k-- {
			items[k], items[k-1] = items[k-1], items[k]
		}
	}
}

func claimedBefore(a, b *journal.Item) bool {
	if a.BatchID != b.BatchID {
		return a.BatchID < b.BatchID
	}
	return a.Row < b.Row
}

// holderOf is the holder an item is written with: the node that moves it
// into flight, the one that held it while it stays there, none otherwise.
func (w *writeTx) holderOf(it *journal.Item) string {
	if it.State != journal.Sending && it.State != journal.Confirming {
		return ""
	}
	if w.was[it.PayoutID] == it.State {
		return w.held[it.PayoutID]
	}
	return w.holder
}

// checkHolder refuses a change made for a holder that is not this node's
// run any more, or of an item in flight another holder holds.
func (w *writeTx) checkHolder(c journal.Change, it journal.Item) error {
	switch {
	case c.Holder == "":
		return nil
	case w.holder != c.Holder:
		return fmt.Errorf("payout %s: %s is no longer this node's run: %w", c.PayoutID, c.Holder, journal.ErrConflict)
	case (it.State == journal.Sending || it.State == journal.Confirming) && w.held[c.PayoutID] != c.Holder:
		return fmt.Errorf("payout %s is %s, no longer held by %s: %w", c.PayoutID, it.State, c.Holder, journal.ErrConflict)
	}
	return nil
}

// Exclusive runs fn holding a session advisory lock on one connection of
// the pool, released after fn (or with the connection, should it break).
func (j *Journal) Exclusive(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if err := j.writable(); err != nil {
		return err
	}
	conn, err := j.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := batchLock("exclusive:" + name)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, key); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, key); err != nil {
			// Never give a connection holding the lock back to the pool.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	return fn(ctx)
}

// HasQueued reports whether any item waits in queued (the queued index).
func (j *Journal) HasQueued(ctx context.Context) (bool, error) {
	var ok bool
	err := j.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payrun_items WHERE state = 'queued')`).Scan(&ok)
	return ok, err
}

// Nodes returns every node, oldest first, with what each holds.
func (j *Journal) Nodes(ctx context.Context) ([]journal.Node, error) {
	rows, err := j.pool.Query(ctx, `SELECT n.id, n.name, n.host, n.pid, n.role, n.addr, n.version, n.started, n.renewed,
			n.lease_until, n.grace, n.lease_until > clock_timestamp(),
			(SELECT count(*) FROM payrun_items i WHERE i.holder = n.id AND i.state IN ('sending', 'confirming'))
		FROM payrun_nodes n ORDER BY n.started, n.id`)
	if err != nil {
		return nil, err
	}
	var out []journal.Node
	var n journal.Node
	_, err = pgx.ForEachRow(rows, []any{&n.ID, &n.Name, &n.Host, &n.PID, &n.Role, &n.Addr, &n.Version, &n.Started, &n.Renewed,
		&n.LeaseUntil, &n.Grace, &n.Live, &n.Holding}, func() error {
		n.Started, n.Renewed, n.LeaseUntil = n.Started.UTC(), n.Renewed.UTC(), n.LeaseUntil.UTC()
		out = append(out, n)
		return nil
	})
	return out, err
}

// Lead takes role for this node if no live node holds it, or renews it.
// A leader that left, or a gone earlier run of this node, yields at once.
func (j *Journal) Lead(ctx context.Context, role string, ttl time.Duration) (journal.Leadership, error) {
	if err := j.writable(); err != nil {
		return journal.Leadership{}, err
	}
	m := j.member
	l := j.Lease()
	if !l.Holds(l.Node, time.Now()) {
		m.mu.Lock()
		delete(m.leads, role)
		m.mu.Unlock()
		return journal.Leadership{Role: role}, fmt.Errorf("lead %s: %w", role, journal.ErrLeaseLost)
	}
	gone, err := j.gone(ctx)
	if err != nil {
		return journal.Leadership{Role: role}, err
	}
	if gone == nil {
		gone = []string{}
	}
	sent := time.Now()
	var out journal.Leadership
	out.Role = role
	err = j.coord.QueryRow(ctx, `WITH taken AS (
			INSERT INTO payrun_leaders (role, node, until) VALUES ($1, $2, clock_timestamp() + $3::interval)
			ON CONFLICT (role) DO UPDATE SET node = EXCLUDED.node, until = EXCLUDED.until
			WHERE payrun_leaders.node = EXCLUDED.node OR payrun_leaders.until < clock_timestamp()
				OR payrun_leaders.node = ANY($4)
				OR NOT EXISTS (SELECT 1 FROM payrun_nodes n WHERE n.id = payrun_leaders.node)
			RETURNING node, until)
		SELECT node, until FROM taken
		UNION ALL SELECT node, until FROM payrun_leaders WHERE role = $1 AND NOT EXISTS (SELECT 1 FROM taken)`,
		role, l.Node, ttl, gone).Scan(&out.Node, &out.Until)
	if err != nil {
		return out, err
	}
	out.Until = out.Until.UTC()
	out.Mine = out.Node == l.Node
	m.mu.Lock()
	if out.Mine {
		out.Local = sent.Add(ttl - m.margin(ttl))
		m.leads[role] = out
	} else {
		delete(m.leads, role)
	}
	m.mu.Unlock()
	return out, nil
}

// Resign gives up role if this node leads it.
func (j *Journal) Resign(ctx context.Context, role string) error {
	if err := j.writable(); err != nil {
		return err
	}
	m := j.member
	m.mu.Lock()
	delete(m.leads, role)
	m.mu.Unlock()
	_, err := j.coord.Exec(ctx, `DELETE FROM payrun_leaders WHERE role = $1 AND node = $2`, role, j.Lease().Node)
	return err
}

// Leaders returns every role's leadership, with the leader's name.
func (j *Journal) Leaders(ctx context.Context) ([]journal.Leadership, error) {
	rows, err := j.pool.Query(ctx, `SELECT l.role, l.node, coalesce(n.name, ''), l.until FROM payrun_leaders l
		LEFT JOIN payrun_nodes n ON n.id = l.node ORDER BY l.role`)
	if err != nil {
		return nil, err
	}
	self := j.Lease().Node
	var out []journal.Leadership
	var l journal.Leadership
	_, err = pgx.ForEachRow(rows, []any{&l.Role, &l.Node, &l.Name, &l.Until}, func() error {
		l.Until = l.Until.UTC()
		l.Mine = l.Node == self && self != ""
		l.Local = time.Time{}
		if l.Mine && j.member != nil {
			j.member.mu.Lock()
			l.Local = j.member.leads[l.Role].Local
			j.member.mu.Unlock()
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// UpdateBudget changes a provider's budget in one short transaction: the
// row is created if missing, locked, changed by fn at the server's clock
// and written. The commit does not wait for the disk: a budget lost with
// a crash of the server costs a second of pacing, nothing else.
func (j *Journal) UpdateBudget(ctx context.Context, provider string, fn func(b *journal.Budget, now time.Time)) (journal.Budget, error) {
	var out journal.Budget
	if err := j.writable(); err != nil {
		return out, err
	}
	err := j.writeRetry(ctx, func() error {
		var b pgx.Batch
		b.BeginTx(pgx.TxOptions{})
		b.Queue(`SET LOCAL synchronous_commit = off`)
		b.Queue(`INSERT INTO payrun_budgets (provider, budget) VALUES ($1, '{}') ON CONFLICT (provider) DO NOTHING`, provider)
		var raw []byte
		var now time.Time
		b.Queue(`SELECT budget, clock_timestamp() FROM payrun_budgets WHERE provider = $1 FOR UPDATE`, provider).QueryRow(func(r pgx.Row) error {
			return r.Scan(&raw, &now)
		})
		br := j.coord.SendBatch(ctx, &b)
		tx := br.Tx()
		if err := br.Close(); err != nil {
			if tx != nil {
				_ = tx.Rollback(context.WithoutCancel(ctx))
			}
			return err
		}
		var cur journal.Budget
		if err := json.Unmarshal(raw, &cur); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return fmt.Errorf("budget of %s: %w", provider, err)
		}
		fn(&cur, now.UTC())
		cur.Provider = provider
		enc, err := json.Marshal(cur)
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE payrun_budgets SET budget = $2 WHERE provider = $1`, provider, enc); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		out = cur
		return nil
	})
	return out, err
}

// writeRetry runs fn again after a deadlock or serialization failure.
func (j *Journal) writeRetry(ctx context.Context, fn func() error) error {
	for try := 0; ; try++ {
		err := fn()
		if try < maxRetries && retryable(err) {
			continue
		}
		return err
	}
}

// Budgets returns every provider's budget.
func (j *Journal) Budgets(ctx context.Context) ([]journal.Budget, error) {
	rows, err := j.pool.Query(ctx, `SELECT provider, budget FROM payrun_budgets ORDER BY provider`)
	if err != nil {
		return nil, err
	}
	var out []journal.Budget
	var prov string
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&prov, &raw}, func() error {
		var b journal.Budget
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("budget of %s: %w", prov, err)
		}
		b.Provider = prov
		out = append(out, b)
		return nil
	})
	return out, err
}

// Notify wakes the nodes listening on channel.
func (j *Journal) Notify(ctx context.Context, channel string) error {
	_, err := j.pool.Exec(ctx, `SELECT pg_notify($1, '')`, channel)
	return err
}

// Listen calls fn for every notification on channels, on a connection of
// its own, until ctx ends. After a lost connection it connects again
// (waiting a second, then up to five, between tries) and calls fn once for
// each channel: what was notified meanwhile was lost.
func (j *Journal) Listen(ctx context.Context, fn func(channel string), channels ...string) error {
	wait := time.Second
	for {
		if connected, _ := j.listenOnce(ctx, fn, channels); connected {
			wait = time.Second
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// listenOnce listens on one connection until it fails; connected says
// it listened at all.
func (j *Journal) listenOnce(ctx context.Context, fn func(string), channels []string) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, j.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, ch := range channels {
		if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{ch}.Sanitize()); err != nil {
			return false, err
		}
	}
	for _, ch := range channels {
		fn(ch)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		fn(n.Channel)
	}
}

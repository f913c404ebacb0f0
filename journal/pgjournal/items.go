package pgjournal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/payrun/payrun/journal"
)

// openPredicate selects the items not final (journal.State.Final); it is
// the partial index payrun_items_open's, written the same way so that the
// planner uses the index.
const openPredicate = `state NOT IN ('succeeded', 'amount_mismatch', 'failed', 'expired', 'reversed', 'invalid', 'duplicate', 'cancelled')`

// writeTx is one write transaction seen as journal.Tx, for journal.ApplyTo.
//
// Every item it is given was locked first (lockItems: SELECT ... FOR
// UPDATE), so that no writer on any node changes it until this transaction
// ends: ApplyTo's compare-and-set (Change.From) and the graph check are
// made against the item as it stands, and the read-modify-write cannot
// lose another writer's change. Writes are held and sent together at the
// end (flush), one round trip.
type writeTx struct {
	ctx   context.Context
	tx    pgx.Tx
	items map[string]*journal.Item // locked items, as written so far
	dirty []string                 // payout_ids of items to write, in first-written order
	refs  map[[2]string]string     // references written by this transaction
	// seen are references read, "" for none: a reference never moves to
	// another payout, so one read holds for the transaction (one added
	// meanwhile by another node is found by PutRef's statement).
	seen  map[[2]string]string
	batch pgx.Batch
	// held and was are each locked item's holder and state as locked;
	// holder is the node an item moved into flight is held by (cluster.go).
	held   map[string]string
	was    map[string]journal.State
	holder string
}

func newWriteTx(ctx context.Context, tx pgx.Tx) *writeTx {
	return &writeTx{ctx: ctx, tx: tx, items: map[string]*journal.Item{}, refs: map[[2]string]string{}, seen: map[[2]string]string{},
		held: map[string]string{}, was: map[string]journal.State{}}
}

// lockSQL reads and locks items, in payout_id order so that two
// transactions locking overlapping sets wait for each other rather than
// deadlock.
const lockSQL = `SELECT ` + heldColumns + ` FROM payrun_items WHERE payout_id = ANY($1) ORDER BY payout_id FOR UPDATE`

// sortedIDs returns ids sorted, without repeats.
func sortedIDs(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// lockItems reads and locks the items ids. An id not journaled is not in
// the result.
func (w *writeTx) lockItems(ids []string) error {
	rows, err := w.tx.Query(w.ctx, lockSQL, sortedIDs(ids))
	if err != nil {
		return err
	}
	return w.keep(rows)
}

// keep keeps the locked items rows of heldColumns return.
func (w *writeTx) keep(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		it := new(journal.Item)
		var holder string
		if err := scanHeld(rows, it, &holder); err != nil {
			return err
		}
		w.items[it.PayoutID] = it
		w.held[it.PayoutID], w.was[it.PayoutID] = holder, it.State
	}
	return rows.Err()
}

// item returns a locked item, locking it first if needed.
func (w *writeTx) item(payoutID string) (journal.Item, error) {
	if it, ok := w.items[payoutID]; ok {
		return *it, nil
	}
	if err := w.lockItems([]string{payoutID}); err != nil {
		return journal.Item{}, err
	}
	it, ok := w.items[payoutID]
	if !ok {
		return journal.Item{}, fmt.Errorf("payout %s: %w", payoutID, journal.ErrNotFound)
	}
	return *it, nil
}

// PayoutByRef reads a reference as this transaction wrote it or as it is
// committed. A reference another node adds meanwhile is not seen; PutRef's
// statement then finds it and the transaction fails, as ApplyTo's check
// would have.
func (w *writeTx) PayoutByRef(provider, id string) (string, bool, error) {
	k := [2]string{provider, id}
	if p, ok := w.refs[k]; ok {
		return p, true, nil
	}
	if p, ok := w.seen[k]; ok {
		return p, p != "", nil
	}
	var p string
	err := w.tx.QueryRow(w.ctx, `SELECT payout_id FROM payrun_refs WHERE provider = $1 AND ref = $2`, provider, id).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		w.seen[k] = ""
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	w.seen[k] = p
	return p, true, nil
}

// readRefs reads references in one query, for PayoutByRef.
func (w *writeTx) readRefs(keys [][2]string) error {
	var provs, ids []string
	for _, k := range keys {
		if _, ok := w.seen[k]; !ok && k[1] != "" {
			w.seen[k] = ""
			provs, ids = append(provs, k[0]), append(ids, k[1])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := w.tx.Query(w.ctx, `SELECT r.provider, r.ref, r.payout_id FROM payrun_refs r
		JOIN unnest($1::text[], $2::text[]) AS k(provider, ref) ON r.provider = k.provider AND r.ref = k.ref`, provs, ids)
	if err != nil {
		return err
	}
	var prov, ref, payout string
	_, err = pgx.ForEachRow(rows, []any{&prov, &ref, &payout}, func() error {
		w.seen[[2]string{prov, ref}] = payout
		return nil
	})
	return err
}

// PutRef maps a provider id to a payout. The statement inserts the
// mapping, or, when a concurrent transaction inserted the same (provider,
// id) first, waits for it and keeps the row only if it names the same
// payout: a reference never moves to another payout.
func (w *writeTx) PutRef(provider, id, payoutID string) error {
	w.refs[[2]string{provider, id}] = payoutID
	w.batch.Queue(`INSERT INTO payrun_refs (provider, ref, payout_id) VALUES ($1, $2, $3)
		ON CONFLICT (provider, ref) DO UPDATE SET payout_id = EXCLUDED.payout_id
		WHERE payrun_refs.payout_id = EXCLUDED.payout_id`, provider, id, payoutID).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() == 0 {
			return fmt.Errorf("provider %s id %s already belongs to another payout than %s", provider, id, payoutID)
		}
		return nil
	})
	return nil
}

// PutItem keeps it as this transaction's version of the item; the open
// index follows its state column.
func (w *writeTx) PutItem(it *journal.Item, _ journal.State) error {
	cur, ok := w.items[it.PayoutID]
	if !ok {
		return fmt.Errorf("payout %s was written without being locked", it.PayoutID)
	}
	if !slices.Contains(w.dirty, it.PayoutID) {
		w.dirty = append(w.dirty, it.PayoutID)
	}
	*cur = *it
	return nil
}

// AppendTransition queues t for the log; its sequence is set when the
// transaction's writes are sent.
func (w *writeTx) AppendTransition(t *journal.Transition) error {
	var payload []byte
	if len(t.Payload) > 0 {
		payload = t.Payload
	}
	w.batch.Queue(`INSERT INTO payrun_transitions (payout_id, at, from_state, to_state, actor, reason, payload)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq`,
		t.PayoutID, t.At, string(t.From), string(t.To), t.Actor, t.Reason, payload).QueryRow(func(r pgx.Row) error {
		var seq int64
		if err := r.Scan(&seq); err != nil {
			return err
		}
		t.Seq = uint64(seq)
		return nil
	})
	return nil
}

// flush sends the transaction's writes: the items changed, then the
// references and transitions in the order made. The items go first: the
// references' and transitions' foreign keys read them.
func (w *writeTx) flush() error {
	if len(w.dirty) == 0 && w.batch.Len() == 0 {
		return nil
	}
	var b pgx.Batch
	for _, id := range w.dirty {
		it := w.items[id]
		raw, err := encodeItem(it)
		if err != nil {
			return err
		}
		b.Queue(`UPDATE payrun_items SET state = $2, item = $3, holder = $4 WHERE payout_id = $1`, id, string(it.State), raw, w.holderOf(it))
	}
	b.QueuedQueries = append(b.QueuedQueries, w.batch.QueuedQueries...)
	w.dirty, w.batch = nil, pgx.Batch{}
	return w.tx.SendBatch(w.ctx, &b).Close()
}

// Apply commits changes, each checked by journal.ApplyTo, in one
// transaction: the items are locked first, all at once and in payout_id
// order, then changed in the order given.
func (j *Journal) Apply(ctx context.Context, changes ...journal.Change) error {
	if len(changes) == 0 {
		return nil
	}
	ids := make([]string, len(changes))
	for i, c := range changes {
		ids[i] = c.PayoutID
	}
	return j.writeItems(ctx, ids, func(w *writeTx) error {
		now := j.Now().UTC()
		if err := w.readRefs(statusRefs(w, changes)); err != nil {
			return err
		}
		for _, c := range changes {
			it, err := w.item(c.PayoutID)
			if err != nil {
				return err
			}
			if err := w.checkHolder(c, it); err != nil {
				return err
			}
			if err := journal.ApplyTo(w, &it, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// statusRefs are the provider references the changes' statuses name,
// read in one query before ApplyTo looks each up.
func statusRefs(w *writeTx, changes []journal.Change) [][2]string {
	var keys [][2]string
	for _, c := range changes {
		it, ok := w.items[c.PayoutID]
		if !ok || c.Status == nil {
			continue
		}
		keys = append(keys, [2]string{it.Provider, c.Status.Refs.ProviderID}, [2]string{it.Provider, c.Status.Refs.SessionID})
	}
	return keys
}

// Update changes an item's bookkeeping fields under its row lock.
func (j *Journal) Update(ctx context.Context, payoutID string, fn func(*journal.Item)) error {
	return j.writeItems(ctx, []string{payoutID}, func(w *writeTx) error { return w.update(payoutID, fn) })
}

// writeItems runs fn in a write transaction over the items ids, locked,
// and sends its writes and commits. The transaction's begin and the lock
// go to the server together, one round trip; fn runs again, whole, when
// the server broke a deadlock by aborting the transaction.
func (j *Journal) writeItems(ctx context.Context, ids []string, fn func(*writeTx) error) error {
	if err := j.writable(); err != nil {
		return err
	}
	ids = sortedIDs(ids)
	for try := 0; ; try++ {
		err := j.writeItemsOnce(ctx, ids, fn)
		if try < maxRetries && retryable(err) {
			continue
		}
		return err
	}
}

func (j *Journal) writeItemsOnce(ctx context.Context, ids []string, fn func(*writeTx) error) (err error) {
	return j.writeLocked(ctx, j.pool, fn, lockSQL, ids)
}

// writeLocked is writeItemsOnce with the items locked by lock (a query
// of heldColumns) and its args.
func (j *Journal) writeLocked(ctx context.Context, pool *pgxpool.Pool, fn func(*writeTx) error, lock string, args ...any) (err error) {
	var b pgx.Batch
	b.BeginTx(pgx.TxOptions{})
	var w *writeTx
	b.Queue(lock, args...).Query(func(rows pgx.Rows) error { return w.keep(rows) })
	br := pool.SendBatch(ctx, &b)
	tx := br.Tx()
	w = newWriteTx(ctx, tx)
	w.holder = j.Lease().Node
	defer func() {
		if err != nil && tx != nil {
			// Ends the transaction, and gives the connection back to the
			// pool; after a commit it does nothing.
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := br.Close(); err != nil {
		return err
	}
	if err := fn(w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// update is Update inside a write transaction.
func (w *writeTx) update(payoutID string, fn func(*journal.Item)) error {
	it, err := w.item(payoutID)
	if err != nil {
		return err
	}
	fn(&it)
	it.PayoutID = payoutID
	return w.PutItem(&it, it.State)
}

// Item returns one item by payout_id.
func (j *Journal) Item(ctx context.Context, payoutID string) (journal.Item, error) {
	var it journal.Item
	err := scanItem(j.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM payrun_items WHERE payout_id = $1`, payoutID), &it)
	if errors.Is(err, pgx.ErrNoRows) {
		return it, fmt.Errorf("payout %s: %w", payoutID, journal.ErrNotFound)
	}
	return it, err
}

// eachItem calls fn for every item a query returns.
func (j *Journal) eachItem(ctx context.Context, fn func(journal.Item) bool, sql string, args ...any) error {
	rows, err := j.pool.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var it journal.Item
		if err := scanItem(rows, &it); err != nil {
			return err
		}
		if !fn(it) {
			return nil
		}
	}
	return rows.Err()
}

// BatchItems calls fn for every item of a batch, in row order.
func (j *Journal) BatchItems(ctx context.Context, batchID string, fn func(journal.Item) bool) error {
	return j.eachItem(ctx, fn, `SELECT `+itemColumns+` FROM payrun_items WHERE batch_id = $1 ORDER BY "row"`, batchID)
}

// OpenItems calls fn for every item that is not final.
func (j *Journal) OpenItems(ctx context.Context, fn func(journal.Item) bool) error {
	return j.eachItem(ctx, fn, `SELECT `+itemColumns+` FROM payrun_items WHERE `+openPredicate+` ORDER BY payout_id`)
}

// OpenStates calls fn with the payout_id and state of every item not
// final, from the open index alone.
func (j *Journal) OpenStates(ctx context.Context, fn func(payoutID string, s journal.State) bool) error {
	rows, err := j.pool.Query(ctx, `SELECT payout_id, state FROM payrun_items WHERE `+openPredicate+` ORDER BY payout_id`)
	if err != nil {
		return err
	}
	var id, st string
	_, err = pgx.ForEachRow(rows, []any{&id, &st}, func() error {
		if !fn(id, journal.State(st)) {
			return errStop
		}
		return nil
	})
	return stopped(err)
}

// AllItems calls fn for every item, in payout_id order.
func (j *Journal) AllItems(ctx context.Context, fn func(journal.Item) bool) error {
	return j.eachItem(ctx, fn, `SELECT `+itemColumns+` FROM payrun_items ORDER BY payout_id`)
}

// Owners returns, of ids, those journaled as items, in one query.
func (j *Journal) Owners(ctx context.Context, ids []string) (map[string]journal.Owner, error) {
	return owners(ctx, j.pool, ids)
}

// querier is a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// owners reads, of ids, the items journaled.
func owners(ctx context.Context, q querier, ids []string) (map[string]journal.Owner, error) {
	out := map[string]journal.Owner{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT `+itemColumns+` FROM payrun_items WHERE payout_id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var it journal.Item
		if err := scanItem(rows, &it); err != nil {
			return nil, err
		}
		out[it.PayoutID] = journal.Owner{BatchID: it.BatchID, Row: it.Row, Provider: it.Provider,
			Currency: it.Payout.Amount.Currency, Method: string(it.Payout.Method), Amount: it.Payout.Amount.Minor}
	}
	return out, rows.Err()
}

// PayoutByRef returns the payout_id a provider's own id or session id
// belongs to.
func (j *Journal) PayoutByRef(ctx context.Context, provider, id string) (string, bool, error) {
	var p string
	err := j.pool.QueryRow(ctx, `SELECT payout_id FROM payrun_refs WHERE provider = $1 AND ref = $2`, provider, id).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return p, err == nil, err
}

// Transitions calls fn for every transition of a payout (all when
// payoutID is ""), oldest first.
func (j *Journal) Transitions(ctx context.Context, payoutID string, fn func(journal.Transition) bool) error {
	// Two statements, so that one payout's log is read through its index.
	const cols = `SELECT seq, payout_id, at, from_state, to_state, actor, reason, payload FROM payrun_transitions`
	var rows pgx.Rows
	var err error
	if payoutID == "" {
		rows, err = j.pool.Query(ctx, cols+` ORDER BY seq`)
	} else {
		rows, err = j.pool.Query(ctx, cols+` WHERE payout_id = $1 ORDER BY seq`, payoutID)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTransition(rows)
		if err != nil {
			return err
		}
		if !fn(t) {
			return nil
		}
	}
	return rows.Err()
}

func scanTransition(r pgx.Row) (journal.Transition, error) {
	var t journal.Transition
	var seq int64
	var from, to string
	var at time.Time
	var payload []byte
	if err := r.Scan(&seq, &t.PayoutID, &at, &from, &to, &t.Actor, &t.Reason, &payload); err != nil {
		return t, err
	}
	t.Seq, t.From, t.To, t.At = uint64(seq), journal.State(from), journal.State(to), at.UTC()
	if len(payload) > 0 {
		t.Payload = payload
	}
	return t, nil
}

package pgjournal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
)

// A file is staged (journal.Ingest) on one connection of its own, which
// holds a session advisory lock on the staging batch from before the
// batch is created until it is accepted or removed. So "left ingesting"
// has a precise meaning on a shared database: a staging batch whose lock
// nobody holds. A node that crashes mid-file loses its session, and with
// it the lock; DropStaging on any node then removes the batch, while a
// batch another live node is staging keeps its lock and is left alone.

// staging is one Ingest's session with the database.
type staging struct {
	j    *Journal
	conn *pgxpool.Conn // holds the lock of batch id; nil before the first chunk and after the end
	id   string
}

var _ journal.Staging = (*staging)(nil)

// Staging returns a new staging session (journal.Stager).
func (j *Journal) Staging() journal.Staging { return &staging{j: j} }

// Ingest journals a file through journal.Ingest, one at a time in this
// process; other processes' ingests run beside it, each on its own batch.
func (j *Journal) Ingest(ctx context.Context, path string, o journal.IngestOptions) (*journal.IngestResult, error) {
	if err := j.writable(); err != nil {
		return nil, err
	}
	j.ingestMu.Lock()
	defer j.ingestMu.Unlock()
	s := &staging{j: j}
	defer s.close()
	return journal.Ingest(ctx, s, path, o)
}

func (s *staging) Now() time.Time { return s.j.Now() }

func (s *staging) BatchBySHA(ctx context.Context, sha string) (journal.Batch, bool, error) {
	return s.j.BatchBySHA(ctx, sha)
}

func (s *staging) DropStaging(ctx context.Context) error { return s.j.dropStaging(ctx, s) }

// hold takes the staging lock of batch id on a connection of its own, or
// says who has it.
func (s *staging) hold(ctx context.Context, id string) error {
	if s.conn != nil {
		return fmt.Errorf("staging of batch %s: already staging %s", id, s.id)
	}
	if err := s.j.writable(); err != nil {
		return err
	}
	c, err := s.j.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockClass, batchLock(id)).Scan(&ok); err != nil {
		c.Release()
		return err
	}
	if !ok {
		c.Release()
		return fmt.Errorf("%w: batch %s is being journaled by another payrun process right now", journal.ErrBatchExists, id)
	}
	// A chunk is not waited on to reach the disk: nothing of a staging
	// batch counts until FinishStaging, whose commit is synchronous and so
	// flushes the log up to it, chunks included; a crash before that
	// leaves a batch still ingesting, removed whole. (PostgreSQL keeps
	// commits in log order: a crash loses the last chunks, never one in
	// the middle.) The connection is the session's alone, and closed with
	// it, so the setting goes with it.
	if _, err := c.Exec(ctx, `SET synchronous_commit = off`); err != nil {
		_ = c.Conn().Close(context.Background())
		c.Release()
		return err
	}
	s.conn, s.id = c, id
	s.j.mu.Lock()
	defer s.j.mu.Unlock()
	if s.j.stagings == nil { // closed meanwhile
		go s.close()
		return journal.ErrClosed
	}
	s.j.stagings[s] = struct{}{}
	return nil
}

// close ends the session. The lock is released first, in a statement
// answered before close returns: the server releases a closed session's
// locks only when its backend exits, a moment later, and the next
// DropStaging of this process must find the batch free. Closing the
// connection then ends whatever else the session holds (its transaction,
// its settings).
func (s *staging) close() {
	if s.conn == nil {
		return
	}
	s.j.mu.Lock()
	delete(s.j.stagings, s)
	s.j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = s.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	_ = s.conn.Conn().Close(ctx)
	s.conn.Release()
	s.conn = nil
}

// StageChunk writes one chunk of a file in one transaction on the
// session's connection: the owners of its payout_ids in one query, the
// rows taken back out, the new items and rejected rows through COPY.
// Two nodes staging files that share a payout_id cannot both journal it:
// the second COPY waits on the first's uncommitted key and then fails on
// the primary key, and that ingest fails whole.
func (s *staging) StageChunk(ctx context.Context, b *journal.Batch, first bool, ids []string, write func(map[string]journal.Owner) *journal.ChunkWrites) error {
	if first {
		if err := s.hold(ctx, b.ID); err != nil {
			return err
		}
	}
	if s.conn == nil || s.id != b.ID {
		return fmt.Errorf("staging of batch %s: no staging session", b.ID)
	}
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		if first {
			if err := createBatch(ctx, tx, b); err != nil {
				return err
			}
		}
		own, err := owners(ctx, tx, ids)
		if err != nil {
			return err
		}
		w := write(own)
		if len(w.Unstage) > 0 {
			unstage := slices.Compact(slices.Sorted(slices.Values(w.Unstage)))
			ct, err := tx.Exec(ctx, `DELETE FROM payrun_items WHERE batch_id = $1 AND payout_id = ANY($2)`, b.ID, unstage)
			if err != nil {
				return err
			}
			if int(ct.RowsAffected()) != len(unstage) {
				return fmt.Errorf("staging of batch %s: %d of the %d staged payouts to take back out are missing", b.ID, len(unstage)-int(ct.RowsAffected()), len(unstage))
			}
		}
		if err := copyItems(ctx, tx, w.Items); err != nil {
			return err
		}
		return copyRejected(ctx, tx, b.ID, w.Rejected)
	})
	if err != nil && first {
		s.close() // the batch was not created: nothing to hold
	}
	return err
}

// createBatch inserts a new staging batch; an id or a content already
// journaled is journal.ErrBatchExists.
func createBatch(ctx context.Context, tx pgx.Tx, b *journal.Batch) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM payrun_batches WHERE id = $1)`, b.ID).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("%w: %s", journal.ErrBatchExists, b.ID)
	}
	err := putBatch(ctx, tx, b)
	if _, ok := isUnique(err, "payrun_batches_pkey"); ok {
		return fmt.Errorf("%w: %s", journal.ErrBatchExists, b.ID)
	}
	return err
}

// copyRejected writes a chunk's rejected rows through COPY, after removing
// the rows of the batch it rewrites.
func copyRejected(ctx context.Context, tx pgx.Tx, batchID string, rows []journal.RejectedRow) error {
	if len(rows) == 0 {
		return nil
	}
	rows = lastOfEachRow(rows)
	nums := make([]int32, len(rows))
	bodies := make([][]byte, len(rows))
	for i := range rows {
		if rows[i].BatchID != batchID {
			return fmt.Errorf("staging of batch %s: a rejected row of batch %s", batchID, rows[i].BatchID)
		}
		raw, err := json.Marshal(&rows[i])
		if err != nil {
			return err
		}
		nums[i], bodies[i] = int32(rows[i].Row), raw
	}
	if _, err := tx.Exec(ctx, `DELETE FROM payrun_rejected WHERE batch_id = $1 AND "row" = ANY($2)`, batchID, nums); err != nil {
		return err
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"payrun_rejected"}, []string{"batch_id", "row", "body"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return []any{batchID, nums[i], bodies[i]}, nil }))
	return err
}

// FinishStaging adds the file's repeat errors to its rejected rows and
// stores the accepted batch in one transaction, then ends the session.
func (s *staging) FinishStaging(ctx context.Context, b *journal.Batch, errs map[int][]batch.RowError) error {
	if s.conn == nil || s.id != b.ID {
		return fmt.Errorf("staging of batch %s: no staging session", b.ID)
	}
	err := pgx.BeginFunc(ctx, s.conn, func(tx pgx.Tx) error {
		// The acceptance is synchronous: it is what Ingest returns on.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		if len(errs) > 0 {
			nums := slices.Sorted(maps.Keys(errs))
			rows, err := tx.Query(ctx, `SELECT body FROM payrun_rejected WHERE batch_id = $1 AND "row" = ANY($2) ORDER BY "row"`, b.ID, nums)
			if err != nil {
				return err
			}
			var raw []byte
			var out []journal.RejectedRow
			if _, err := pgx.ForEachRow(rows, []any{&raw}, func() error {
				var r journal.RejectedRow
				if err := json.Unmarshal(raw, &r); err != nil {
					return err
				}
				r.Errors = append(r.Errors, errs[r.Row]...)
				out = append(out, r)
				return nil
			}); err != nil {
				return err
			}
			if len(out) != len(nums) {
				return fmt.Errorf("staging of batch %s: %d rejected rows are missing", b.ID, len(nums)-len(out))
			}
			if err := putRejected(ctx, tx, out); err != nil {
				return err
			}
		}
		return putBatch(ctx, tx, b)
	})
	if err == nil {
		s.close()
	}
	return err
}

// DropBatch removes the session's staging batch and ends the session.
func (s *staging) DropBatch(ctx context.Context, id string) error {
	if s.conn == nil || s.id != id {
		return s.j.dropUnheld(ctx, id)
	}
	err := dropBatch(ctx, s.conn, id)
	if err == nil {
		s.close()
	}
	return err
}

// DropStaging removes every batch left ingesting that no process is
// staging right now.
func (j *Journal) DropStaging(ctx context.Context) error { return j.dropStaging(ctx, nil) }

// dropStaging releases this process's staging sessions other than keep
// (an ingest that failed without cleaning up left them: this process runs
// one ingest at a time), then removes every staging batch whose lock it
// can take.
func (j *Journal) dropStaging(ctx context.Context, keep *staging) error {
	if err := j.writable(); err != nil {
		return err
	}
	j.mu.Lock()
	var left []*staging
	for s := range j.stagings {
		if s != keep {
			left = append(left, s)
		}
	}
	j.mu.Unlock()
	for _, s := range left {
		s.close()
	}
	rows, err := j.pool.Query(ctx, `SELECT id FROM payrun_batches WHERE state = 'ingesting'`)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, id := range ids {
		if keep != nil && keep.id == id {
			continue
		}
		if err := j.dropUnheld(ctx, id); err != nil && !errors.Is(err, errHeld) {
			return err
		}
	}
	return nil
}

// errHeld is a staging batch another session holds.
var errHeld = errors.New("being staged by another session")

// dropUnheld removes staging batch id if no session holds its lock.
func (j *Journal) dropUnheld(ctx context.Context, id string) error {
	c, err := j.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	var ok bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockClass, batchLock(id)).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("batch %s: %w", id, errHeld)
	}
	err = dropBatch(ctx, c, id)
	if _, uerr := c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, batchLock(id)); uerr != nil {
		// A connection whose lock state is unknown is not given back.
		_ = c.Conn().Close(context.Background())
		return errors.Join(err, uerr)
	}
	return err
}

// dropBatch removes a staging batch with all it wrote in one transaction:
// a crash part-way leaves it whole, still ingesting. A batch that is not
// staging (any more) is never removed.
func dropBatch(ctx context.Context, c *pgxpool.Conn, id string) error {
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM payrun_batches WHERE id = $1 FOR UPDATE`, id).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if journal.BatchState(state) != journal.BatchIngesting {
			return fmt.Errorf("batch %s is %s, not staging: not removed", id, state)
		}
		for _, q := range []string{
			`DELETE FROM payrun_items WHERE batch_id = $1`,
			`DELETE FROM payrun_rejected WHERE batch_id = $1`,
			`DELETE FROM payrun_batches WHERE id = $1`,
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

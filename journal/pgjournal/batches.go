package pgjournal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
)

// Batch returns one batch.
func (j *Journal) Batch(ctx context.Context, id string) (journal.Batch, error) {
	var b journal.Batch
	err := scanBatch(j.pool.QueryRow(ctx, `SELECT batch FROM payrun_batches WHERE id = $1`, id), &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, fmt.Errorf("batch %s: %w", id, journal.ErrNotFound)
	}
	return b, err
}

func scanBatch(r pgx.Row, b *journal.Batch) error {
	var raw []byte
	if err := r.Scan(&raw); err != nil {
		return err
	}
	return json.Unmarshal(raw, b)
}

// BatchBySHA returns the batch journaled for a file's content, if any.
func (j *Journal) BatchBySHA(ctx context.Context, sha string) (journal.Batch, bool, error) {
	var b journal.Batch
	err := scanBatch(j.pool.QueryRow(ctx, `SELECT batch FROM payrun_batches WHERE sha256 = $1 AND sha256 <> ''`, sha), &b)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, false, nil
	}
	return b, err == nil, err
}

// ListBatches returns every batch, newest first.
func (j *Journal) ListBatches(ctx context.Context) ([]journal.Batch, error) {
	rows, err := j.pool.Query(ctx, `SELECT batch FROM payrun_batches`)
	if err != nil {
		return nil, err
	}
	var out []journal.Batch
	for rows.Next() {
		var b journal.Batch
		if err := scanBatch(rows, &b); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	journal.SortBatches(out)
	return out, nil
}

// SetBatch changes a batch's bookkeeping under its row lock: a writer on
// another node changing the same batch waits for this one, and fn sees
// its result.
func (j *Journal) SetBatch(ctx context.Context, id string, fn func(*journal.Batch) error) error {
	return j.write(ctx, func(tx pgx.Tx) error {
		var b journal.Batch
		err := scanBatch(tx.QueryRow(ctx, `SELECT batch FROM payrun_batches WHERE id = $1 FOR UPDATE`, id), &b)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("batch %s: %w", id, journal.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if err := fn(&b); err != nil {
			return err
		}
		b.Updated = j.Now().UTC()
		return putBatch(ctx, tx, &b)
	})
}

// putBatch writes a batch, new or not. The sha256 index refuses a second
// batch of the same content (a file two nodes stage at once).
func putBatch(ctx context.Context, q querier, b *journal.Batch) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO payrun_batches (id, sha256, state, batch) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET sha256 = EXCLUDED.sha256, state = EXCLUDED.state, batch = EXCLUDED.batch`,
		b.ID, b.SHA256, string(b.State), raw)
	if _, ok := isUnique(err, "payrun_batches_sha256"); ok {
		return fmt.Errorf("%w: the content of %s (sha256 %s) is journaled by another batch, or being journaled by another payrun process right now", journal.ErrBatchExists, b.ID, b.SHA256)
	}
	return err
}

// RejectedRows calls fn for every invalid or duplicate row of a batch, in
// row order.
func (j *Journal) RejectedRows(ctx context.Context, batchID string, fn func(journal.RejectedRow) bool) error {
	rows, err := j.pool.Query(ctx, `SELECT body FROM payrun_rejected WHERE batch_id = $1 ORDER BY "row"`, batchID)
	if err != nil {
		return err
	}
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&raw}, func() error {
		var r journal.RejectedRow
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		if !fn(r) {
			return errStop
		}
		return nil
	})
	return stopped(err)
}

// Import journals a batch built elsewhere in one transaction: the batch,
// then its items through COPY. A payout_id already journaled (by anyone,
// on any node) fails the COPY on the primary key, and nothing is kept.
func (j *Journal) Import(ctx context.Context, b journal.Batch, items []journal.Item) error {
	b, items = journal.Imported(b, items, j.Now().UTC())
	return j.write(ctx, func(tx pgx.Tx) error {
		if err := putBatch(ctx, tx, &b); err != nil {
			return err
		}
		return copyItems(ctx, tx, items)
	})
}

// copyItems writes new items through COPY.
func copyItems(ctx context.Context, tx pgx.Tx, items []journal.Item) error {
	if len(items) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"payrun_items"}, []string{"payout_id", "batch_id", "row", "provider", "state", "item"},
		pgx.CopyFromSlice(len(items), func(i int) ([]any, error) {
			it := &items[i]
			raw, err := encodeItem(it)
			if err != nil {
				return nil, err
			}
			return []any{it.PayoutID, it.BatchID, it.Row, it.Provider, string(it.State), raw}, nil
		}))
	return journaledTwice(err)
}

// journaledTwice turns the primary key's refusal of a payout_id into what
// it means.
func journaledTwice(err error) error {
	if pe, ok := isUnique(err, "payrun_items_pkey"); ok {
		return fmt.Errorf("a payout_id is already journaled (%s): it was journaled before, or by another payrun process ingesting at the same time; nothing of this write was kept", strings.TrimSuffix(pe.Detail, "."))
	}
	if pe, ok := isUnique(err, "payrun_items_batch_row"); ok {
		return fmt.Errorf("a row of the batch is journaled twice (%s)", strings.TrimSuffix(pe.Detail, "."))
	}
	return err
}

// ImportRejected journals rejected rows built elsewhere; a row journaled
// before is replaced.
func (j *Journal) ImportRejected(ctx context.Context, rows []journal.RejectedRow) error {
	if len(rows) == 0 {
		return nil
	}
	return j.write(ctx, func(tx pgx.Tx) error { return putRejected(ctx, tx, rows) })
}

// putRejected writes rejected rows, replacing those of the same batch and
// row, in one statement.
func putRejected(ctx context.Context, q querier, rows []journal.RejectedRow) error {
	rows = lastOfEachRow(rows)
	batches, nums, bodies := make([]string, len(rows)), make([]int32, len(rows)), make([]string, len(rows))
	for i := range rows {
		raw, err := json.Marshal(&rows[i])
		if err != nil {
			return err
		}
		batches[i], nums[i], bodies[i] = rows[i].BatchID, int32(rows[i].Row), string(raw)
	}
	_, err := q.Exec(ctx, `INSERT INTO payrun_rejected (batch_id, "row", body)
		SELECT * FROM unnest($1::text[], $2::integer[], $3::json[])
		ON CONFLICT (batch_id, "row") DO UPDATE SET body = EXCLUDED.body`, batches, nums, bodies)
	return err
}

// lastOfEachRow returns rows with only the last of those of the same batch
// and row: a chunk of a file may rewrite a rejected row it wrote itself
// (a duplicate of an earlier batch found repeated later in the file).
func lastOfEachRow(rows []journal.RejectedRow) []journal.RejectedRow {
	type key struct {
		batch string
		row   int
	}
	last := make(map[key]int, len(rows))
	for i, r := range rows {
		last[key{r.BatchID, r.Row}] = i
	}
	if len(last) == len(rows) {
		return rows
	}
	out := make([]journal.RejectedRow, 0, len(last))
	for i, r := range rows {
		if last[key{r.BatchID, r.Row}] == i {
			out = append(out, r)
		}
	}
	return out
}

package pgjournal

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
)

// Check verifies what the database's constraints do not: every count that
// must agree, read in one snapshot (REPEATABLE READ, read only), and every
// constraint of payrun's tables validated. It returns every problem found,
// wrapped in journal.ErrCorrupt.
func (j *Journal) Check(ctx context.Context) error {
	var problems []error
	add := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	err := pgx.BeginTxFunc(ctx, j.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		count := func(sql string, args ...any) (n int64, err error) {
			err = tx.QueryRow(ctx, sql, args...).Scan(&n)
			return n, err
		}
		// Constraints added NOT VALID, or left so by hand, hold nothing
		// for the rows before them.
		rows, err := tx.Query(ctx, `SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c
			JOIN pg_class t ON t.oid = c.conrelid
			WHERE t.relname LIKE 'payrun\_%' AND pg_table_is_visible(t.oid) AND NOT c.convalidated`)
		if err != nil {
			return err
		}
		var table, name string
		if _, err := pgx.ForEachRow(rows, []any{&table, &name}, func() error {
			add("constraint %s of %s is not validated", name, table)
			return nil
		}); err != nil {
			return err
		}
		// The open index against the items themselves: the same count
		// through the partial index and through the table alone tells a
		// damaged index.
		viaIndex, err := count(`SELECT count(*) FROM payrun_items WHERE ` + openPredicate)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
			return err
		}
		viaTable, err := count(`SELECT count(*) FROM payrun_items WHERE ` + openPredicate)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `RESET enable_indexscan; RESET enable_indexonlyscan; RESET enable_bitmapscan`); err != nil {
			return err
		}
		if viaIndex != viaTable {
			add("the open index holds %d items, the items table %d open ones", viaIndex, viaTable)
		}
		for _, c := range []struct{ what, sql string }{
			{"items of no batch", `SELECT count(*) FROM payrun_items i WHERE NOT EXISTS (SELECT 1 FROM payrun_batches b WHERE b.id = i.batch_id)`},
			{"rejected rows of no batch", `SELECT count(*) FROM payrun_rejected r WHERE NOT EXISTS (SELECT 1 FROM payrun_batches b WHERE b.id = r.batch_id)`},
			// An event is applied (it has a fact) or waits in the queue;
			// one that is neither was lost between the two.
			{"events neither applied nor queued", `SELECT count(*) FROM payrun_events e
				WHERE NOT EXISTS (SELECT 1 FROM payrun_event_facts f WHERE f.provider = e.provider AND f.event_id = e.event_id)
				AND NOT EXISTS (SELECT 1 FROM payrun_event_queue q WHERE q.provider = e.provider AND q.event_id = e.event_id)`},
			{"events queued twice", `SELECT count(*) FROM (SELECT 1 FROM payrun_event_queue GROUP BY provider, event_id HAVING count(*) > 1) d`},
		} {
			n, err := count(c.sql)
			if err != nil {
				return err
			}
			if n > 0 {
				add("%d %s", n, c.what)
			}
		}
		// Each file journaled against its items and rejected rows. (A
		// batch imported without a file carries the counts its importer
		// gave, which tools and tests leave rough.)
		rows, err = tx.Query(ctx, `SELECT b.id, (b.batch->>'valid')::bigint, (b.batch->>'invalid')::bigint + (b.batch->>'duplicates')::bigint,
				(SELECT count(*) FROM payrun_items i WHERE i.batch_id = b.id),
				(SELECT count(*) FROM payrun_rejected r WHERE r.batch_id = b.id)
			FROM payrun_batches b WHERE b.state <> 'ingesting' AND b.sha256 <> '' ORDER BY b.id`)
		if err != nil {
			return err
		}
		var id string
		var valid, rejected, items, rejects int64
		_, err = pgx.ForEachRow(rows, []any{&id, &valid, &rejected, &items, &rejects}, func() error {
			if items != valid {
				add("batch %s says %d valid rows and has %d items", id, valid, items)
			}
			if rejects != rejected {
				add("batch %s says %d invalid or duplicate rows and has %d rejected rows", id, rejected, rejects)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return j.wrap(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %w", journal.ErrCorrupt, j.location, errors.Join(problems...))
	}
	return nil
}

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	bolt "go.etcd.io/bbolt"
)

// journalBatch is the batch of the million-item journal.
const journalBatch = "B20260302-bench00000"

// buildJournal imports n generated items into a fresh journal at path
// (most paid, one in twenty open, InFlight caught in sending), prints
// "ready" and waits to be killed: the parent sends SIGKILL, so the
// journal is opened next as after a crash.
func buildJournal(ctx context.Context, path string, n int) (Side, error) {
	j, err := boltjournal.Open(path, boltjournal.Options{NoSync: true, Now: func() time.Time { return genEpoch }})
	if err != nil {
		return Side{}, err
	}
	return fillAndWait(ctx, j, n)
}

// fillAndWait imports n generated items into j in 50,000-item chunks (most
// paid, one in twenty open, InFlight caught in sending), prints "ready"
// and keeps the journal open, as a daemon would, until the parent's
// SIGKILL.
func fillAndWait(ctx context.Context, j journal.Journal, n int) (Side, error) {
	const chunk = 50_000
	b := journal.Batch{ID: journalBatch, File: "payouts-2026-03-02.csv", Rows: n, Valid: n, Created: genEpoch,
		State: journal.BatchDispatching, Totals: []journal.Total{}}
	// The batch carries ingest's record of its rows, as an ingested one
	// does, so that matching it (the match stage) reads it as payrun
	// reconcile reads an ingested batch. Each chunk's Import writes the
	// batch again, with the totals so far: whole after the last.
	totals := map[[2]string]*journal.Total{}
	items := make([]journal.Item, 0, chunk)
	for start := 0; start < n; start += chunk {
		items = items[:0]
		for i := start; i < min(start+chunk, n); i++ {
			it := Item(journalBatch, i, journalState(i, n, InFlight))
			k := [2]string{it.Payout.Amount.Currency, it.Provider}
			if totals[k] == nil {
				totals[k] = &journal.Total{Currency: k[0], Provider: k[1]}
			}
			totals[k].Count++
			totals[k].Amount += it.Payout.Amount.Minor
			items = append(items, it)
		}
		b.Totals = b.Totals[:0]
		for _, t := range totals {
			b.Totals = append(b.Totals, *t)
		}
		journal.SortTotals(b.Totals)
		if err := j.Import(ctx, b, items); err != nil {
			return Side{}, err
		}
	}
	fmt.Fprintln(os.Stdout, "ready")
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Minute):
	}
	return Side{}, fmt.Errorf("journal build (%T): not killed", j)
}

// RecoveryOurs opens a journal left by a killed process and finds every
// item to resume: batch.Open, Dispatcher.Recover (in-flight items to
// in_doubt, committed), then an OpenItems scan of what is left to do.
func RecoveryOurs(path string) (Side, error) {
	return recoverJournal(func() (journal.Journal, error) { return boltjournal.Open(path, boltjournal.Options{}) })
}

// recoverJournal is RecoveryOurs on the journal open returns, the
// opening timed.
func recoverJournal(openJournal func() (journal.Journal, error)) (Side, error) {
	ctx := context.Background()
	start := time.Now()
	j, err := openJournal()
	if err != nil {
		return Side{}, err
	}
	defer j.Close()
	d := dispatch.NewDispatcher(j, nil, dispatch.DispatchOptions{})
	recovered, err := d.Recover(ctx)
	if err != nil {
		return Side{}, err
	}
	open, inDoubt := 0, 0
	if err := j.OpenItems(ctx, func(it journal.Item) bool {
		open++
		if it.State == journal.InDoubt {
			inDoubt++
		}
		return true
	}); err != nil {
		return Side{}, err
	}
	elapsed := time.Since(start)
	if recovered != InFlight || inDoubt < InFlight {
		return Side{}, fmt.Errorf("recovery: %d recovered, %d in doubt, want %d", recovered, inDoubt, InFlight)
	}
	return Side{Elapsed: elapsed, Items: open, Extra: map[string]float64{"in_doubt": float64(inDoubt)}}, nil
}

// RecoveryBaseline opens the same file with bare bbolt and scans the items
// bucket, picking out the items in doubt by a byte search of each item's
// JSON (expanded as the journal stores it).
func RecoveryBaseline(path string) (Side, error) {
	start := time.Now()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return Side{}, err
	}
	defer db.Close()
	n, sending := 0, 0
	marker := []byte(`"state":"in_doubt"`)
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("items"))
		if b == nil {
			return fmt.Errorf("no items bucket")
		}
		return b.ForEach(func(_, v []byte) error {
			n++
			raw, err := boltjournal.ItemJSON(v)
			if err != nil {
				return err
			}
			if bytes.Contains(raw, marker) {
				sending++
			}
			return nil
		})
	})
	if err != nil {
		return Side{}, err
	}
	return Side{Elapsed: time.Since(start), Items: n, Extra: map[string]float64{"in_doubt": float64(sending)}}, nil
}

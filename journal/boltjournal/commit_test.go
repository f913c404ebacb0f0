package boltjournal

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	bolt "go.etcd.io/bbolt"
)

func committerDB(t *testing.T) (*bolt.DB, *committer) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("k")); return err }); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db)
	t.Cleanup(func() { c.close(); db.Close() })
	return db, c
}

// A failing or panicking write gets its own error and leaves nothing;
// every other write of its group is committed.
func TestCommitterIsolatesFailures(t *testing.T) {
	db, c := committerDB(t)
	errs := make([]error, 300)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			errs[i] = c.write(func(tx *bolt.Tx) error {
				if err := tx.Bucket([]byte("k")).Put([]byte(strconv.Itoa(i)), []byte("v")); err != nil {
					return err
				}
				switch {
				case i%7 == 0:
					return fmt.Errorf("write %d refused", i)
				case i%50 == 1:
					panic("write " + strconv.Itoa(i))
				}
				return nil
			})
		})
	}
	wg.Wait()
	_ = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("k"))
		for i, err := range errs {
			stored := b.Get([]byte(strconv.Itoa(i))) != nil
			failed := i%7 == 0 || i%50 == 1
			if failed == (err == nil) || stored == failed {
				t.Errorf("write %d: err %v, stored %v", i, err, stored)
			}
		}
		return nil
	})
}

// Writes that arrive while a commit is on disk share the next one.
func TestCommitterGroupsWaitingWrites(t *testing.T) {
	_, c := committerDB(t)
	c.writing.Init()
	hold, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = c.write(func(*bolt.Tx) error {
			select {
			case <-held:
			default:
				close(held)
			}
			<-hold
			return nil
		})
	}()
	<-held
	const n = 50
	var mu sync.Mutex
	txs := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := c.write(func(tx *bolt.Tx) error {
				mu.Lock()
				txs[tx.ID()]++
				mu.Unlock()
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
	}
	for range n + 1 { // the held write, then the n waiting
		c.writing.Wait(t, 10*time.Second)
	}
	close(hold)
	wg.Wait()
	if len(txs) > 5 { // one each would be 50
		t.Fatalf("%d writes took %d transactions: %v", n, len(txs), txs)
	}
}

func TestCommitterClosed(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := newCommitter(db)
	c.close()
	if err := c.write(func(*bolt.Tx) error { return nil }); !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

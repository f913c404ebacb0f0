package boltjournal

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/payrun/payrun/journal"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Buckets of the journal. Keys are documented beside each.
var (
	bktMeta         = []byte("meta")          // "schema" -> version; "m:"+key -> a mark
	bktBatches      = []byte("batches")       // batch id -> Batch (JSON)
	bktBatchSHA     = []byte("batch_sha")     // sha256 hex -> batch id
	bktItems        = []byte("items")         // payout_id -> Item (layout.go)
	bktBatchItems   = []byte("batch_items")   // batch id, 0, row (8 bytes BE) -> payout_id
	bktOpen         = []byte("open")          // payout_id -> its state while not final
	bktTransitions  = []byte("transitions")   // sequence (8 bytes BE) -> Transition (layout.go)
	bktEventRecords = []byte("event_records") // sequence (8 bytes BE) -> event record (event_record.go, event_store.go)
	bktEventIndex   = []byte("event_index")   // provider, 0, event id -> record sequence, then its fact once applied or judged
	bktQueue        = []byte("event_queue")   // sequence (8 bytes BE) -> event key: persisted, not applied yet
	bktRefs         = []byte("refs")          // provider, 0, provider id or session id -> payout_id
	bktRejects      = []byte("rejects")       // batch id, 0, row -> RejectedRow (JSON)
	bktMail         = []byte("mail")          // message id -> QueuedMail (JSON)
	allBuckets      = [][]byte{bktMeta, bktBatches, bktBatchSHA, bktItems, bktBatchItems, bktOpen, bktTransitions,
		bktEventRecords, bktEventIndex, bktRefs, bktRejects, bktMail, bktQueue}

	// Schema 7 and earlier kept events under their keys and their facts
	// beside them; upgrades read these (indexEvents).
	bktEventsV7     = []byte("events")      // provider, 0, event id -> event record
	bktEventFactsV7 = []byte("event_facts") // provider, 0, event id -> EventFact once applied or judged
)

// schemaVersion names the layout of the journal's keys and values. A
// journal of another layout is upgraded when it is opened for writing, if
// this payrun knows how (upgrades), and refused (journal.ErrSchema)
// otherwise, rather than read wrongly.
//   - 1 is refused, not upgraded: the earliest version 1 journals stored
//     payouts under their Go field names, later ones under snake_case
//     names, some kept the open index without states, and none queued
//     webhook events; "1" does not say which.
//   - 2: payouts under snake_case JSON names, items stored without what
//     they repeat (layout.go), the open index holding states, webhook
//     events queued before they are applied.
//   - 3: webhook events stored as binary records carrying their facts
//     (event_record.go), the queue holding their keys.
//   - 4: the same buckets, and an intake log beside the file that may hold
//     acknowledged events not yet in it.
//   - 5: the same buckets, no intake log: events are stored by the group
//     commit that acknowledges them. A 4 is upgraded by moving what its
//     intake log holds into the file (intake.go).
//   - 6: transitions as binary records, and an event's fact reduced to
//     what became of the event when its record carries the rest
//     (layout.go). Records of 5 and earlier are read as they are, so the
//     upgrade rewrites nothing; the number keeps an older payrun from
//     misreading the new records.
//   - 7: items and event bodies compressed with dictionaries (dict.go).
//     Records of 6 and earlier are read as they are.
//   - 8: events' records in the order they came, under sequence numbers,
//     and an index by provider and event id holding their facts
//     (event_store.go). A 7 is upgraded by moving its events (indexEvents).
const schemaVersion = "8"

// schemaKey is where bktMeta keeps the version.
var schemaKey = []byte("schema")

// Journal is the bbolt driver of journal.Journal: one file, held by one
// process (a second one gets journal.ErrInUse within a second). Small
// writes (Apply, Persist, marks, mail) share group-committed transactions
// (commit.go); a file is ingested a thousand rows a transaction.
type Journal struct {
	db   *bolt.DB
	wr   *committer // nil when read-only, and while Open runs
	ro   bool
	path string
	now  func() time.Time
	// ingestMu runs one Ingest at a time: a batch left ingesting when
	// Ingest starts is then a crash's leftover, never a live ingest.
	ingestMu sync.Mutex
}

var _ journal.Journal = (*Journal)(nil)

// Options configure Open.
type Options struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// ReadOnly opens for reading only, under bbolt's shared lock (so it
	// still fails while another process holds the journal for writing),
	// and writes nothing: no upgrade, no clean-up.
	ReadOnly bool
	// NoSync skips fsync: for benchmarks of the journal's own cost only,
	// never for money.
	NoSync bool
	// SkipCheck skips the page check at open (tests that open a journal
	// many times; `payrun journal check` runs it on demand).
	SkipCheck bool
}

// Open opens (creating if needed) the journal at path with mode 0600. A
// second process gets journal.ErrInUse within a second. An existing file
// is checked first (that it holds the pages its meta page names, then
// bbolt's page check): a damaged one is refused with journal.ErrCorrupt
// rather than read until it crashes.
func Open(path string, o Options) (j *Journal, err error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	var db *bolt.DB
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// bbolt panics on some damaged pages (and a read that faults is a
		// panic here too); a damaged file is an error that says what to
		// do, never a crash. A file bbolt opened is closed; one it
		// panicked on while opening stays mapped, and so locked, until the
		// process ends, which a command does once it has said why.
		if p := recover(); p != nil {
			if db != nil {
				db.Close()
			}
			j, err = nil, corrupt(path, fmt.Errorf("%v", p))
		}
	}()
	if err := preflight(path); err != nil {
		return nil, err
	}
	if !o.SkipCheck {
		if err := verify(path); err != nil {
			return nil, err
		}
	}
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: o.ReadOnly, NoSync: o.NoSync,
		FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (stop the other process, or point --config at another journal)", journal.ErrInUse, path)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrChecksum) || errors.Is(err, berrors.ErrVersionMismatch) {
		return nil, corrupt(path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j = &Journal{db: db, path: path, now: now, ro: o.ReadOnly}
	fail := func(err error) (*Journal, error) {
		db.Close()
		if errors.Is(err, journal.ErrCorrupt) || errors.Is(err, journal.ErrSchema) {
			return nil, err
		}
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	if o.ReadOnly {
		err := db.View(func(tx *bolt.Tx) error {
			up, err := checkSchema(tx.Bucket(bktMeta))
			if up != nil {
				return fmt.Errorf("%w: its schema is %s, which this payrun upgrades to %s when it opens the journal for writing (every payrun command, and the daemon, do); do that once, then read it", journal.ErrSchema, up.from, schemaVersion)
			}
			return err
		})
		if err != nil {
			return fail(err)
		}
		return j, nil
	}
	err = db.Update(func(tx *bolt.Tx) error {
		up, err := checkSchema(tx.Bucket(bktMeta))
		if err != nil {
			return err
		}
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if up != nil {
			if err := up.run(tx, path); err != nil {
				return fmt.Errorf("upgrade from schema %s to %s (nothing changed): %w", up.from, schemaVersion, err)
			}
		}
		return tx.Bucket(bktMeta).Put(schemaKey, []byte(schemaVersion))
	})
	if err != nil {
		return fail(err)
	}
	// The intake log of a schema 4 journal was moved into the file by the
	// upgrade's transaction; only now that it is committed is it removed.
	if err := removeIntake(path + intakeSuffix); err != nil {
		return fail(err)
	}
	// A batch a crash left ingesting is removed with all it wrote: no
	// reader ever sees half a file.
	if err := j.DropStaging(context.Background()); err != nil {
		return fail(err)
	}
	j.wr = newCommitter(db)
	return j, nil
}

// verify reads every key and value of an existing journal file before it
// is opened for use. bbolt checks a page's header only when it reads the
// page, and panics when it is wrong; opening a file for writing makes bbolt
// walk every page on a goroutine of its own (to rebuild its free list),
// where such a panic would end the process. So the file is first opened
// read-only, which walks nothing, and read here, where a panic is
// recovered and becomes journal.ErrCorrupt. It reads the whole file once:
// about 0.4 s for a journal of a million payouts (640 MB) on the
// development machine, beside the 0.6 s bbolt's own open takes.
func verify(path string) error {
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return nil // missing or new: nothing to verify
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return fmt.Errorf("%w: %s (stop the other process, or point --config at another journal)", journal.ErrInUse, path)
	}
	if err != nil {
		return corrupt(path, err)
	}
	defer db.Close()
	return guard(path, func() error { return db.View(walk) })
}

// walk reads every key and value of every bucket.
func walk(tx *bolt.Tx) error {
	var sum byte
	err := tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if len(v) > 0 {
				sum ^= v[len(v)-1]
			}
			return nil
		})
	})
	_ = sum
	return err
}

// corrupt is the error for a damaged journal file: what is wrong and what
// to do.
func corrupt(path string, cause error) error {
	return fmt.Errorf("%w: %s: %v; restore it from the last backup (stop payrun, copy the backup over it), then run `payrun journal check`", journal.ErrCorrupt, path, cause)
}

// Close closes the journal after the group commit in progress.
func (j *Journal) Close() error {
	if j.wr != nil {
		j.wr.close()
	}
	return j.db.Close()
}

// update runs fn in a write transaction of its own, outside the group
// commit (ingest's chunks, imports, clean-ups), with the journal's page
// fill set.
func (j *Journal) update(fn func(*bolt.Tx) error) error {
	if j.ro {
		return journal.ErrReadOnly
	}
	return guard(j.path, func() error {
		return j.db.Update(func(tx *bolt.Tx) error {
			tuneFill(tx)
			return fn(tx)
		})
	})
}

// view runs fn in a read transaction; a panic of bbolt's over a damaged
// page becomes journal.ErrCorrupt.
func (j *Journal) view(fn func(*bolt.Tx) error) error {
	return guard(j.path, func() error { return j.db.View(fn) })
}

// guard runs fn, turning a panic into journal.ErrCorrupt: bbolt panics on
// pages it cannot read, and a damaged journal is an error that says what
// to do, not a crash.
func guard(path string, fn func() error) (err error) {
	// A read of a page that lies past the end of the mapped file faults;
	// made a panic, it is recovered below like bbolt's own.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = corrupt(path, fmt.Errorf("%v", p))
		}
	}()
	return fn()
}

// write runs fn in the journal's group commit (see committer) and returns
// once it is durable.
func (j *Journal) write(ctx context.Context, fn func(*bolt.Tx) error) error {
	if j.wr == nil {
		return journal.ErrReadOnly
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return j.wr.write(fn)
}

// Now returns the journal's clock.
func (j *Journal) Now() time.Time { return j.now() }

// Info describes the file.
func (j *Journal) Info(context.Context) (journal.Info, error) {
	inf := journal.Info{Driver: "bolt", Location: j.path}
	if fi, err := os.Stat(j.path); err == nil {
		inf.Bytes = fi.Size()
	}
	return inf, nil
}

// Check reads every page of the file, then runs bbolt's consistency check
// (every page reachable once, keys in order, the free pages).
func (j *Journal) Check(context.Context) error {
	if err := j.view(walk); err != nil {
		return err
	}
	var errs []error
	err := j.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
			if len(errs) == 20 {
				break
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return corrupt(j.path, errors.Join(errs...))
	}
	return nil
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func rowKey(batchID string, row int) []byte {
	k := make([]byte, 0, len(batchID)+9)
	k = append(k, batchID...)
	k = append(k, 0)
	return append(k, u64(uint64(row))...)
}

func refKey(provider, id string) []byte {
	return append(append([]byte(provider), 0), id...)
}

// getJSON decodes the value under key into v; ok is false when there is
// none. Items have their own layout: getItem.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// putJSON stores v under key as JSON. Items have their own layout:
// putItem.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}

// checkSchema refuses a journal whose layout is neither schemaVersion nor
// one this payrun upgrades from, and returns the upgrade a journal needs
// (nil for none). meta is nil in a journal never opened for writing.
func checkSchema(meta *bolt.Bucket) (*upgrade, error) {
	if meta == nil {
		return nil, nil
	}
	v := meta.Get(schemaKey)
	if v == nil || string(v) == schemaVersion {
		return nil, nil
	}
	for i := range upgrades {
		if upgrades[i].from == string(v) {
			return &upgrades[i], nil
		}
	}
	return nil, fmt.Errorf("%w: its schema is %s, this payrun reads %s; finish its batches with the payrun that wrote it, then give this one a new journal path", journal.ErrSchema, v, schemaVersion)
}

// errStop ends a ForEach early when a caller's fn returns false.
var errStop = errors.New("stop")

// stopped is err without the early end a caller asked for.
func stopped(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// Mark returns a bookkeeping value (schedule last runs).
func (j *Journal) Mark(_ context.Context, key string) (string, bool, error) {
	var v []byte
	err := j.view(func(tx *bolt.Tx) error {
		v = bytes.Clone(tx.Bucket(bktMeta).Get([]byte("m:" + key)))
		return nil
	})
	return string(v), len(v) > 0, err
}

// SetMark stores a bookkeeping value.
func (j *Journal) SetMark(ctx context.Context, key, value string) error {
	return j.write(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bktMeta).Put([]byte("m:"+key), []byte(value))
	})
}

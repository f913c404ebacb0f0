package batch

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

// Buckets of the journal. Keys are documented beside each.
var (
	bktMeta        = []byte("meta")        // "schema" -> version
	bktBatches     = []byte("batches")     // batch id -> Batch
	bktBatchSHA    = []byte("batch_sha")   // sha256 hex -> batch id
	bktItems       = []byte("items")       // payout_id -> Item
	bktBatchItems  = []byte("batch_items") // batch id, 0, row (8 bytes BE) -> payout_id
	bktOpen        = []byte("open")        // payout_id -> its state while not final
	bktTransitions = []byte("transitions") // sequence (8 bytes BE) -> Transition
	bktEvents      = []byte("events")      // provider, 0, event id -> event record (journal_event_record.go)
	bktRefs        = []byte("refs")        // provider, 0, provider id or session id -> payout_id
	bktRejects     = []byte("rejects")     // batch id, 0, row -> RejectedRow (invalid or duplicate rows)
	bktMail        = []byte("mail")        // message id -> QueuedMail
	allBuckets     = [][]byte{bktMeta, bktBatches, bktBatchSHA, bktItems, bktBatchItems, bktOpen, bktTransitions,
		bktEvents, bktRefs, bktRejects, bktMail, bktEventFacts, bktQueue}
)

// schemaVersion names the layout of the journal's keys and values. A
// journal of another layout is upgraded when it is opened for writing, if
// this payrun knows how (upgrades), and refused (ErrSchema) otherwise,
// rather than read wrongly.
//   - 1 is refused, not upgraded: the earliest version 1 journals stored
//     payouts under their Go field names (read by 2 as empty payouts), later
//     ones under snake_case names, some kept the open index without states,
//     and none queued webhook events; "1" does not say which.
//   - 2: payouts and beneficiaries under snake_case JSON names, items stored
//     without what they repeat (journal_layout.go), the open index holding
//     states, webhook events queued before they are applied.
//   - 3: webhook events stored as binary records carrying their facts
//     (journal_event_record.go), the queue holding their keys.
//   - 4: the same buckets as 3, and the intake log beside the file
//     (journal_intake.go), which may hold acknowledged events not yet in
//     it: a payrun that reads 3 would not look there, so it must refuse 4.
const schemaVersion = "4"

// schemaKey is where bktMeta keeps the version.
var schemaKey = []byte("schema")

// ErrSchema is returned by Open for a journal written in a layout this
// payrun does not read.
var ErrSchema = errors.New("journal written by another version of payrun")

// ErrInUse is returned when another process holds the journal.
var ErrInUse = errors.New("journal is in use by another payrun process")

// ErrNotFound is returned for an unknown batch or item.
var ErrNotFound = errors.New("not found")

// Journal is payrun's durable memory: batches, items and their state
// machine, the append-only transition log, and raw provider events, in one
// bbolt file. Every state change goes through Apply, which checks it against
// the graph in state.go and commits it (group-committed with other callers)
// before returning.
type Journal struct {
	db   *bolt.DB
	wr   *committer // nil when read-only
	in   *intakeLog // the webhook intake log; nil when read-only
	path string
	now  func() time.Time
	// ingestMu runs one Ingest at a time: a batch left ingesting when
	// Ingest starts is then a crash's leftover, never a live ingest.
	ingestMu sync.Mutex
}

// Options configure Open.
type Options struct {
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// ReadOnly opens for reading only, under bbolt's shared lock (so it
	// still fails while another process holds the journal for writing),
	// and writes nothing: no upgrade, no clean-up. No payrun command uses
	// it; tools that only read do.
	ReadOnly bool
	// NoSync skips fsync: for benchmarks of the journal's own cost only,
	// never for money.
	NoSync bool
}

// Open opens (creating if needed) the journal at path with mode 0600. A
// second process gets ErrInUse within a second.
func Open(path string, o Options) (*Journal, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: o.ReadOnly, NoSync: o.NoSync,
		FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (stop the other process, or point --config at another journal)", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j := &Journal{db: db, path: path, now: now}
	if o.ReadOnly {
		err := db.View(func(tx *bolt.Tx) error {
			up, err := checkSchema(tx.Bucket(bktMeta))
			if up != nil {
				return fmt.Errorf("%w: its schema is %s, which this payrun upgrades to %s when it opens the journal for writing (every payrun command, and the daemon, do); do that once, then read it", ErrSchema, up.from, schemaVersion)
			}
			return err
		})
		if err == nil {
			err = intakeLeft(path + intakeSuffix)
		}
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open journal %s: %w", path, err)
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
			if err := up.run(tx); err != nil {
				return fmt.Errorf("upgrade from schema %s to %s (nothing changed): %w", up.from, schemaVersion, err)
			}
		}
		return tx.Bucket(bktMeta).Put(schemaKey, []byte(schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	// A batch a crash left ingesting is removed with all it wrote
	// (batch/ingest_staging.go): no reader ever sees half a file.
	if err := j.dropStaging(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	// What a crash left in the intake log (acknowledged webhook events) is
	// moved into the journal before anything else reads it.
	if j.in, err = openIntake(path+intakeSuffix, db, o.NoSync); err != nil {
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j.in.flush = j.flushIntake
	if err := j.recoverIntake(); err != nil {
		j.in.f.Close()
		db.Close()
		return nil, fmt.Errorf("open journal %s: %w", path, err)
	}
	j.in.start()
	j.wr = newCommitter(db)
	return j, nil
}

// Close closes the journal after the group commit in progress, moving
// what the intake log holds into it first.
func (j *Journal) Close() error {
	var err error
	if j.in != nil {
		j.in.stop()
		err = j.recoverIntake()
		if cerr := j.in.f.Close(); err == nil {
			err = cerr
		}
	}
	if j.wr != nil {
		j.wr.close()
	}
	if cerr := j.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// update runs fn in a write transaction of its own, outside the group
// commit (ingest's chunks, imports, clean-ups), with the journal's page
// fill set.
func (j *Journal) update(fn func(*bolt.Tx) error) error {
	return j.db.Update(func(tx *bolt.Tx) error {
		tuneFill(tx)
		return fn(tx)
	})
}

// batch runs fn in the journal's group commit (see committer) and returns
// once it is durable.
func (j *Journal) batch(fn func(*bolt.Tx) error) error {
	if j.wr == nil {
		return errors.New("journal is open read-only")
	}
	return j.wr.write(fn)
}

// Path returns the journal's file.
func (j *Journal) Path() string { return j.path }

// Now returns the journal's clock.
func (j *Journal) Now() time.Time { return j.now() }

// Check runs bbolt's consistency check.
func (j *Journal) Check() error {
	return j.db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// Item is one payout row of a batch and everything known about it.
type Item struct {
	PayoutID string           `json:"payout_id"`
	BatchID  string           `json:"batch_id"`
	Row      int              `json:"row"`
	Provider string           `json:"provider"`
	Payout   providers.Payout `json:"payout"`
	State    State            `json:"state"`
	Reason   string           `json:"reason,omitempty"`
	Refs     providers.Refs   `json:"refs"`
	// Attempt is the fresh-submission counter passed to the provider
	// (providers.Payout.Attempt).
	Attempt int `json:"attempt,omitempty"`
	// Sends counts requests that may have reached the provider.
	Sends int `json:"sends,omitempty"`
	// Confirms counts confirmations sent (two-phase providers).
	Confirms int `json:"confirms,omitempty"`
	// Last is the last status the provider reported.
	Last providers.Status `json:"last,omitzero"`
	// Conflict describes a webhook and a status query that disagreed.
	Conflict string    `json:"conflict,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	// SentAt is when the first request left (for daily caps and ageing).
	SentAt time.Time `json:"sent_at,omitzero"`
	// NextPoll is when the poller should ask the provider next.
	NextPoll time.Time `json:"next_poll,omitzero"`
	Polls    int       `json:"polls,omitempty"`
}

// LookupRefs returns what a provider is asked about the item with: its
// references, with its payout_id and method, which the stored references
// may leave out.
func (it Item) LookupRefs() providers.Refs {
	refs := it.Refs
	refs.PayoutID, refs.Method = it.PayoutID, it.Payout.Method
	return refs
}

// Transition is one entry of the append-only log.
type Transition struct {
	Seq      uint64          `json:"seq"`
	PayoutID string          `json:"payout_id"`
	From     State           `json:"from"`
	To       State           `json:"to"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Reason   string          `json:"reason,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
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

// Item returns one item by payout_id.
func (j *Journal) Item(payoutID string) (Item, error) {
	var it Item
	err := j.db.View(func(tx *bolt.Tx) (err error) {
		it, err = itemIn(tx, payoutID)
		return err
	})
	return it, err
}

// Items calls fn for every item of a batch, in row order, until fn returns
// false.
func (j *Journal) Items(batchID string, fn func(Item) bool) error {
	return j.db.View(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		c := tx.Bucket(bktBatchItems).Cursor()
		prefix := append([]byte(batchID), 0)
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var it Item
			if ok, err := getItem(items, v, &it); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			if !fn(it) {
				return nil
			}
		}
		return nil
	})
}

// OpenItems calls fn for every item that is not final, until fn returns false.
func (j *Journal) OpenItems(fn func(Item) bool) error {
	return stopped(j.db.View(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		return tx.Bucket(bktOpen).ForEach(func(k, _ []byte) error {
			var it Item
			if ok, err := getItem(items, k, &it); err != nil || !ok {
				return err
			}
			if !fn(it) {
				return errStop
			}
			return nil
		})
	}))
}

// OpenStates calls fn with the payout_id and state of every item not yet
// final, from the open index alone: no item is decoded. Recovery after a
// crash looks for the few items in flight among all the open ones this
// way.
func (j *Journal) OpenStates(fn func(payoutID string, s State) bool) error {
	return stopped(j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktOpen).ForEach(func(k, v []byte) error {
			if !fn(string(k), State(v)) {
				return errStop
			}
			return nil
		})
	}))
}

// checkSchema refuses a journal whose layout is neither schemaVersion nor
// one this payrun upgrades from, and returns the upgrade a journal needs
// (nil for none). meta is nil in a journal never opened for writing (a new
// file).
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
	return nil, fmt.Errorf("%w: its schema is %s, this payrun reads %s; finish its batches with the payrun that wrote it, then give this one a new journal path", ErrSchema, v, schemaVersion)
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

// AllItems calls fn for every item, in payout_id order.
func (j *Journal) AllItems(fn func(Item) bool) error {
	return stopped(j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktItems).ForEach(func(k, v []byte) error {
			var it Item
			if err := decodeItem(k, v, &it); err != nil {
				return err
			}
			if !fn(it) {
				return errStop
			}
			return nil
		})
	}))
}

// PayoutByRef returns the payout_id a provider's own id or session id
// belongs to.
func (j *Journal) PayoutByRef(provider, id string) (string, bool) {
	var out string
	_ = j.db.View(func(tx *bolt.Tx) error {
		out = string(tx.Bucket(bktRefs).Get(refKey(provider, id)))
		return nil
	})
	return out, out != ""
}

// Transitions calls fn for every transition of a payout, oldest first.
// It scans the log; it is for operators and tests, not hot paths.
func (j *Journal) Transitions(payoutID string, fn func(Transition)) error {
	return j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bktTransitions).ForEach(func(_, v []byte) error {
			var t Transition
			if err := json.Unmarshal(v, &t); err != nil {
				return err
			}
			if payoutID == "" || t.PayoutID == payoutID {
				fn(t)
			}
			return nil
		})
	})
}

// Size returns the journal file's size in bytes.
func (j *Journal) Size() int64 {
	fi, err := os.Stat(j.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// refsFor returns the references an item starts with.
func refsFor(p providers.Payout) providers.Refs {
	return providers.Refs{PayoutID: p.ID, Method: p.Method}
}

// Meta returns a bookkeeping value (schedule last runs).
func (j *Journal) Meta(key string) (string, bool) {
	var v []byte
	_ = j.db.View(func(tx *bolt.Tx) error {
		v = append([]byte(nil), tx.Bucket(bktMeta).Get([]byte("m:"+key))...)
		return nil
	})
	return string(v), len(v) > 0
}

// SetMeta stores a bookkeeping value.
func (j *Journal) SetMeta(key, value string) error {
	return j.batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bktMeta).Put([]byte("m:"+key), []byte(value))
	})
}

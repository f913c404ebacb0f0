package journal

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// Journal is payrun's durable memory, as the rest of payrun sees it: the
// batches and their items, every item's state under the graph in state.go,
// the append-only transition log, the raw provider events and what became
// of them, the mail queue and the schedules' marks. A driver keeps it in
// one store (boltjournal: one bbolt file, the default; pgjournal:
// PostgreSQL, shared by several daemons).
//
// The contract every driver keeps, and that journaltest.Exercise checks:
//
//   - Durable before return. A write returns after it is committed and
//     synced; a caller that acknowledges something (a webhook, a provider
//     request about to leave) may do so once the write returned nil.
//   - All or nothing. The changes of one Apply, the rows of one Ingest, the
//     events of one Persist and the queued events of one ApplyQueued commit
//     together or not at all.
//   - One state graph. Every state change goes through ApplyTo, which checks
//     it against the graph (CanMove) and refuses anything else with
//     *ErrTransition; a conditional change (Change.From) is a compare-and-set
//     that fails with ErrConflict when another writer moved the item first.
//   - Exactly once. A file's content is journaled once (BatchBySHA); a
//     payout_id is an item once, forever, across batches; a provider event
//     (provider, event id) is stored and applied once; a replay key seen
//     before refuses its delivery.
//   - No card number at rest. Raw provider payloads (transition payloads,
//     event bodies) are scrubbed (pan.Scrub) before they are stored.
//   - Cancellation. A cancelled ctx abandons a write that has not committed;
//     it never leaves half of one.
//
// Methods are safe for concurrent use. Reads see committed writes only.
// Iterating methods call fn until it returns false; fn must not call back
// into the journal's writes (a driver may hold a read transaction).
type Journal interface {
	Batches
	Items
	Events
	Mail
	Marks

	// Now is the journal's clock: every time it records comes from it, and
	// callers that decide by time (caps per day, resend delays) use it too.
	Now() time.Time
	// Info describes the store (for status pages, benchmarks and errors).
	Info(ctx context.Context) (Info, error)
	// Check verifies the store's integrity (bbolt's page check; the
	// database's constraints and counts) and returns every problem found.
	Check(ctx context.Context) error
	// Close waits for writes in progress and releases the store.
	Close() error
}

// Batches is the part of the journal that keeps payout files.
type Batches interface {
	// Ingest validates a payout file and journals it as a batch, once
	// however often the same content is ingested (the result is then
	// Recognised). Every row becomes an item (accepted) or a rejected row
	// (invalid, or a duplicate of a payout_id an earlier batch journaled).
	// A rejected file changes nothing.
	Ingest(ctx context.Context, path string, o IngestOptions) (*IngestResult, error)
	// Import journals a batch built elsewhere (tools, benchmarks, tests and
	// `payrun journal copy`): its items start in the state they carry, and a
	// payout_id already journaled is refused.
	Import(ctx context.Context, b Batch, items []Item) error
	// ImportRejected journals rejected rows built elsewhere, as Import does.
	ImportRejected(ctx context.Context, rows []RejectedRow) error
	// Batch returns one batch (ErrNotFound).
	Batch(ctx context.Context, id string) (Batch, error)
	// BatchBySHA returns the batch journaled for a file's content, if any.
	BatchBySHA(ctx context.Context, sha string) (Batch, bool, error)
	// ListBatches returns every batch, newest first.
	ListBatches(ctx context.Context) ([]Batch, error)
	// SetBatch changes a batch's bookkeeping (state, approval) in one write;
	// fn may run more than once and must be deterministic.
	SetBatch(ctx context.Context, id string, fn func(*Batch) error) error
	// RejectedRows calls fn for every invalid or duplicate row of a batch,
	// in row order.
	RejectedRows(ctx context.Context, batchID string, fn func(RejectedRow) bool) error
}

// Items is the part of the journal that keeps payouts and their states.
type Items interface {
	// Item returns one item by payout_id (ErrNotFound).
	Item(ctx context.Context, payoutID string) (Item, error)
	// BatchItems calls fn for every item of a batch, in row order.
	BatchItems(ctx context.Context, batchID string, fn func(Item) bool) error
	// OpenItems calls fn for every item that is not final.
	OpenItems(ctx context.Context, fn func(Item) bool) error
	// OpenStates calls fn with the payout_id and state of every item that is
	// not final, without reading the items: recovery finds the few in flight
	// among all the open ones this way.
	OpenStates(ctx context.Context, fn func(payoutID string, s State) bool) error
	// AllItems calls fn for every item, in payout_id order.
	AllItems(ctx context.Context, fn func(Item) bool) error
	// Owners returns, of ids, those journaled as items, with the batch,
	// row and amount of each.
	Owners(ctx context.Context, ids []string) (map[string]Owner, error)
	// PayoutByRef returns the payout_id a provider's own id or session id
	// belongs to.
	PayoutByRef(ctx context.Context, provider, id string) (string, bool, error)
	// Apply commits changes, each checked by ApplyTo, all together or none.
	// Concurrent callers may share a transaction (a group commit): a
	// Change's Update function may run more than once.
	Apply(ctx context.Context, changes ...Change) error
	// Update changes an item's bookkeeping (poll times, conflict notes)
	// without a state change; fn may run more than once.
	Update(ctx context.Context, payoutID string, fn func(*Item)) error
	// Transitions calls fn for every transition of a payout (all payouts
	// when payoutID is ""), oldest first. For operators and tests.
	Transitions(ctx context.Context, payoutID string, fn func(Transition) bool) error
}

// Events is the part of the journal that keeps what providers said.
type Events interface {
	// Persist keeps a verified notification before it is acknowledged:
	// each new raw event is stored and queued for ApplyQueued, in order; an
	// event stored before (a duplicate delivery) is not stored again, and a
	// new replay key is kept with it; a receipt whose replay key was seen
	// before is refused whole (replay=true, nothing kept). fresh counts the
	// new events. A receipt of no events writes nothing.
	Persist(ctx context.Context, r Receipt) (replay bool, fresh int, err error)
	// ApplyQueued applies up to max queued events, oldest first, in one
	// transaction: judge applies each to its item through tx, and the
	// event's fact is recorded and the event leaves the queue in the same
	// commit, so that a crash applies an event wholly or not at all, and
	// never twice. It stops at an event judge leaves for later and returns
	// its fact: the caller applies it outside any transaction (a provider
	// call) and records it with MarkEventFact, after which the next call
	// takes it off the queue. n counts the events that left the queue; n ==
	// 0 and later == nil means the queue is empty. An error from judge
	// fails the whole transaction. A call that takes nothing off the queue
	// writes nothing.
	ApplyQueued(ctx context.Context, max int, judge Judge) (n int, later *EventFact, err error)
	// MarkEventFact records what became of an event ApplyQueued left for
	// later; f.Received, when zero, is the event's.
	MarkEventFact(ctx context.Context, applied bool, note string, f EventFact) error
	// Queued returns how many persisted events wait to be applied.
	Queued(ctx context.Context) (int, error)
	// Event returns one stored event with what became of it.
	Event(ctx context.Context, provider, id string) (Event, bool, error)
	// ListEvents calls fn for every stored event.
	ListEvents(ctx context.Context, fn func(Event) bool) error
	// EventFacts calls fn for every event that was applied or judged.
	EventFacts(ctx context.Context, fn func(EventFact) bool) error
}

// Judge applies one queued event inside ApplyQueued's transaction.
type Judge func(tx EventTx, f EventFact) (Judged, error)

// EventTx is ApplyQueued's transaction, seen through what the receiver's
// rules read and write. It is valid only during the Judge call it is
// passed to.
type EventTx interface {
	// Item returns one item by payout_id (ErrNotFound).
	Item(payoutID string) (Item, error)
	// PayoutByRef returns the payout_id a provider id or session id
	// belongs to.
	PayoutByRef(provider, id string) (string, bool, error)
	// ApplyStatus is the package's ApplyStatus inside the transaction.
	ApplyStatus(payoutID, actor string, st providers.Status) (bool, error)
	// Update is Journal.Update inside the transaction.
	Update(payoutID string, fn func(*Item)) error
}

// Mail is the part of the journal that keeps messages until they are sent.
type Mail interface {
	// EnqueueMail stores a message until MarkMailSent; enqueueing an id
	// again keeps the first message.
	EnqueueMail(ctx context.Context, id string, eml []byte) error
	// PendingMail returns the messages not sent yet, oldest first.
	PendingMail(ctx context.Context) ([]QueuedMail, error)
	// MarkMailSent records a delivery (idempotent); a non-nil sendErr
	// records a failed try instead.
	MarkMailSent(ctx context.Context, id string, sendErr error) error
}

// Marks keeps small bookkeeping values: the schedules' last runs.
type Marks interface {
	Mark(ctx context.Context, key string) (string, bool, error)
	SetMark(ctx context.Context, key, value string) error
}

// Info describes a journal's store.
type Info struct {
	// Driver is "bolt" or "postgres".
	Driver string `json:"driver"`
	// Location is the file, or the database with its password removed.
	Location string `json:"location"`
	// Bytes is what the store takes on disk (the file; the database's
	// tables and indexes), 0 when unknown.
	Bytes int64 `json:"bytes"`
	// Shared says several payrun processes may use the store at once
	// (PostgreSQL); an embedded store is held by one process.
	Shared bool `json:"shared"`
}

// Errors every driver returns, so that callers decide by errors.Is.
var (
	// ErrNotFound is an unknown batch, item or event.
	ErrNotFound = errors.New("not found")
	// ErrConflict is a conditional change that found the item in another
	// state than it expected.
	ErrConflict = errors.New("item changed state concurrently")
	// ErrBatchExists is a batch id taken by another file.
	ErrBatchExists = errors.New("batch id already used by another file")
	// ErrSchema is a store written in a layout this payrun does not read.
	ErrSchema = errors.New("journal written by another version of payrun")
	// ErrInUse is an embedded store another process holds.
	ErrInUse = errors.New("journal is in use by another payrun process")
	// ErrCorrupt is a store that fails its integrity check.
	ErrCorrupt = errors.New("journal is damaged")
	// ErrClosed is a write to a closed journal.
	ErrClosed = errors.New("journal is closed")
	// ErrReadOnly is a write to a journal opened read-only.
	ErrReadOnly = errors.New("journal is open read-only")
)

// Redact returns a journal location without its password, for messages
// and status pages: the URL's own, and the password and sslpassword
// parameters PostgreSQL also takes in the query. A URL it cannot read
// keeps only its scheme: what follows might hold a password.
func Redact(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		if scheme, _, ok := strings.Cut(location, "://"); ok {
			return scheme + "://…"
		}
		return location
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
				q[k] = []string{"xxxxx"}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

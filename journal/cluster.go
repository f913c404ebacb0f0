package journal

import (
	"context"
	"errors"
	"time"
)

// Cluster is the optional ability of a journal that several payrun
// processes share (Info().Shared: pgjournal): each process is a node with
// a lease it renews, and the store decides what nodes could race for.
// payrun's guarantees hold for the cluster as for one process:
//
//   - A payout is sent by one node. Claim moves queued items to sending
//     for this node in one transaction, skipping items another node is
//     claiming; the intent is durable before the request leaves, as ever.
//     An item in sending (or confirming) is held by the node that moved it
//     there; a conditional change that names a Holder applies only while
//     that node still holds the item.
//   - A node that stops renewing loses what it held, never blindly: once
//     its lease has lapsed and its Grace (the longest a request it started
//     may still be out) has passed, TakeOver moves its items on, sending to
//     in doubt, so that the provider is asked before anything is sent
//     again. A node starts no request once its own lease has lapsed
//     (Lease.Holds), so nothing it sent can still be out by then.
//   - One leader at a time (Lead), for what must happen once in the
//     cluster (cron schedules, the folder intake), taken over when its
//     lease lapses.
//   - One rate limit per provider for the cluster (UpdateBudget: a token
//     bucket row changed atomically).
//
// A journal without this ability (bbolt) is held by one process, which is
// the whole cluster.
type Cluster interface {
	// Lease returns this node's lease as it stands now.
	Lease() Lease
	// Nodes returns every node the store knows, live or lapsed, oldest
	// first.
	Nodes(ctx context.Context) ([]Node, error)
	// Claim moves up to r.Max queued items of r.Provider to sending, held
	// by this node, in one transaction, and returns them as written. Items
	// another transaction holds locked are skipped, not waited for.
	Claim(ctx context.Context, r ClaimRequest) ([]Item, error)
	// TakeOver moves every item held by a node that is gone (its lease
	// lapsed more than its Grace ago, it left, or it is this node's own
	// earlier run on this machine) by the change fn returns for it, and
	// returns how many moved. The change is made conditional on the item's
	// state and holder as read, under its lock.
	TakeOver(ctx context.Context, fn func(Item) Change) (int, error)
	// Exclusive runs fn while this node holds the cluster-wide lock name;
	// it waits for another node holding it. The lock goes with the
	// connection that holds it.
	Exclusive(ctx context.Context, name string, fn func(ctx context.Context) error) error
	// HasQueued reports whether any item waits in queued.
	HasQueued(ctx context.Context) (bool, error)
	// Lead takes or renews the leadership of role for this node for ttl,
	// if no other node holds it, and returns who leads now.
	Lead(ctx context.Context, role string, ttl time.Duration) (Leadership, error)
	// Resign gives up role if this node holds it.
	Resign(ctx context.Context, role string) error
	// Leaders returns every role's leadership.
	Leaders(ctx context.Context) ([]Leadership, error)
	// UpdateBudget changes a provider's shared budget atomically: fn gets
	// the row as it stands (zero for a provider without one) and the
	// store's clock, which every node shares; it may run more than once.
	UpdateBudget(ctx context.Context, provider string, fn func(b *Budget, now time.Time)) (Budget, error)
	// Budgets returns every provider's budget.
	Budgets(ctx context.Context) ([]Budget, error)
	// Notify wakes every node listening on channel, once the current
	// transactions commit.
	Notify(ctx context.Context, channel string) error
	// Listen calls fn for each notification on channels until ctx ends,
	// on a connection of its own, connecting again after a failure (fn is
	// then called once for each channel, as a missed notification may have
	// been lost). It returns ctx's error.
	Listen(ctx context.Context, fn func(channel string), channels ...string) error
}

// Channels a Cluster notifies on.
const (
	// ChannelEvents is notified when webhook events are queued.
	ChannelEvents = "payrun_events"
	// ChannelWork is notified when items are queued for sending.
	ChannelWork = "payrun_work"
)

// NodeOptions say how a process takes part in a cluster.
type NodeOptions struct {
	// Name names the node, unique in the cluster (default: the host name).
	Name string
	// Role is what the process does ("serve", "process", ...), for
	// operators.
	Role string
	// Addr is where the node's HTTP server listens, for operators.
	Addr string
	// Lease is how long a renewal holds (default 15 s); the node renews it
	// every third of it.
	Lease time.Duration
	// Grace is the longest a provider request may last (default 30 s): a
	// lapsed node's items are taken over Grace after its lease's end.
	Grace time.Duration
}

// Node is one payrun process of a cluster.
type Node struct {
	// ID is the node's run: a process joining again, or a node that
	// lost its lease and joins again, is a new ID under the same Name.
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Role    string    `json:"role"`
	Addr    string    `json:"addr,omitempty"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"`
	// Renewed is the last renewal, LeaseUntil its end (the store's clock).
	Renewed    time.Time     `json:"renewed"`
	LeaseUntil time.Time     `json:"lease_until"`
	Grace      time.Duration `json:"grace"`
	// Live says the lease has not lapsed; Holding counts the items the
	// node holds (sending, confirming).
	Live    bool `json:"live"`
	Holding int  `json:"holding"`
}

// Lease is a node's lease as the node itself sees it.
type Lease struct {
	// Node is the node's ID ("" before it joined).
	Node string
	// Until is the local time before which the node may start a provider
	// request: the lease's end by the store's clock, measured from before
	// the renewal was sent, less a margin. Zero once lost.
	Until time.Time
	// Err says why the last renewal failed (nil when it succeeded).
	Err error
}

// Holds reports whether the lease is node's and still holds at now.
func (l Lease) Holds(node string, now time.Time) bool {
	return l.Node != "" && l.Node == node && now.Before(l.Until)
}

// ClaimRequest is what Claim takes.
type ClaimRequest struct {
	Provider string
	// Batches limits the claim to these batches (nil: any).
	Batches []string
	// Max bounds the items claimed.
	Max int
	// Skip are payout_ids not to claim (the caller gave up on them).
	Skip []string
	// Change is applied to each item claimed (PayoutID, From and To are
	// set by Claim: queued to sending).
	Change Change
}

// Leadership is who leads a role, and until when (the store's clock).
type Leadership struct {
	Role  string    `json:"role"`
	Node  string    `json:"node"`
	Name  string    `json:"name"`
	Until time.Time `json:"until"`
	// Mine says this node leads; Local is the local time before which it
	// may act as leader (zero when not Mine).
	Mine  bool      `json:"mine"`
	Local time.Time `json:"-"`
}

// Budget is one provider's rate budget, shared by the cluster: a token
// bucket whose rate the dispatcher learns from the provider's refusals.
// The journal stores it; the dispatcher owns its rules.
type Budget struct {
	Provider string `json:"provider"`
	// Ceiling is the configured rate, Rate the one in force (learned,
	// never above Ceiling), Burst the bucket's size.
	Ceiling float64 `json:"ceiling"`
	Rate    float64 `json:"rate"`
	Burst   float64 `json:"burst"`
	// Tokens at At; negative when requests are reserved ahead.
	Tokens float64   `json:"tokens"`
	At     time.Time `json:"at"`
	// Accepted counts requests the provider accepted in the second that
	// began at Second, Previous in the one before.
	Second   time.Time `json:"second"`
	Accepted int       `json:"accepted"`
	Previous int       `json:"previous"`
	// Limit is the provider's limit as last learned (0: none seen); Cut
	// when it was learned; Probe when the rate may next rise.
	Limit float64   `json:"limit,omitempty"`
	Cut   time.Time `json:"cut,omitzero"`
	Probe time.Time `json:"probe,omitzero"`
	// Granted and Refused count tokens given and refusals reported.
	Granted int64 `json:"granted"`
	Refused int64 `json:"refused"`
	// Senders are the nodes that reserved tokens lately, with when they
	// last did: they share the provider's concurrency.
	Senders map[string]time.Time `json:"senders,omitempty"`
}

// ErrLeaseLost is a write refused because this node's lease lapsed.
var ErrLeaseLost = errors.New("this node's lease lapsed")

// Package dispatch sends payouts to their providers, exactly once: one pool
// per provider (token-bucket rate, a cap on requests in flight, Retry-After,
// a circuit breaker), the intent committed to the journal before each
// request leaves, anything in doubt resolved by asking the provider before
// it is sent again (ResolveInDoubt), and the two-phase confirm rule
// (Settle: only the journaled session of a payout is confirmed, and only
// when the provider's amount, currency and recipient match the row). It
// also holds the gates before money moves: caps per day or batch, and the
// pre-flight (CheckBatch, Approve).
//
// On a journal several payrun processes share (journal.Cluster) the same
// rules hold for the cluster: a node claims queued items and holds them
// under its lease, stops sending when the lease lapses, takes over what
// gone nodes held through the in-doubt path (claim.go), and every node
// draws a provider's requests from one token bucket in the journal, whose
// rate follows the provider's refusals (budget.go); within a node, polls
// still take only what its sends and confirms leave (pool.go).
//
// It talks to the journal through journal.Journal and to providers through
// the providers contract; it imports nothing of reconcile, reports,
// internal/app, internal/daemon or cmd.
//
//	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{Pools: pools})
//	sum, err := d.Run(ctx, []string{batchID}, nil) // returns when nothing is left to send
package dispatch

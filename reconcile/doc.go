// Package reconcile is where the truth about every payout is established:
// the webhook receiver (verify, persist, acknowledge), the status poller
// (ask the provider about what is still open) and the matcher, which places
// every input row in exactly one Category, totals them per currency and
// provider, and proves the tie-out (input total = sum of categories).
//
//	res, err := reconcile.Match(journal, reconcile.Scope{BatchID: id}, now)
//	if !res.Balanced() { /* a row was lost or counted twice: a bug */ }
package reconcile

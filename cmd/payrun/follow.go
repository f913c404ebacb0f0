package main

import (
	"context"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// follow polls the providers about the batches' open payouts until every
// one is final or waits on someone else (a beneficiary, or a webhook that
// only the provider can send), or until wait has passed. Webhooks, when a
// receiver runs, settle items sooner; polling makes sure they settle even
// when no webhook ever comes.
func (rt *app) follow(ctx context.Context, ids []string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	poll := rt.poller()
	interval := 200 * time.Millisecond
	for {
		// The poller hands in-doubt items to the dispatcher's resolver.
		if err := poll(ctx); err != nil {
			rt.log.Warn("poll", "err", err)
		}
		open, err := rt.openItems(ctx, ids)
		if err != nil {
			return err
		}
		if open == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			rt.log.Warn("stopped following; the daemon or 'payrun reconcile' keeps asking", "open", open)
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		interval = min(interval*3/2, 5*time.Second)
	}
}

// openItems counts the items of the batches that still need payrun: not
// final and not waiting on someone else (a beneficiary, an approver, or a
// notification only the provider can send: a payout the provider cannot
// be asked about, such as a Monnet payout whose Id payrun never learned
// because the answer to its creation was lost).
func (rt *app) openItems(ctx context.Context, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		err := rt.j.BatchItems(ctx, id, func(it journal.Item) bool {
			if !it.State.Final() && it.State != journal.AwaitingBeneficiary && it.State != journal.Held && !rt.notifiedOnly(it) {
				n++
			}
			return true
		})
		if err != nil {
			return 0, err
		}
	}
	return n, nil
}

// notifiedOnly reports whether only the provider's notification can tell
// what became of a submitted payout: its provider cannot look it up.
func (rt *app) notifiedOnly(it journal.Item) bool {
	p, ok := rt.provs[it.Provider]
	if !ok || it.State != journal.Submitted {
		return false
	}
	return !providers.CanLookup(p, it.LookupRefs())
}

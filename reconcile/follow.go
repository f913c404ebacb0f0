package reconcile

import (
	"context"
	"log/slog"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Follow polls the open payouts of the batches until none needs payrun any
// more, or until wait has passed, or ctx ends: what `payrun process` and
// the demo do after sending. Webhooks, when a receiver runs, settle items
// sooner; polling makes sure they settle even when no webhook comes. It
// returns how many payouts still need payrun (0: done).
func Follow(ctx context.Context, j journal.Journal, provs map[string]providers.Provider, pl *Poller, ids []string, wait time.Duration, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	deadline := j.Now().Add(wait)
	interval := 200 * time.Millisecond
	for {
		// The poller hands in-doubt items to the dispatcher's resolver.
		if _, err := pl.RunOnce(ctx); err != nil && ctx.Err() == nil {
			log.Warn("poll", "err", err)
		}
		open, err := NeedingPayrun(ctx, j, provs, ids)
		if err != nil || open == 0 {
			return open, err
		}
		if j.Now().After(deadline) {
			log.Warn("stopped following; the daemon or 'payrun reconcile' keeps asking", "open", open)
			return open, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return open, ctx.Err()
		case <-t.C:
		}
		interval = min(interval*3/2, 5*time.Second)
	}
}

// NeedingPayrun counts the payouts of the batches that still need payrun:
// not final, and not waiting on someone else (a beneficiary, an approver,
// or a notification only the provider can send: a payout the provider
// cannot be asked about, such as a Monnet payout whose Id payrun never
// learned because the answer to its creation was lost).
func NeedingPayrun(ctx context.Context, j journal.Journal, provs map[string]providers.Provider, ids []string) (int, error) {
	n := 0
	for _, id := range ids {
		err := j.BatchItems(ctx, id, func(it journal.Item) bool {
			if NeedsPayrun(it, provs, j.Now()) {
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

// NeedsPayrun reports whether payrun still has something to do for an
// item (see NeedingPayrun).
func NeedsPayrun(it journal.Item, provs map[string]providers.Provider, now time.Time) bool {
	if it.State.Final() || it.State == journal.AwaitingBeneficiary || it.State == journal.Held {
		return false
	}
	if it.State == journal.InDoubt && it.NextPoll.After(now.Add(time.Minute)) {
		return false // waits for the provider's clock: a lost link's expiry
	}
	if p, ok := provs[it.Provider]; ok && it.State == journal.Submitted && !providers.CanLookup(p, it.LookupRefs()) {
		return false
	}
	return true
}

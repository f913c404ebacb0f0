package dispatch

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"golang.org/x/sync/errgroup"
)

// ResolveInDoubt settles every in-doubt item it can, per provider, before
// anything is sent again (DESIGN.md "Exactly once"):
//
//   - with a provider reference (Monnet Id, TeemoPay tradeNo, Bank 131
//     session), or at a provider that looks up by merchant reference
//     (TeemoPay, Monnet Payin): ask. A status is applied; "not found" by
//     merchant reference proves the payout was never created, so it is
//     queued again with the same reference.
//   - at a two-phase provider without a session id, or whose session
//     holds no payout (its start was lost): the session can never move
//     money without our confirm, which only the journaled session gets;
//     queue a fresh session
//     (Attempt+1). If the orphan ever reaches ready_to_confirm, Settle
//     cancels it.
//   - at a provider that refuses duplicates (Monnet 2005): after
//     ResendAfter, queue a resend of the same reference; the provider
//     answers with the payout, or with a duplicate error that proves it
//     exists.
//
// Items it cannot settle yet stay in doubt for the next pass.
func (d *Dispatcher) ResolveInDoubt(ctx context.Context) error {
	var ids []string
	if err := d.j.OpenStates(ctx, func(id string, s journal.State) bool {
		if s == journal.InDoubt {
			ids = append(ids, id)
		}
		return true
	}); err != nil {
		return err
	}
	// The items in doubt, by provider: each provider's are asked about
	// and resent on their own, within that provider's budget, so that a
	// slow provider's lookups and resends never hold up another's.
	byProvider := map[string][]journal.Item{}
	for _, id := range ids {
		if ctx.Err() != nil {
			return nil
		}
		it, err := d.j.Item(ctx, id)
		if err != nil {
			return err
		}
		if it.State != journal.InDoubt {
			continue // settled meanwhile
		}
		if it.NextPoll.After(d.j.Now()) {
			continue // waits for the provider (a lost link's expiry)
		}
		if _, ok := d.provs[it.Provider]; !ok {
			continue
		}
		byProvider[it.Provider] = append(byProvider[it.Provider], it)
	}
	var g errgroup.Group
	for prov, its := range byProvider {
		p := d.provs[prov]
		g.Go(func() error {
			// What was proven safe to send again (or to resend as a
			// refused duplicate).
			var again []string
			for _, it := range its {
				if ctx.Err() != nil {
					return nil
				}
				ok, err := d.resolve(ctx, p, it)
				if errors.Is(err, journal.ErrConflict) {
					continue // another node (or a webhook) resolved it meanwhile
				}
				if err != nil {
					d.log.Warn("in-doubt payout not resolved yet", "payout", it.PayoutID, "provider", it.Provider, "err", err)
					continue
				}
				if ok {
					again = append(again, it.PayoutID)
				}
			}
			if len(again) == 0 {
				return nil
			}
			var done atomic.Int64
			return d.runPool(ctx, p, d.pools[prov], &listSource{ids: again}, &done)
		})
	}
	return g.Wait()
}

// resolve settles one in-doubt item and reports whether it was queued for
// a resend.
func (d *Dispatcher) resolve(ctx context.Context, p providers.Provider, it journal.Item) (bool, error) {
	caps := p.Capabilities()
	refs := it.LookupRefs()
	// Resolution shares the provider's rate limit: after a crash many items
	// may be in doubt at once, and a flood of lookups would only be refused.
	lctx, err := d.WaitUrgent(ctx, p.Name())
	if err != nil {
		return false, err
	}
	rctx, cancel := context.WithTimeout(lctx, d.o.RequestTimeout)
	start := time.Now()
	st, err := p.Lookup(rctx, refs)
	cancel()
	if d.o.Observe != nil {
		d.o.Observe(p.Name(), "lookup", time.Since(start), err)
	}
	hasRef := refs.ProviderID != "" || refs.SessionID != ""
	switch {
	case err == nil:
		applied, aerr := journal.ApplyStatus(ctx, d.j, it.PayoutID, "resolver", st)
		if aerr == nil && st.Outcome == providers.AwaitingConfirmation {
			aerr = settle(ctx, d.j, p, st, "resolver", d.urgent(p.Name()))
		}
		if aerr == nil && !applied && st.Outcome == providers.AwaitingBeneficiary {
			aerr = d.waitForLostLink(ctx, p, it, st)
		}
		return false, aerr
	case errors.Is(err, providers.ErrNotFound) && (caps.LookupByReference && !hasRef):
		return true, d.j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Queued, Actor: "resolver", From: journal.InDoubt,
			Reason: notFoundReason(err)})
	case errors.Is(err, providers.ErrRateLimited):
		if pl, ok := d.pools[p.Name()]; ok {
			pl.rateLimited(providers.RetryAfter(err))
		}
		return false, err
	case errors.Is(err, providers.ErrUnsupported) || (errors.Is(err, providers.ErrNotFound) && !hasRef):
		// No way to ask: use the provider's own duplicate protection.
	case errors.Is(err, providers.ErrNoPayout) && providers.TwoPhase(p):
		// The session is there, its start never arrived: as a session
		// never known, below.
	default:
		return false, err
	}
	switch {
	case providers.TwoPhase(p):
		return true, d.j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Queued, Actor: "resolver", From: journal.InDoubt,
			Update: func(x *journal.Item) { x.Attempt++ },
			Reason: "session unknown: a fresh session is started; an unconfirmed orphan never moves money and is cancelled if it appears"})
	case caps.DuplicateRefused:
		if wait := d.o.ResendAfter - d.j.Now().Sub(it.Updated); wait > 0 {
			return false, errors.New("waiting " + wait.Round(time.Second).String() + " before the resend that proves existence")
		}
		return true, d.j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Queued, Actor: "resolver", From: journal.InDoubt,
			Reason: "resending the same reference: the provider refuses a duplicate, so this pays at most once"})
	}
	return false, errors.New("the provider offers no safe way to resolve this payout; an operator must check it")
}

// notFoundReason says why a payout the provider does not know is sent
// again, in the provider's words when it gave some (an expired payment
// link whose URL never arrived is not "never created").
func notFoundReason(err error) string {
	var ae *providers.APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return "the provider has no live payout for this reference (" + ae.Message + "); sending it now"
	}
	return "the provider has no payout with this reference: it was never created; sending it now"
}

// waitForLostLink: the provider shows a live link for the row that is not
// the row's (its creation's answer, with the URL, was lost). No second
// link is made while it lives, so that the payer can pay only once; the
// row stays in doubt, says why, and is asked about again a quarter of the
// link's lifetime later (between 30 s and 10 min), until the provider
// reports it paid, or expired and a new link is made.
func (d *Dispatcher) waitForLostLink(ctx context.Context, p providers.Provider, it journal.Item, st providers.Status) error {
	again := min(max(providers.LinkLifetime(p, it.Payout.Method)/4, 30*time.Second), 10*time.Minute)
	next := d.j.Now().Add(again)
	link := strings.TrimPrefix(st.Refs.SessionID, "payin:")
	if link == "" {
		link = "a link"
	}
	err := d.j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, From: journal.InDoubt, To: journal.InDoubt, Actor: "resolver",
		Reason: "the provider created " + link + " for this row, but its URL never reached payrun; no second link while it lives: " +
			"a new one is made once the provider reports it expired (asked again at " + next.UTC().Format(time.RFC3339) + ")",
		Update: func(x *journal.Item) { x.NextPoll = next }})
	if errors.Is(err, journal.ErrConflict) {
		return nil // moved meanwhile
	}
	return err
}

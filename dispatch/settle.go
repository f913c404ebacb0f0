package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/journal"

	"github.com/payrun/payrun/providers"
)

// ErrAnswerPending is Settle's answer for a session it cannot judge yet:
// the payout's request is still out (sending), so the session may be its
// own whose answer is not journaled yet. Ask again shortly; once the
// answer is journaled the session is known, and once the payout is in
// doubt an unknown session is an orphan.
var ErrAnswerPending = errors.New("the payout's answer is not journaled yet")

// Settle applies the two-phase rule to a payout waiting for confirmation:
// it is confirmed only when the journal holds that session as the one
// session of its payout_id and the provider's amount, currency and
// recipient match the input row; anything else is cancelled at the
// provider, with the reason recorded. Settle is safe to call from the
// dispatcher, the webhook receiver and the poller for the same session:
// the journal's compare-and-set lets one of them confirm.
func Settle(ctx context.Context, j journal.Journal, p providers.Provider, st providers.Status, actor string) error {
	return settle(ctx, j, p, st, actor, nil)
}

// settle is Settle with before, when set, called before each request to
// the provider (the dispatcher's budget: a token for each request); the
// request is sent with the context it returns (its pacer).
func settle(ctx context.Context, j journal.Journal, p providers.Provider, st providers.Status, actor string, before func(context.Context) (context.Context, error)) error {
	ask := func() (context.Context, error) {
		if before == nil {
			return ctx, nil
		}
		return before(ctx)
	}
	c, ok := p.(providers.Confirmer)
	if !ok {
		return fmt.Errorf("%s: %w: not a two-phase provider", p.Name(), providers.ErrUnsupported)
	}
	// A stop is seen before the rule starts, never between its intent and
	// its request: once begun, it runs to its end (each request is bounded
	// by the client's timeout), so a cancelled commit or confirm is never
	// taken for a refusal.
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	session := st.Refs.SessionID
	owner, known, err := j.PayoutByRef(ctx, p.Name(), session)
	if err != nil {
		return err
	}
	payoutID := st.Refs.PayoutID
	if known {
		payoutID = owner
	}
	it, err := j.Item(ctx, payoutID)
	if err != nil || it.Provider != p.Name() {
		rctx, err := ask()
		if err != nil {
			return err
		}
		return cancelSession(rctx, c, st, "no payout in the journal owns this session")
	}
	if !known && session != "" && it.Refs.SessionID == session {
		// The answer that journaled this session landed between the two
		// reads: the session is the payout's, not an orphan.
		known = true
	}
	if !known && it.State == journal.Sending {
		// The notification overtook the answer to the request that created
		// the session: not an orphan yet.
		return ErrAnswerPending
	}
	if it.Refs.SessionID != session || !known {
		// An orphan: a session created for this payout by a request whose
		// answer was lost. Only the journaled session may ever be paid.
		rctx, err := ask()
		if err != nil {
			return err
		}
		return cancelSession(rctx, c, st, fmt.Sprintf("session %s is not the journaled session of payout %s", session, it.PayoutID))
	}
	if reason := mismatch(it, st); reason != "" {
		if err := j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.AwaitingConfirmation, Actor: actor, Status: &st}); err != nil && !isTransition(err) {
			return err
		}
		rctx, err := ask()
		if err != nil {
			return err
		}
		if _, err := c.Cancel(rctx, st.Refs, reason); err != nil && !errors.Is(err, providers.ErrNotFound) {
			return fmt.Errorf("cancel session %s of payout %s: %w", session, it.PayoutID, err)
		}
		return j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Cancelled, Actor: actor, Reason: "cancelled before confirmation: " + reason})
	}
	switch it.State {
	case journal.Confirming, journal.Succeeded, journal.Failed, journal.Cancelled, journal.Reversed, journal.Expired:
		return nil // someone else confirmed (or it is over)
	case journal.AwaitingConfirmation:
	case journal.Submitted:
		if it.Confirms > 0 {
			return nil // a stale ready_to_confirm, after our confirm
		}
		fallthrough
	default:
		if err := j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.AwaitingConfirmation, Actor: actor, Status: &st, From: it.State}); err != nil {
			if errors.Is(err, journal.ErrConflict) {
				return settle(ctx, j, p, st, actor, before)
			}
			return err
		}
	}
	// Intent before the request: confirming is committed first, and only
	// the caller that wins the compare-and-set sends the confirm.
	err = j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Confirming, Actor: actor, From: journal.AwaitingConfirmation,
		Reason: "amount, currency and recipient match the input row", Update: func(x *journal.Item) { x.Confirms++ }})
	if errors.Is(err, journal.ErrConflict) {
		return nil
	}
	if err != nil {
		return err
	}
	rctx, err := ask()
	if err != nil {
		// Stopping before the confirm left: confirming stays journaled and
		// the poller sends it (confirm is idempotent).
		return err
	}
	got, err := c.Confirm(rctx, st.Refs)
	if err != nil {
		if providers.IsInDoubt(err) || providers.IsRetryable(err) {
			// Confirm is idempotent; the poller asks again.
			return nil
		}
		// Refused: ask what became of the session rather than guess (a
		// repeated confirm of a session already paid is refused too).
		lctx, aerr := ask()
		if aerr != nil {
			return aerr
		}
		now, lerr := p.Lookup(lctx, st.Refs)
		if lerr == nil && now.Outcome != providers.AwaitingConfirmation {
			_, aerr := journal.ApplyStatus(ctx, j, it.PayoutID, actor, now)
			return aerr
		}
		return j.Apply(ctx, journal.Change{PayoutID: it.PayoutID, To: journal.Failed, Actor: actor, From: journal.Confirming, Reason: "confirm refused: " + err.Error()})
	}
	if got.Outcome == providers.AwaitingConfirmation {
		got.Outcome = providers.Processing
	}
	_, err = journal.ApplyStatus(ctx, j, it.PayoutID, actor, got)
	return err
}

func cancelSession(ctx context.Context, c providers.Confirmer, st providers.Status, reason string) error {
	if _, err := c.Cancel(ctx, st.Refs, reason); err != nil && !errors.Is(err, providers.ErrNotFound) {
		return fmt.Errorf("cancel orphan session %s: %w", st.Refs.SessionID, err)
	}
	return nil
}

// mismatch compares what the provider is about to pay with the input row.
func mismatch(it journal.Item, st providers.Status) string {
	want := it.Payout.Amount
	if st.Amount.Minor != 0 || st.Amount.Currency != "" {
		if st.Amount.Currency != want.Currency {
			return fmt.Sprintf("currency %s at the provider, %s in the input", st.Amount.Currency, want.Currency)
		}
		if st.Amount.Minor != want.Minor {
			return fmt.Sprintf("amount %s at the provider, %s in the input", st.Amount.Decimal(), want.Decimal())
		}
	} else {
		return "the provider did not state the amount"
	}
	if st.Refs.PayoutID != "" && st.Refs.PayoutID != it.PayoutID {
		return fmt.Sprintf("the provider's reference %s is not payout %s", st.Refs.PayoutID, it.PayoutID)
	}
	if st.Recipient != "" && !recipientCheck(it.Payout, st.Recipient) {
		return fmt.Sprintf("recipient %q at the provider does not match the input row", st.Recipient)
	}
	return ""
}

func isTransition(err error) bool {
	var te *journal.ErrTransition
	return errors.As(err, &te)
}

// recipientCheck compares the provider's recipient with the row: it reads the provider's recipient description ("card *4242
// (visa) ANA QUISPE" or "ref p-1") and compares what it names.
func recipientCheck(p providers.Payout, recipient string) bool {
	s := strings.TrimSpace(recipient)
	if strings.HasPrefix(s, "card *") {
		// "card *4242 (visa) NAME": drop the card part.
		rest := strings.TrimPrefix(s, "card *")
		if i := strings.Index(rest, ")"); strings.Contains(rest, "(") && i >= 0 {
			rest = rest[i+1:]
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			rest = rest[i+1:]
		} else {
			rest = ""
		}
		s = strings.TrimSpace(rest)
	}
	if s == "" {
		return true
	}
	if ref, ok := strings.CutPrefix(s, "ref "); ok {
		return strings.TrimSpace(ref) == p.ID
	}
	norm := func(x string) string { return strings.Join(strings.Fields(strings.ToUpper(x)), " ") }
	return norm(s) == norm(p.Beneficiary.FullName())
}

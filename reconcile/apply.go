package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Notes the receiver leaves on events that were kept but not applied. The
// matcher reads NoteUnexpected; the others explain to an operator.
const (
	NoteUnexpected      = "unexpected"
	NoteDuplicateNotice = "duplicate notice: a refused resubmission; the original payout is unchanged"
	NoteOtherPayout     = "other provider payout"
	NoteOutOfOrder      = "not applied: out of order"
	NoteConflict        = "status conflict"
	NoteNoPayout        = "no payout in this notification"
)

// NotFoundAtProvider is the raw status the poller records on an item the
// provider says it does not know (missing_at_provider).
const NotFoundAtProvider = "not_found"

// findItem finds the journal item a provider status is about: by the
// provider's own id or session first (a Monnet Id, a TeemoPay tradeNo, a
// Bank 131 session), then by the merchant reference.
func findItem(s journal.EventTx, provider string, refs providers.Refs) (journal.Item, bool, error) {
	for _, id := range []string{refs.ProviderID, refs.SessionID} {
		if id == "" {
			continue
		}
		pid, ok, err := s.PayoutByRef(provider, id)
		if err != nil {
			return journal.Item{}, false, err
		}
		if ok {
			it, err := s.Item(pid)
			return it, err == nil, err
		}
	}
	if refs.PayoutID == "" {
		return journal.Item{}, false, nil
	}
	it, err := s.Item(refs.PayoutID)
	if errors.Is(err, journal.ErrNotFound) {
		return journal.Item{}, false, nil
	}
	if err != nil {
		return journal.Item{}, false, err
	}
	if it.Provider != provider {
		return journal.Item{}, false, nil
	}
	return it, true, nil
}

// otherPayout reports whether refs name a provider payout that is not the
// item's journaled one (an orphan session, a second payout of one
// reference). An item that has no provider reference yet adopts the first
// it hears of.
func otherPayout(it journal.Item, refs providers.Refs) string {
	if refs.SessionID != "" && it.Refs.SessionID != "" {
		if refs.SessionID != it.Refs.SessionID {
			return refs.SessionID
		}
		return ""
	}
	if refs.ProviderID != "" && it.Refs.ProviderID != "" && refs.ProviderID != it.Refs.ProviderID {
		return refs.ProviderID
	}
	return ""
}

// paid says on which side of "money moved" a state is, for conflicts.
func paid(s journal.State) bool { return s == journal.Succeeded || s == journal.Reversed }

// conflicting reports whether a final status from the provider disagrees
// with the final state in the journal about whether money moved. A late
// "processing" after "succeeded" is out of order, not a conflict, and so is
// a late "succeeded" after "reversed".
func conflicting(have journal.State, o providers.Outcome) bool {
	if !have.Final() || !o.Final() {
		return false
	}
	return paid(have) != paid(journal.StateFor(o))
}

// applyResult is what became of one status.
type applyResult struct {
	// pending: the event cannot be judged yet (dispatch.ErrAnswerPending);
	// it is judged again shortly.
	pending  bool
	applied  bool
	note     string
	conflict bool
	// payout is the item a conflict was recorded on.
	payout string
	// settle, when set, is the confirm rule still to run (dispatch.Settle, a
	// provider call, never inside a transaction); the fields above are
	// decided by settleNow.
	settle *settlement
}

// settlement is a status that dispatch.Settle must handle.
type settlement struct {
	st providers.Status
	// orphan is the session that is not the item's: Settle cancels it and
	// the event keeps its note whatever happens.
	orphan string
}

// applyStatus applies what a provider said about an item, by the ordering
// rules (judgeStatus), running the confirm rule when they call for it.
func applyStatus(ctx context.Context, j journal.Journal, p providers.Provider, it journal.Item, st providers.Status, actor string, by Settler) (applyResult, error) {
	res, err := judgeStatus(journal.Direct(ctx, j), p, it, st, actor)
	if err != nil || res.settle == nil {
		return res, err
	}
	return settleNow(ctx, j, p, res, actor, nil, by), nil
}

// Settler runs the confirm rule for a status (dispatch.Settle's
// arguments, less the journal): the dispatcher's Settle, which takes the
// provider's budget for each request, or its SettleLater. Nil is
// dispatch.Settle, outside any budget.
type Settler func(ctx context.Context, p providers.Provider, st providers.Status, actor string) error

// settleNow runs the confirm rule a judgement left pending and says what
// became of the status. log, when set, hears of an orphan session not
// cancelled yet.
func settleNow(ctx context.Context, j journal.Journal, p providers.Provider, res applyResult, actor string, log *slog.Logger, by Settler) applyResult {
	s := res.settle
	var err error
	if by != nil {
		err = by(ctx, p, s.st, actor)
	} else {
		err = dispatch.Settle(ctx, j, p, s.st, actor)
	}
	switch {
	case errors.Is(err, dispatch.ErrAnswerPending):
		return applyResult{pending: true}
	case s.orphan != "":
		if err != nil && log != nil {
			log.Warn("orphan session not cancelled yet", "session", s.orphan, "err", err)
		}
		return applyResult{note: res.note}
	case err != nil:
		return applyResult{applied: true, note: "confirm rule: " + err.Error()}
	}
	return applyResult{applied: true}
}

// judgeStatus applies what a provider said about an item, by the ordering
// rules: the graph decides; a two-phase payout waiting for confirmation
// is left to dispatch.Settle (res.settle, nothing written); a refused final
// status that disagrees with the journal is recorded as a status conflict
// on the item.
//
// A status that is not final and older, by the provider's own clock, than
// the last one recorded is out of order and not applied: a Bank 131
// ready_to_confirm redelivered after the confirm must not start a second
// confirmation. Final statuses are left to the graph (providers stamp them
// with coarser clocks than their API answers).
func judgeStatus(s journal.EventTx, p providers.Provider, it journal.Item, st providers.Status, actor string) (applyResult, error) {
	if !st.Outcome.Final() && !st.At.IsZero() && !it.Last.At.IsZero() && st.At.Before(it.Last.At) {
		return applyResult{note: fmt.Sprintf("%s: the provider said %s at %s, before the last status recorded (%s)",
			NoteOutOfOrder, st.Outcome, st.At.UTC().Format(time.RFC3339Nano), it.Last.At.UTC().Format(time.RFC3339Nano))}, nil
	}
	if st.Outcome == providers.AwaitingConfirmation && !it.State.Final() {
		if _, ok := p.(providers.Confirmer); ok {
			if st.Refs.SessionID == "" {
				st.Refs.SessionID = it.Refs.SessionID
			}
			if st.Refs.PayoutID == "" {
				st.Refs.PayoutID = it.PayoutID
			}
			return applyResult{settle: &settlement{st: st}}, nil
		}
	}
	if st.Refs.SessionID != "" && st.Refs.SessionID != it.Refs.SessionID {
		return applyResult{note: fmt.Sprintf("about session %s, which is not the journaled session of payout %s (a session whose answer was lost; it is never confirmed)",
			st.Refs.SessionID, it.PayoutID)}, nil
	}
	ok, err := s.ApplyStatus(it.PayoutID, actor, st)
	if err != nil {
		return applyResult{}, err
	}
	if ok {
		return applyResult{applied: true}, nil
	}
	cur, err := s.Item(it.PayoutID)
	if err != nil {
		return applyResult{}, err
	}
	if !conflicting(cur.State, st.Outcome) {
		return applyResult{note: fmt.Sprintf("%s: the journal has %s, the provider said %s", NoteOutOfOrder, cur.State, st.Outcome)}, nil
	}
	desc := fmt.Sprintf("%s says %s%s; the journal has %s", actor, st.Outcome, rawOf(st), cur.State)
	err = s.Update(it.PayoutID, func(x *journal.Item) {
		if !strings.Contains(x.Conflict, desc) {
			if x.Conflict != "" {
				x.Conflict += "; "
			}
			x.Conflict += desc
		}
	})
	return applyResult{note: NoteConflict + ": " + desc, conflict: true, payout: it.PayoutID}, err
}

func rawOf(st providers.Status) string {
	var parts []string
	if st.RawStatus != "" {
		parts = append(parts, st.RawStatus)
	}
	if st.Code != "" {
		parts = append(parts, "code "+st.Code)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

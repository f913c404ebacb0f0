package dispatch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
)

// PreflightPolicy says what the pre-flight looks for and when a batch
// waits for an approver before anything is sent.
type PreflightPolicy struct {
	// HoldAbove holds a batch whose total in a currency is above the
	// amount given for it.
	HoldAbove []money.Money
	// DuplicateLookback looks for payouts of other batches, journaled
	// within it, to the same account for the same amount (0: not at all).
	DuplicateLookback time.Duration
	// Rates are the providers' configured request rates (per second), for
	// the sending-time estimate.
	Rates map[string]float64
}

// Preflight is what a batch is about to pay, and whether it waits for an
// approver: the facts the pre-flight message reads.
type Preflight struct {
	Batch journal.Batch
	// Invalid are the problems of the rows that will not be sent.
	Invalid []batch.RowError
	// Duplicates are rows that look like an earlier payout.
	Duplicates []SuspectedDuplicate
	// Estimate is how long sending takes at the providers' rates.
	Estimate time.Duration
	// Held says the batch waits for an approver, and HoldReason why.
	Held       bool
	HoldReason string
}

// SuspectedDuplicate is a row of a batch that pays the same account the
// same amount as a payout of another batch.
type SuspectedDuplicate struct {
	Row           int
	PayoutID      string
	Account       string // unmasked; messages mask it
	Currency      string
	Amount        int64
	OtherBatch    string
	OtherPayoutID string
	OtherDate     time.Time
}

// CheckBatch is the pre-flight of an accepted batch: it gathers the facts
// and, when the policy says so, holds the batch (journaled, with the
// reason as its note) so that no dispatch sends it before Approve.
func CheckBatch(ctx context.Context, j journal.Journal, id string, pol PreflightPolicy) (Preflight, error) {
	b, err := j.Batch(ctx, id)
	if err != nil {
		return Preflight{}, err
	}
	p := Preflight{Batch: b, Estimate: Estimate(b.Totals, pol.Rates)}
	if err := j.RejectedRows(ctx, id, func(r journal.RejectedRow) bool {
		p.Invalid = append(p.Invalid, r.Errors...)
		return true
	}); err != nil {
		return p, err
	}
	if p.Duplicates, err = suspectedDuplicates(ctx, j, id, pol.DuplicateLookback); err != nil {
		return p, err
	}
	perCur := map[string]int64{}
	for _, t := range b.Totals {
		perCur[t.Currency] += t.Amount
	}
	for _, lim := range pol.HoldAbove {
		if total := perCur[lim.Currency]; total > lim.Minor {
			p.Held = true
			p.HoldReason = fmt.Sprintf("the batch total %s is above the approval threshold %s",
				money.Money{Minor: total, Currency: lim.Currency}, lim)
		}
	}
	if p.Held {
		err := j.SetBatch(ctx, id, func(b *journal.Batch) error {
			if b.State == journal.BatchAccepted {
				b.State, b.Note = journal.BatchHeld, p.HoldReason
			}
			return nil
		})
		if err != nil {
			return p, err
		}
		p.Batch.State, p.Batch.Note = journal.BatchHeld, p.HoldReason
	}
	return p, nil
}

// Errors of Approve and Hold, so that callers answer each in its words.
var (
	// ErrNotHeld is an approval of a batch that does not wait for one.
	ErrNotHeld = errors.New("batch is not held")
	// ErrTotalsChanged is an approval of totals that are not the batch's
	// (the approver was shown something else).
	ErrTotalsChanged = errors.New("the batch is not what the approver was shown")
	// ErrSameApprover is an approval by whoever dropped the file while
	// approvals must come from someone else (maker-checker).
	ErrSameApprover = errors.New("the approver dropped the file: another person must approve it")
	// ErrApproverUnknown is an approval that names no approver, or, under
	// maker-checker, of a batch whose dropper is not recorded.
	ErrApproverUnknown = errors.New("who approves, or who dropped the file, is not known")
	// ErrNotHoldable is a hold of a batch that has started sending or is
	// done.
	ErrNotHoldable = errors.New("only a batch not sent yet can be held")
)

// Approval is one person's approval of a held batch.
type Approval struct {
	// By is who approves: the OS user of the daemon's control socket or
	// of the approvals file, or the user running the command.
	By string
	// Via is how the approval came ("control socket", "approvals file",
	// "command").
	Via string
	// Seen is what the approver was shown: the batch's file hash and
	// totals. A nil Seen approves whatever the batch holds (an empty
	// approvals file).
	Seen *Seen
	// DistinctFromDropper refuses an approval by the file's dropper
	// (preflight.require_distinct_approver).
	DistinctFromDropper bool
}

// Seen is what an approver was shown of a batch.
type Seen struct {
	SHA256 string          `json:"sha256,omitempty"`
	Totals []journal.Total `json:"totals"`
}

// SeenOf is what a batch shows its approver.
func SeenOf(b journal.Batch) Seen {
	return Seen{SHA256: b.SHA256, Totals: b.Totals}
}

// Approve releases a held batch. The approver, how the approval came,
// when (the journal's clock) and the totals approved are journaled with
// it, in the same write that checks them: the batch must still be held,
// hold what the approver was shown, and, under maker-checker, have been
// dropped by someone else.
func Approve(ctx context.Context, j journal.Journal, id string, a Approval) error {
	if a.By == "" {
		return fmt.Errorf("batch %s: %w", id, ErrApproverUnknown)
	}
	return j.SetBatch(ctx, id, func(b *journal.Batch) error {
		if b.State != journal.BatchHeld {
			return fmt.Errorf("batch %s: %w (it is %s)", id, ErrNotHeld, b.State)
		}
		if a.Seen != nil {
			if why := a.Seen.differs(SeenOf(*b)); why != "" {
				return fmt.Errorf("batch %s: %w: %s; look at it again and approve what it holds", id, ErrTotalsChanged, why)
			}
		}
		if a.DistinctFromDropper {
			switch {
			case b.DroppedBy == "":
				return fmt.Errorf("batch %s: %w: the file's dropper is not recorded, so maker-checker cannot be proven", id, ErrApproverUnknown)
			case strings.EqualFold(b.DroppedBy, a.By):
				return fmt.Errorf("batch %s: %w (%s dropped it)", id, ErrSameApprover, b.DroppedBy)
			}
		}
		b.State = journal.BatchAccepted
		b.Approved = j.Now().UTC()
		b.ApprovedBy = a.By
		b.ApprovedVia = a.Via
		b.ApprovedTotals = append([]journal.Total(nil), b.Totals...)
		return nil
	})
}

// differs says how what was seen differs from what a batch holds ("" when
// it does not).
func (s Seen) differs(now Seen) string {
	if s.SHA256 != "" && s.SHA256 != now.SHA256 {
		return "its file is not the one shown"
	}
	want, got := totalsByCurrency(s.Totals), totalsByCurrency(now.Totals)
	var diffs []string
	for _, cur := range slices.Sorted(maps.Keys(mergeKeys(want, got))) {
		w, g := want[cur], got[cur]
		// An approval file names amounts only (count 0).
		if w.amount == g.amount && (w.count == 0 || w.count == g.count) {
			continue
		}
		shown := money.Money{Minor: w.amount, Currency: cur}.String()
		if w.count != 0 {
			shown = fmt.Sprintf("%d payout(s) for %s", w.count, shown)
		}
		diffs = append(diffs, fmt.Sprintf("%s: approved %s, it holds %d payout(s) for %s", cur, shown, g.count,
			money.Money{Minor: g.amount, Currency: cur}))
	}
	return strings.Join(diffs, "; ")
}

type countAmount struct {
	count  int
	amount int64
}

func totalsByCurrency(ts []journal.Total) map[string]countAmount {
	out := map[string]countAmount{}
	for _, t := range ts {
		c := out[t.Currency]
		c.count += t.Count
		c.amount += t.Amount
		out[t.Currency] = c
	}
	return out
}

func mergeKeys(a, b map[string]countAmount) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// Hold stops a batch that has not started sending until it is approved:
// its note says who held it and why.
func Hold(ctx context.Context, j journal.Journal, id, by, reason string) error {
	if by == "" {
		return fmt.Errorf("batch %s: %w", id, ErrApproverUnknown)
	}
	return j.SetBatch(ctx, id, func(b *journal.Batch) error {
		switch b.State {
		case journal.BatchHeld:
			return nil
		case journal.BatchAccepted:
		default:
			return fmt.Errorf("batch %s: %w (it is %s)", id, ErrNotHoldable, b.State)
		}
		b.State = journal.BatchHeld
		b.Note = "held by " + by
		if reason != "" {
			// Free text an operator typed: no card number is kept.
			b.Note += ": " + pan.MaskText(reason)
		}
		return nil
	})
}

// Estimate is the sending time of the totals at the providers' rates: the
// slowest provider's.
func Estimate(totals []journal.Total, rates map[string]float64) time.Duration {
	counts := map[string]int{}
	for _, t := range totals {
		counts[t.Provider] += t.Count
	}
	var worst time.Duration
	for prov, n := range counts {
		if r := rates[prov]; r > 0 {
			worst = max(worst, time.Duration(float64(n)/r*float64(time.Second)))
		}
	}
	return worst
}

// suspectedDuplicates finds rows of a batch paying the same account the
// same amount as a payout of another batch journaled within lookback. It
// holds a hash of each recent payout of other batches, not the items: a
// batch of a million rows is read twice rather than held (and the other
// batches a third time for the few rows that match).
func suspectedDuplicates(ctx context.Context, j journal.Journal, id string, lookback time.Duration) ([]SuspectedDuplicate, error) {
	if lookback <= 0 {
		return nil, nil
	}
	type key struct {
		account, currency string
		amount            int64
	}
	keyOf := func(it journal.Item) key {
		return key{accountOf(it), it.Payout.Amount.Currency, it.Payout.Amount.Minor}
	}
	hash := func(k key) uint64 {
		h := fnv.New64a()
		h.Write([]byte(k.account))
		h.Write([]byte{0})
		h.Write([]byte(k.currency))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(k.amount)))
		return h.Sum64()
	}
	since := j.Now().Add(-lookback)
	recent := func(it journal.Item) bool { return it.BatchID != id && !it.Created.Before(since) }
	others := map[uint64]struct{}{}
	if err := j.AllItems(ctx, func(it journal.Item) bool {
		if recent(it) {
			others[hash(keyOf(it))] = struct{}{}
		}
		return true
	}); err != nil || len(others) == 0 {
		return nil, err
	}
	mine := map[key][]journal.Item{}
	if err := j.BatchItems(ctx, id, func(it journal.Item) bool {
		if _, ok := others[hash(keyOf(it))]; ok {
			k := keyOf(it)
			mine[k] = append(mine[k], it)
		}
		return true
	}); err != nil || len(mine) == 0 {
		return nil, err
	}
	var out []SuspectedDuplicate
	err := j.AllItems(ctx, func(other journal.Item) bool {
		if !recent(other) {
			return true
		}
		k := keyOf(other)
		for _, it := range mine[k] {
			out = append(out, SuspectedDuplicate{Row: it.Row, PayoutID: it.PayoutID, Account: k.account,
				Currency: k.currency, Amount: k.amount, OtherBatch: other.BatchID, OtherPayoutID: other.PayoutID, OtherDate: other.Created})
		}
		return true
	})
	return out, err
}

// accountOf is where a payout goes: the account, card token or phone.
func accountOf(it journal.Item) string {
	b := it.Payout.Beneficiary
	switch {
	case b.CCI != "":
		return b.CCI
	case b.AccountNumber != "":
		return b.BankCode + ":" + b.AccountNumber
	case b.CardToken != "":
		return b.CardToken
	}
	return b.Phone
}

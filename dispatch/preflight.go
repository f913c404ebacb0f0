package dispatch

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"errors"
	"fmt"
	"time"

	"github.com/payrun/payrun/batch"
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

// ErrNotHeld is an approval of a batch that does not wait for one.
var ErrNotHeld = errors.New("batch is not held")

// Approve releases a held batch: who approved it and when (the journal's
// clock) are journaled with it.
func Approve(ctx context.Context, j journal.Journal, id, who string) error {
	return j.SetBatch(ctx, id, func(b *journal.Batch) error {
		if b.State != journal.BatchHeld {
			return fmt.Errorf("%w (it is %s)", ErrNotHeld, b.State)
		}
		b.State = journal.BatchAccepted
		b.Approved = j.Now().UTC()
		b.ApprovedBy = who
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
	keyOf := func(it journal.Item) key { return key{accountOf(it), it.Payout.Amount.Currency, it.Payout.Amount.Minor} }
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

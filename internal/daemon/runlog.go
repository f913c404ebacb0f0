package daemon

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
)

// runPlan is what a dispatch run is about to send, for its first log line.
type runPlan struct {
	// ids are the batches the run covers; sending those with something to
	// send.
	ids, sending []string
	// pending counts the payouts to send (or to resolve: in doubt), and
	// byCurrency their amounts.
	pending    int
	byCurrency map[string]countAmount
}

type countAmount struct {
	count int
	minor int64
}

// toSend says whether a payout in this state is (still) sent by a run.
func toSend(s journal.State) bool {
	switch s {
	case journal.Accepted, journal.Queued, journal.Sending, journal.InDoubt:
		return true
	}
	return false
}

// planRun reads what a run over ids (every unfinished batch that is not
// held, when nil) will send. Every run goes through it (the cut-off, send
// now, resume, a file sent at once), so it is where a batch that never
// passed the pre-flight gets it (one journaled by `payrun ingest` of an
// older payrun, or by an intake stopped before its pre-flight): one that
// the pre-flight holds is left out of the run.
func (d *Daemon) planRun(ctx context.Context, ids []string) (runPlan, error) {
	p := runPlan{byCurrency: map[string]countAmount{}}
	if ids == nil {
		bs, err := d.App.Journal.ListBatches(ctx)
		if err != nil {
			return p, err
		}
		for _, b := range bs {
			if b.State != journal.BatchDone && b.State != journal.BatchHeld && b.State != journal.BatchIngesting {
				ids = append(ids, b.ID)
			}
		}
	}
	admitted, held, err := d.App.Admit(ctx, ids)
	if err != nil {
		return p, err
	}
	for _, id := range ids {
		if g, ok := held[id]; ok {
			d.log.WarnContext(event, "batch held for approval before its dispatch: nothing of it is sent until it is approved",
				"batch", id, "why", g.Reason, "release", g.Approve)
		}
	}
	ids = admitted
	p.ids = ids
	for _, id := range ids {
		n := 0
		err := d.App.Journal.BatchItems(ctx, id, func(it journal.Item) bool {
			if toSend(it.State) {
				n++
				c := p.byCurrency[it.Payout.Amount.Currency]
				c.count++
				c.minor += it.Payout.Amount.Minor
				p.byCurrency[it.Payout.Amount.Currency] = c
			}
			return true
		})
		if err != nil {
			return p, err
		}
		if n > 0 {
			p.sending = append(p.sending, id)
			p.pending += n
		}
	}
	return p, nil
}

func (p runPlan) totals() string { return currencyText(p.byCurrency) }

// runResult is what became of the payouts of a run's batches.
type runResult struct {
	sent, failed, inDoubt, held, left int
	paid                              map[string]countAmount
}

func (r runResult) paidText() string {
	if len(r.paid) == 0 {
		return "nothing yet"
	}
	return currencyText(r.paid)
}

// runEnd counts the payouts of the batches by where they stand: sent
// (the provider has them: submitted, waiting, paid or returned), failed,
// in doubt, held by a cap, and left to send; and the amounts paid.
func (d *Daemon) runEnd(ctx context.Context, ids []string) runResult {
	r := runResult{paid: map[string]countAmount{}}
	for _, id := range ids {
		_ = d.App.Journal.BatchItems(ctx, id, func(it journal.Item) bool {
			switch it.State {
			case journal.Accepted, journal.Queued:
				r.left++
			case journal.Sending, journal.InDoubt:
				r.inDoubt++
			case journal.Held:
				r.held++
			case journal.Failed, journal.Cancelled:
				r.failed++
			default:
				r.sent++
			}
			if it.State == journal.Succeeded {
				c := r.paid[it.Payout.Amount.Currency]
				c.count++
				c.minor += it.Payout.Amount.Minor
				r.paid[it.Payout.Amount.Currency] = c
			}
			return true
		})
	}
	return r
}

// currencyText is "1500.00 PEN in 12 payouts; 10.00 USD in 1 payout".
func currencyText(m map[string]countAmount) string {
	curs := make([]string, 0, len(m))
	for c := range m {
		curs = append(curs, c)
	}
	sort.Strings(curs)
	parts := make([]string, 0, len(curs))
	for _, c := range curs {
		parts = append(parts, fmt.Sprintf("%s in %s", money.Money{Minor: m[c].minor, Currency: c}, payoutsWord(m[c].count)))
	}
	return strings.Join(parts, "; ")
}

// totalsText is a batch's totals per currency, as currencyText.
func totalsText(ts []journal.Total) string {
	m := map[string]countAmount{}
	for _, t := range ts {
		c := m[t.Currency]
		c.count += t.Count
		c.minor += t.Amount
		m[t.Currency] = c
	}
	if len(m) == 0 {
		return "no payouts"
	}
	return currencyText(m)
}

func payoutsWord(n int) string {
	if n == 1 {
		return "1 payout"
	}
	return fmt.Sprintf("%d payouts", n)
}

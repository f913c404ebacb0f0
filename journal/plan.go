package journal

import (
	"context"
	"io"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/providers"
)

// PlanResult is what processing a file would send, per provider and
// currency, with the rows that are already journaled (never sent again).
type PlanResult struct {
	Totals     []Total
	Counts     map[string]int
	Duplicates int
}

// Plan reads a file's valid rows and sums what would be sent, without
// changing the journal. Rows whose payout_id is already journaled count as
// duplicates.
func Plan(ctx context.Context, j Items, path string, o batch.ReadOptions) (*PlanResult, error) {
	r, err := batch.OpenFile(path, o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &PlanResult{Counts: map[string]int{}}
	totals := map[[2]string]*Total{}
	type row struct {
		p    providers.Payout
		prov string
	}
	var chunk []row
	flush := func() error {
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = r.p.ID
		}
		known, err := j.Owners(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range chunk {
			if _, ok := known[r.p.ID]; ok {
				res.Duplicates++
				continue
			}
			k := [2]string{r.p.Amount.Currency, r.prov}
			t := totals[k]
			if t == nil {
				t = &Total{Currency: r.p.Amount.Currency, Provider: r.prov}
				totals[k] = t
			}
			t.Count++
			t.Amount += r.p.Amount.Minor
			res.Counts[r.prov]++
		}
		chunk = chunk[:0]
		return nil
	}
	for {
		rw, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		p, prov, err := rw.Payout()
		if err != nil {
			continue // reported by validation
		}
		chunk = append(chunk, row{p, prov})
		if len(chunk) == IngestChunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for _, t := range totals {
		res.Totals = append(res.Totals, *t)
	}
	SortTotals(res.Totals)
	return res, nil
}

package batch

import (
	"io"
	"sort"

	bolt "go.etcd.io/bbolt"
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
func Plan(j *Journal, path string, o ReadOptions) (*PlanResult, error) {
	r, err := OpenFile(path, o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	res := &PlanResult{Counts: map[string]int{}}
	totals := map[[2]string]*Total{}
	err = j.db.View(func(tx *bolt.Tx) error {
		items := tx.Bucket(bktItems)
		for {
			row, err := r.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			p, prov, err := row.Payout()
			if err != nil {
				continue // reported by validation
			}
			if items.Get([]byte(p.ID)) != nil {
				res.Duplicates++
				continue
			}
			k := [2]string{p.Amount.Currency, prov}
			t := totals[k]
			if t == nil {
				t = &Total{Currency: p.Amount.Currency, Provider: prov}
				totals[k] = t
			}
			t.Count++
			t.Amount += p.Amount.Minor
			res.Counts[prov]++
		}
	})
	for _, t := range totals {
		res.Totals = append(res.Totals, *t)
	}
	sort.Slice(res.Totals, func(a, b int) bool {
		if res.Totals[a].Currency != res.Totals[b].Currency {
			return res.Totals[a].Currency < res.Totals[b].Currency
		}
		return res.Totals[a].Provider < res.Totals[b].Provider
	})
	return res, err
}

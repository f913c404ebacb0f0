package journal

import (
	"context"
	"errors"
	"time"

	"github.com/payrun/payrun/batch"
)

// PlanResult is what processing a file would take and send, per provider
// and currency, with the rows it would not take: invalid, or already
// journaled (duplicates, never sent again).
type PlanResult struct {
	// Totals are the rows that would be journaled as items, per currency
	// and provider: the totals ingest would record for the batch.
	Totals []Total
	// Counts are the same rows per provider.
	Counts map[string]int
	// Rows, Invalid and Duplicates count the file's rows as ingest would.
	Rows, Invalid, Duplicates int
	// Report lists every bad row (row, column, value, reason), as ingest
	// reports them; a file whose header cannot be read has only its
	// header's errors, and no totals.
	Report *batch.Report
}

// Plan runs Ingest over a file without changing the journal: the rows
// are read, checked and decided on by the very code that journals them
// (a line that cannot be read, a row that fails validation, a payout_id
// the file repeats or the journal holds already), so that the plan's
// totals are what processing the file takes under input.on_invalid
// skip_rows. A file rejected whole (reject_file, the default) takes
// nothing: the caller says so from Report. The plan keeps the payout_ids
// of the rows it would journal (about a hundred bytes a row), where
// Ingest finds them in the store.
func Plan(ctx context.Context, j Items, path string, o IngestOptions) (*PlanResult, error) {
	o.SkipInvalid = true
	res, err := Ingest(ctx, &planStaging{j: j, staged: map[string]Owner{}}, path, o)
	var he *batch.HeaderError
	if errors.As(err, &he) {
		return &PlanResult{Counts: map[string]int{}, Report: batch.HeaderReport(path, he)}, nil
	}
	if err != nil {
		return nil, err
	}
	b := res.Batch
	p := &PlanResult{Totals: b.Totals, Counts: map[string]int{}, Rows: b.Rows, Invalid: b.Invalid,
		Duplicates: b.Duplicates, Report: res.Report}
	for _, t := range b.Totals {
		p.Counts[t.Provider] += t.Count
	}
	return p, nil
}

// planStaging is Ingest's Staging for a plan: nothing is written; the
// items a chunk would stage are remembered, so that a later row repeating
// their payout_id is found as the store would find it.
type planStaging struct {
	j      Items
	staged map[string]Owner // payout_id -> the item this file would stage
}

func (*planStaging) Now() time.Time { return time.Now() }

func (*planStaging) BatchBySHA(context.Context, string) (Batch, bool, error) {
	return Batch{}, false, nil
}

func (*planStaging) DropStaging(context.Context) error { return nil }

func (p *planStaging) StageChunk(ctx context.Context, _ *Batch, _ bool, ids []string, write func(map[string]Owner) *ChunkWrites) error {
	owners, err := p.j.Owners(ctx, ids)
	if err != nil {
		return err
	}
	if owners == nil {
		owners = map[string]Owner{}
	}
	for _, id := range ids {
		if o, ok := p.staged[id]; ok {
			owners[id] = o
		}
	}
	w := write(owners)
	for _, id := range w.Unstage {
		delete(p.staged, id)
	}
	for i := range w.Items {
		p.staged[w.Items[i].PayoutID] = ownerOf(&w.Items[i])
	}
	return nil
}

func (*planStaging) FinishStaging(context.Context, *Batch, map[int][]batch.RowError) error {
	return nil
}

func (*planStaging) DropBatch(context.Context, string) error { return nil }

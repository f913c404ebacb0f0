package journal_test

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
)

// TestPlanIsIngest: the plan of a file with valid rows, an invalid row, a
// payout_id repeated in the file, a duplicate of an earlier batch and a
// line with extra values takes the rows ingest takes (its totals are the
// batch's), lists every bad row, and writes nothing.
func TestPlanIsIngest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := testjournal.Open(t, func() time.Time { return time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC) })
	all := journaltest.PayoutRows(9)
	if res, err := j.Ingest(ctx, journaltest.WriteRows(t, "earlier.csv", all[:1]), journal.IngestOptions{}); err != nil || res.Rejected {
		t.Fatalf("ingest: %v (rejected %v)", err, res != nil && res.Rejected)
	}
	bad := all[5]
	bad.Amount = "12.345" // row 7
	// Rows 2-10: P-1 (journaled before), P-2 .. P-5, P-6 invalid, P-3
	// again (rows 4 and 8 invalid), P-7, P-8; then row 11 with extra values.
	rows := []batch.Row{all[0], all[1], all[2], all[3], all[4], bad, all[2], all[6], all[7]}
	path := journaltest.WriteRows(t, "today.csv", rows)
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(text), "\r\n"), "\n")
	extra := strings.Replace(strings.TrimRight(lines[len(lines)-1], "\r"), "P-8", "P-9", 1) + ",x,y,z\n"
	if err := os.WriteFile(path, append(text, extra...), 0o600); err != nil {
		t.Fatal(err)
	}

	plan, err := journal.Plan(ctx, j, path, journal.IngestOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if bs, err := j.ListBatches(ctx); err != nil || len(bs) != 1 {
		t.Fatalf("the plan wrote: %d batches (%v)", len(bs), err)
	}
	bad11 := map[int]bool{}
	for _, e := range plan.Report.Errors {
		bad11[e.Row] = true
	}
	for _, r := range []int{4, 7, 8, 11} {
		if !bad11[r] {
			t.Errorf("the plan does not list row %d: %+v", r, plan.Report.Errors)
		}
	}
	if bad11[2] || bad11[3] {
		t.Errorf("the plan lists a good row: %+v", plan.Report.Errors)
	}

	res, err := j.Ingest(ctx, path, journal.IngestOptions{SkipInvalid: true})
	if err != nil || res.Rejected {
		t.Fatalf("ingest: %v (rejected %v)", err, res != nil && res.Rejected)
	}
	b := res.Batch
	if b.Rows != 10 || b.Valid != 5 || b.Invalid != 4 || b.Duplicates != 1 {
		t.Fatalf("ingest took %+v", b)
	}
	if !reflect.DeepEqual(plan.Totals, b.Totals) || plan.Rows != b.Rows || plan.Invalid != b.Invalid || plan.Duplicates != b.Duplicates {
		t.Errorf("plan totals %+v (rows %d, invalid %d, duplicates %d), ingest %+v (rows %d, invalid %d, duplicates %d)",
			plan.Totals, plan.Rows, plan.Invalid, plan.Duplicates, b.Totals, b.Rows, b.Invalid, b.Duplicates)
	}
	if plan.Counts["teemopay"] != b.Valid {
		t.Errorf("plan counts %v, ingest took %d", plan.Counts, b.Valid)
	}
	if !reflect.DeepEqual(plan.Report.Errors, res.Report.Errors) {
		t.Errorf("plan errors %+v\ningest errors %+v", plan.Report.Errors, res.Report.Errors)
	}
}

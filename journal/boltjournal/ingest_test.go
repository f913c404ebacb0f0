package boltjournal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/batchtest"
)

// snapshot lists every item and rejected row of the journal, to prove that
// an operation changed nothing.
func snapshot(t *testing.T, j *batch.Journal) string {
	t.Helper()
	var b strings.Builder
	bs, err := j.Batches()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range bs {
		b.WriteString(x.ID + " " + string(x.State) + "\n")
		_ = j.RejectedRows(x.ID, func(r batch.RejectedRow) { b.WriteString("  rejected " + r.PayoutID + "\n") })
	}
	_ = j.AllItems(func(it batch.Item) bool { b.WriteString(it.PayoutID + " " + string(it.State) + "\n"); return true })
	return b.String()
}

func TestIngestOnceHoweverOften(t *testing.T) {
	j := batchtest.Journal(t, nil)
	path := filepath.Join("testdata", "clean.csv")
	first, err := j.Ingest(path, batch.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Rejected || first.Recognised || first.Batch.Valid == 0 || first.Batch.State != batch.BatchAccepted {
		t.Fatalf("first ingest: %+v", first.Batch)
	}
	n := 0
	_ = j.Items(first.Batch.ID, func(it batch.Item) bool {
		n++
		if it.State != batch.Accepted {
			t.Errorf("%s is %s", it.PayoutID, it.State)
		}
		return true
	})
	if n != first.Batch.Valid {
		t.Fatalf("%d items journaled, batch says %d", n, first.Batch.Valid)
	}
	before := snapshot(t, j)
	// The same content under another name: the same batch, nothing changes.
	copyPath := filepath.Join(t.TempDir(), "renamed.csv")
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := j.Ingest(copyPath, batch.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Recognised || again.Batch.ID != first.Batch.ID {
		t.Fatalf("second ingest: recognised=%v batch=%s, want %s", again.Recognised, again.Batch.ID, first.Batch.ID)
	}
	if after := snapshot(t, j); after != before {
		t.Fatalf("ingesting the same content again changed the journal:\n%s\n---\n%s", before, after)
	}
}

func TestPayoutIDAcrossFilesIsADuplicate(t *testing.T) {
	j := batchtest.Journal(t, nil)
	dir := t.TempDir()
	row := func(id, amount string) batch.Row {
		r := batch.TemplateRows()[4] // TeemoPay bank transfer
		r.PayoutID, r.Amount = id, amount
		return r
	}
	write := func(name string, rows ...batch.Row) string {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := batch.WriteRows(f, rows, false); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.csv", row("P-1", "10.00"), row("P-2", "20.00"))
	b := write("b.csv", row("P-2", "20.00"), row("P-3", "30.00"))
	if _, err := j.Ingest(a, batch.IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := j.Ingest(b, batch.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Batch.Valid != 1 || res.Batch.Duplicates != 1 {
		t.Fatalf("second file: valid %d, duplicates %d; want 1 and 1", res.Batch.Valid, res.Batch.Duplicates)
	}
	var dup batch.RejectedRow
	_ = j.RejectedRows(res.Batch.ID, func(r batch.RejectedRow) { dup = r })
	if dup.PayoutID != "P-2" || dup.State != batch.Duplicate || dup.Row != 2 {
		t.Fatalf("duplicate row = %+v", dup)
	}
	it, _ := j.Item("P-2")
	if it.BatchID == res.Batch.ID {
		t.Fatal("the duplicate replaced the original item")
	}
	if len(res.Batch.Totals) != 1 || res.Batch.Totals[0].Amount != 3000 {
		t.Fatalf("totals = %+v, want only P-3's 30.00", res.Batch.Totals)
	}
}

func TestInvalidFileChangesNothing(t *testing.T) {
	j := batchtest.Journal(t, nil)
	before := snapshot(t, j)
	res, err := j.Ingest(filepath.Join("testdata", "errors.csv"), batch.IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rejected || len(res.Report.Errors) < 10 {
		t.Fatalf("rejected=%v errors=%d", res.Rejected, len(res.Report.Errors))
	}
	if after := snapshot(t, j); after != before {
		t.Fatalf("a rejected file changed the journal:\n%s", after)
	}
	// skip_rows journals the valid rows and records the invalid ones.
	res, err = j.Ingest(filepath.Join("testdata", "errors.csv"), batch.IngestOptions{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected || res.Batch.Invalid == 0 || res.Batch.Invalid+res.Batch.Valid+res.Batch.Duplicates != res.Batch.Rows {
		t.Fatalf("skip_rows: %+v", res.Batch)
	}
	invalid := 0
	_ = j.RejectedRows(res.Batch.ID, func(r batch.RejectedRow) {
		if r.State == batch.Invalid && len(r.Errors) > 0 {
			invalid++
		}
	})
	if invalid != res.Batch.Invalid {
		t.Fatalf("%d invalid rows recorded, batch says %d", invalid, res.Batch.Invalid)
	}
}

package journaltest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
)

func init() {
	register("IngestOnceHoweverOften", ingestOnce)
	register("IngestPayoutAcrossFilesIsADuplicate", ingestAcrossFiles)
	register("IngestRejectedFileChangesNothing", ingestRejectedChangesNothing)
	register("IngestRepeatedPayoutIDs", ingestRepeats)
	register("IngestRepeatOfAnEarlierBatch", ingestRepeatOfEarlier)
	register("IngestErrorPartWayChangesNothing", ingestErrorPartWay)
	register("IngestCrashLeavesNothing", ingestCrash)
	register("BatchesNewestFirstAndSetBatch", batchesAndSetBatch)
}

// PayoutRows returns n valid rows (TeemoPay bank transfers) P-1 .. P-n.
func PayoutRows(n int) []batch.Row {
	rows := make([]batch.Row, n)
	for i := range rows {
		r := batch.TemplateRows()[4]
		r.PayoutID = fmt.Sprintf("P-%d", i+1)
		r.Amount = fmt.Sprintf("%d.%02d", 10+i%900, i%100)
		rows[i] = r
	}
	return rows
}

// WriteRows writes rows as a CSV or XLSX file (by the name's extension) in
// a temporary directory and returns its path.
func WriteRows(t testing.TB, name string, rows []batch.Row) string {
	t.Helper()
	var b bytes.Buffer
	if err := batch.WriteRows(&b, rows, strings.HasSuffix(name, ".xlsx")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ingest(t *testing.T, j journal.Journal, path string, o journal.IngestOptions) *journal.IngestResult {
	t.Helper()
	res, err := j.Ingest(bg, path, o)
	if err != nil {
		t.Fatalf("ingest %s: %v", filepath.Base(path), err)
	}
	return res
}

func ingestOnce(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	path := WriteRows(t, "a.csv", PayoutRows(20))
	first := ingest(t, j, path, journal.IngestOptions{})
	b := first.Batch
	if first.Rejected || first.Recognised || b.Valid != 20 || b.State != journal.BatchAccepted || b.SHA256 == "" || b.Kind != "csv" {
		t.Fatalf("first ingest: %+v", b)
	}
	n := 0
	if err := j.BatchItems(bg, b.ID, func(it journal.Item) bool {
		n++
		if it.State != journal.Accepted || it.BatchID != b.ID || it.Refs.PayoutID != it.PayoutID {
			t.Errorf("%s: %+v", it.PayoutID, it)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, tot := range b.Totals {
		sum += tot.Amount
	}
	if n != 20 || len(b.Totals) != 1 || b.Totals[0].Count != 20 || sum == 0 {
		t.Fatalf("%d items, totals %+v", n, b.Totals)
	}
	got, err := j.Batch(bg, b.ID)
	if err != nil || !reflect.DeepEqual(got.Totals, b.Totals) || got.State != journal.BatchAccepted {
		t.Fatalf("stored batch %+v, %v", got, err)
	}
	if bb, ok, err := j.BatchBySHA(bg, b.SHA256); !ok || err != nil || bb.ID != b.ID {
		t.Fatalf("by sha: %v %v %v", bb.ID, ok, err)
	}
	before := Dump(t, j)
	// The same content under another name: the same batch, nothing changes.
	data, _ := os.ReadFile(path)
	copyPath := filepath.Join(t.TempDir(), "renamed.csv")
	if err := os.WriteFile(copyPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	again := ingest(t, j, copyPath, journal.IngestOptions{})
	if !again.Recognised || again.Batch.ID != b.ID {
		t.Fatalf("second ingest: recognised=%v batch=%s, want %s", again.Recognised, again.Batch.ID, b.ID)
	}
	if after := Dump(t, j); after != before {
		t.Fatal("ingesting the same content again changed the journal")
	}
}

func ingestAcrossFiles(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	rows := PayoutRows(3)
	first := ingest(t, j, WriteRows(t, "a.csv", rows[:2]), journal.IngestOptions{})
	res := ingest(t, j, WriteRows(t, "b.csv", rows[1:]), journal.IngestOptions{})
	if res.Batch.Valid != 1 || res.Batch.Duplicates != 1 {
		t.Fatalf("second file: valid %d, duplicates %d; want 1 and 1", res.Batch.Valid, res.Batch.Duplicates)
	}
	var dup journal.RejectedRow
	_ = j.RejectedRows(bg, res.Batch.ID, func(r journal.RejectedRow) bool { dup = r; return true })
	if dup.PayoutID != "P-2" || dup.State != journal.Duplicate || dup.Row != 2 || dup.Original != first.Batch.ID || dup.Amount == 0 {
		t.Fatalf("duplicate row = %+v", dup)
	}
	if it, _ := j.Item(bg, "P-2"); it.BatchID != first.Batch.ID {
		t.Fatal("the duplicate replaced the original item")
	}
	if len(res.Batch.Totals) != 1 || res.Batch.Totals[0].Count != 1 {
		t.Fatalf("totals = %+v, want only P-3", res.Batch.Totals)
	}
}

func ingestRejectedChangesNothing(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	rows := PayoutRows(30)
	rows[3].Amount = "1.005"
	rows[7].Country = "XX"
	rows[11].PayoutID = ""
	path := WriteRows(t, "bad.csv", rows)
	want, err := batch.ValidateFile(path, batch.ReadOptions{}, batch.ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := Dump(t, j)
	res := ingest(t, j, path, journal.IngestOptions{})
	if !res.Rejected || !reflect.DeepEqual(res.Report, want) {
		t.Fatalf("rejected=%v; report differs from validate's:\n%+v\n%+v", res.Rejected, res.Report, want)
	}
	if after := Dump(t, j); after != before {
		t.Fatalf("a rejected file changed the journal:\n%s", after)
	}
	// skip_rows journals the valid rows and records the invalid ones.
	res = ingest(t, j, path, journal.IngestOptions{SkipInvalid: true})
	b := res.Batch
	if res.Rejected || b.Invalid != 3 || b.Valid != 27 || b.Rows != 30 || !reflect.DeepEqual(res.Report, want) {
		t.Fatalf("skip_rows: %+v", b)
	}
	invalid := 0
	_ = j.RejectedRows(bg, b.ID, func(r journal.RejectedRow) bool {
		if r.State == journal.Invalid && len(r.Errors) > 0 {
			invalid++
		}
		return true
	})
	if invalid != 3 {
		t.Fatalf("%d invalid rows recorded, want 3", invalid)
	}
}

// chunk is the rows per transaction of the cases that cross chunks: files
// of a few thousand rows span several.
const chunk = 1000

// repeats is a file of 2,500 rows (three chunks) that repeats payout_ids:
// across chunks, three times, with the earlier or the later row invalid on
// its own too. Rows are 1-based data rows; the sheet row is one more.
func repeats() (rows []batch.Row, involved []int) {
	rows = PayoutRows(2500)
	same := func(a, b int) { rows[b-1].PayoutID = rows[a-1].PayoutID }
	same(1, 1700) // across chunks
	same(5, 10)   // three times
	same(5, 2400) //
	same(20, 30)  // the earlier row invalid too
	rows[20-1].Amount = "1.005"
	same(40, 50) // the later row invalid too
	rows[50-1].Country = "XX"
	same(60, 61) // next to each other
	involved = []int{1, 1700, 5, 10, 2400, 20, 30, 40, 50, 60, 61}
	return rows, involved
}

func ingestRepeats(t *testing.T, h Harness) {
	for _, name := range []string{"repeats.csv", "repeats.xlsx"} {
		t.Run(name, func(t *testing.T) {
			rows, involved := repeats()
			path := WriteRows(t, name, rows)
			want, err := batch.ValidateFile(path, batch.ReadOptions{}, batch.ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			j, _, _ := open(t, h)
			before := Dump(t, j)
			res := ingest(t, j, path, journal.IngestOptions{Chunk: chunk})
			if !res.Rejected {
				t.Fatalf("not rejected: %+v", res.Batch)
			}
			if after := Dump(t, j); after != before {
				t.Fatal("a rejected file changed the journal")
			}
			if !reflect.DeepEqual(res.Report, want) {
				t.Fatalf("ingest report differs from validate's:\n%+v\n%+v", res.Report, want)
			}
			res = ingest(t, j, path, journal.IngestOptions{SkipInvalid: true, Chunk: chunk})
			b := res.Batch
			if res.Rejected || b.Rows != 2500 || b.Invalid != len(involved) || b.Valid != 2500-len(involved) || b.Duplicates != 0 {
				t.Fatalf("skip_rows: rejected %v, %+v", res.Rejected, b)
			}
			if !reflect.DeepEqual(res.Report, want) {
				t.Fatal("skip_rows report differs from validate's")
			}
			skipped := map[string]bool{}
			for _, r := range involved {
				skipped[rows[r-1].PayoutID] = true
			}
			n := 0
			var sum int64
			_ = j.BatchItems(bg, b.ID, func(it journal.Item) bool {
				n++
				sum += it.Payout.Amount.Minor
				if skipped[it.PayoutID] {
					t.Errorf("%s is repeated in the file but was journaled (row %d)", it.PayoutID, it.Row)
				}
				return true
			})
			if n != b.Valid || len(b.Totals) != 1 || b.Totals[0].Count != n || b.Totals[0].Amount != sum {
				t.Fatalf("%d items, sum %d; batch %+v", n, sum, b)
			}
			open := 0
			_ = j.OpenStates(bg, func(string, journal.State) bool { open++; return true })
			if open != n {
				t.Fatalf("%d open entries, %d items", open, n)
			}
			got := map[int]journal.RejectedRow{}
			_ = j.RejectedRows(bg, b.ID, func(r journal.RejectedRow) bool { got[r.Row-1] = r; return true })
			if len(got) != len(involved) {
				t.Fatalf("%d rejected rows, want %d", len(got), len(involved))
			}
			for _, r := range involved {
				rr := got[r]
				if len(rr.Errors) == 0 {
					t.Errorf("data row %d: no errors: %+v", r, rr)
					continue
				}
				last := rr.Errors[len(rr.Errors)-1]
				if rr.State != journal.Invalid || rr.PayoutID != rows[r-1].PayoutID || !strings.Contains(last.Reason, "more than once") {
					t.Errorf("data row %d: %+v", r, rr)
				}
			}
		})
	}
}

func ingestRepeatOfEarlier(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	all := PayoutRows(10)
	ingest(t, j, WriteRows(t, "a.csv", all[:3]), journal.IngestOptions{})
	// P-1 once (a duplicate), P-2 twice, P-3 three times, P-4 .. P-6 new.
	rows := []batch.Row{all[0], all[1], all[3], all[1], all[2], all[4], all[2], all[5], all[2]}
	res := ingest(t, j, WriteRows(t, "b.csv", rows), journal.IngestOptions{SkipInvalid: true})
	b := res.Batch
	if b.Rows != 9 || b.Valid != 3 || b.Duplicates != 1 || b.Invalid != 5 {
		t.Fatalf("%+v", b)
	}
	states := map[int]journal.RejectedRow{}
	_ = j.RejectedRows(bg, b.ID, func(r journal.RejectedRow) bool { states[r.Row] = r; return true })
	if r := states[2]; r.State != journal.Duplicate || r.PayoutID != "P-1" || r.Original == "" {
		t.Errorf("row 2: %+v", r)
	}
	for _, row := range []int{3, 5, 6, 8, 10} {
		if r := states[row]; r.State != journal.Invalid || r.Original != "" || len(r.Errors) != 1 {
			t.Errorf("row %d: %+v", row, r)
		}
	}
	if r := states[6]; len(r.Errors) != 1 || r.Errors[0].Reason != "payout_id appears more than once in this file (also on row 8, 10)" {
		t.Errorf("row 6: %+v", r.Errors)
	}
	for _, id := range []string{"P-1", "P-2", "P-3"} {
		if it, err := j.Item(bg, id); err != nil || it.BatchID == b.ID {
			t.Errorf("%s: %v, batch %s", id, err, it.BatchID)
		}
	}
}

func ingestErrorPartWay(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	before := Dump(t, j)
	_, err := j.Ingest(bg, WriteRows(t, "p.csv", PayoutRows(2500)), journal.IngestOptions{Read: batch.ReadOptions{MaxRows: 2200}, Chunk: chunk})
	if err == nil || !strings.Contains(err.Error(), "more than 2200 data rows") {
		t.Fatalf("err = %v", err)
	}
	if after := Dump(t, j); after != before {
		t.Fatal("a refused file changed the journal")
	}
}

// crashing is a driver's staging that stops after a number of chunks and
// cleans nothing up, as a crash would.
type crashing struct {
	journal.Staging
	chunks int
}

var errCrash = errors.New("crash")

func (c *crashing) StageChunk(ctx context.Context, b *journal.Batch, first bool, ids []string, write func(map[string]journal.Owner) *journal.ChunkWrites) error {
	if c.chunks == 0 {
		return errCrash
	}
	c.chunks--
	return c.Staging.StageChunk(ctx, b, first, ids, write)
}

func (c *crashing) DropBatch(context.Context, string) error { return nil }

// ingestCrash: a crash mid-ingest leaves a staging batch; opening the
// journal again removes it and all it wrote, and ingesting the file again
// (or another file with the same payout_ids) is as if it had never been.
func ingestCrash(t *testing.T, h Harness) {
	j, s, _ := open(t, h)
	st, ok := unwrap(j).(journal.Stager)
	if !ok {
		t.Fatal("the driver does not expose its staging (journal.Stager)")
	}
	rows := PayoutRows(3500)
	ingest(t, j, WriteRows(t, "earlier.csv", PayoutRows(4000)[3600:]), journal.IngestOptions{})
	before := Dump(t, j)
	path := WriteRows(t, "p.csv", rows)
	if _, err := journal.Ingest(bg, &crashing{Staging: st.Staging(), chunks: 2}, path, journal.IngestOptions{Chunk: chunk}); !errors.Is(err, errCrash) {
		t.Fatalf("crashed ingest: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = reopen(t, s)
	if after := Dump(t, j); after != before {
		t.Fatalf("a crash's leftovers survived a restart:\n%s", after)
	}
	// The same leftovers without a restart: the next Ingest removes them.
	st = unwrap(j).(journal.Stager)
	if _, err := journal.Ingest(bg, &crashing{Staging: st.Staging(), chunks: 1}, path, journal.IngestOptions{Chunk: chunk}); !errors.Is(err, errCrash) {
		t.Fatalf("crashed ingest: %v", err)
	}
	res := ingest(t, j, WriteRows(t, "other.csv", rows[:1000]), journal.IngestOptions{})
	if res.Batch.Valid != 1000 || res.Batch.Duplicates != 0 {
		t.Fatalf("another file after a crash: %+v", res.Batch)
	}
	res = ingest(t, j, path, journal.IngestOptions{Chunk: chunk})
	if res.Rejected || res.Recognised || res.Batch.Valid != 2500 || res.Batch.Duplicates != 1000 || res.Batch.State != journal.BatchAccepted {
		t.Fatalf("the same file after a crash: %+v", res.Batch)
	}
	if bs, _ := j.ListBatches(bg); len(bs) != 3 {
		t.Fatalf("%d batches, want 3", len(bs))
	}
	if err := j.Check(bg); err != nil {
		t.Fatal(err)
	}
}

func batchesAndSetBatch(t *testing.T, h Harness) {
	j, _, c := open(t, h)
	Import(t, j, "B1", Item("a", "teemopay", "bank_transfer", 1, "PEN"))
	c.advance(60e9)
	Import(t, j, "B2", Item("b", "teemopay", "bank_transfer", 1, "PEN"))
	bs, err := j.ListBatches(bg)
	if err != nil || len(bs) != 2 || bs[0].ID != "B2" {
		t.Fatalf("batches %+v, %v; want newest first", bs, err)
	}
	c.advance(60e9)
	if err := j.SetBatch(bg, "B1", func(b *journal.Batch) error {
		b.State, b.Approved, b.ApprovedBy = journal.BatchHeld, c.now(), "ana"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b, _ := j.Batch(bg, "B1")
	if b.State != journal.BatchHeld || b.ApprovedBy != "ana" || !b.Updated.Equal(c.now()) {
		t.Fatalf("%+v", b)
	}
	boom := errors.New("no")
	if err := j.SetBatch(bg, "B1", func(b *journal.Batch) error { b.State = journal.BatchDone; return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn's error: %v", err)
	}
	if b, _ := j.Batch(bg, "B1"); b.State != journal.BatchHeld {
		t.Fatalf("a refused SetBatch changed the state to %s", b.State)
	}
	if _, err := j.Batch(bg, "B9"); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("unknown batch: %v", err)
	}
	if err := j.SetBatch(bg, "B9", func(*journal.Batch) error { return nil }); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("unknown batch: %v", err)
	}
	// RefreshBatch follows the items.
	if err := journal.RefreshBatch(bg, j, "B2"); err != nil {
		t.Fatal(err)
	}
	if b, _ := j.Batch(bg, "B2"); b.State != journal.BatchAccepted {
		t.Fatalf("B2 is %s with an accepted item, want accepted", b.State)
	}
	_ = j.Apply(bg, journal.Change{PayoutID: "b", To: journal.Cancelled})
	_ = journal.RefreshBatch(bg, j, "B2")
	if b, _ := j.Batch(bg, "B2"); b.State != journal.BatchDone {
		t.Fatalf("B2 is %s with every item final, want done", b.State)
	}
}

package boltjournal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
	bolt "go.etcd.io/bbolt"
)

func openJournal(t *testing.T, path string) *Journal {
	t.Helper()
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func newJournal(t *testing.T) *Journal {
	t.Helper()
	j := openJournal(t, filepath.Join(t.TempDir(), "journal.db"))
	t.Cleanup(func() {
		if err := j.Check(); err != nil {
			t.Errorf("journal check: %v", err)
		}
		j.Close()
	})
	return j
}

// dump hashes every key and value of every bucket: equal dumps are equal
// journals.
func dump(t *testing.T, j *Journal) string {
	t.Helper()
	h := sha256.New()
	counts := map[string]int{}
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				counts[string(name)]++
				fmt.Fprintf(h, "%s\x00%q\x00%q\n", name, k, v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%v %s", counts, hex.EncodeToString(h.Sum(nil)))
}

// payoutRows returns n valid rows (TeemoPay bank transfers) P-1 .. P-n.
func payoutRows(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		r := templateRows[4]
		r.PayoutID = fmt.Sprintf("P-%d", i+1)
		r.Amount = fmt.Sprintf("%d.%02d", 10+i%900, i%100)
		rows[i] = r
	}
	return rows
}

func writeRows(t *testing.T, name string, rows []Row) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteRows(&b, rows, strings.HasSuffix(name, ".xlsx")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// repeats is a file of 2,500 rows (three chunks) that repeats payout_ids:
// across chunks, three times, with the earlier or the later row invalid on
// its own too. Rows are 1-based data rows; the sheet row is one more.
func repeats() (rows []Row, involved []int) {
	rows = payoutRows(2500)
	same := func(a, b int) { rows[b-1].PayoutID = rows[a-1].PayoutID }
	same(1, 1700) // across chunks
	same(5, 10)   // three times
	same(5, 2400) //
	same(20, 30)  // the earlier row invalid too
	rows[20-1].Amount = "1.005"
	same(40, 50) // the later row invalid too
	rows[50-1].Country = "XX"
	involved = []int{1, 1700, 5, 10, 2400, 20, 30, 40, 50}
	return rows, involved
}

// TestIngestRepeatedPayoutIDs: a payout_id the file repeats is an error on
// every row carrying it, the earlier ones included, whether or not they
// were already staged, exactly as payrun validate says; a rejected file
// changes nothing; skip_rows skips every such row.
func TestIngestRepeatedPayoutIDs(t *testing.T) {
	for _, name := range []string{"repeats.csv", "repeats.xlsx"} {
		t.Run(name, func(t *testing.T) {
			rows, involved := repeats()
			path := writeRows(t, name, rows)
			want, err := ValidateFile(path, ReadOptions{}, ValidateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			j := newJournal(t)
			before := dump(t, j)
			res, err := j.Ingest(path, IngestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Rejected {
				t.Fatalf("not rejected: %+v", res.Batch)
			}
			if after := dump(t, j); after != before {
				t.Fatalf("a rejected file changed the journal:\n%s\n%s", before, after)
			}
			if !reflect.DeepEqual(res.Report, want) {
				t.Fatalf("ingest report differs from validate's:\n%+v\n%+v", res.Report, want)
			}
			dupRows := map[int]bool{}
			for _, e := range want.Errors {
				if strings.Contains(e.Reason, "more than once") {
					dupRows[e.Row-1] = true
				}
			}
			for _, r := range involved {
				if !dupRows[r] {
					t.Errorf("data row %d: no repeated payout_id error", r)
				}
			}

			res, err = j.Ingest(path, IngestOptions{SkipInvalid: true})
			if err != nil {
				t.Fatal(err)
			}
			b := res.Batch
			if res.Rejected || b.Rows != 2500 || b.Invalid != len(involved) || b.Valid != 2500-len(involved) || b.Duplicates != 0 {
				t.Fatalf("skip_rows: rejected %v, %+v", res.Rejected, b)
			}
			if !reflect.DeepEqual(res.Report, want) {
				t.Fatalf("skip_rows report differs from validate's")
			}
			skipped := map[string]bool{}
			for _, r := range involved {
				skipped[rows[r-1].PayoutID] = true
			}
			n := 0
			var sum int64
			_ = j.Items(b.ID, func(it Item) bool {
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
			_ = j.OpenStates(func(string, State) bool { open++; return true })
			if open != n {
				t.Fatalf("%d open entries, %d items", open, n)
			}
			got := map[int]RejectedRow{}
			_ = j.RejectedRows(b.ID, func(r RejectedRow) { got[r.Row-1] = r })
			if len(got) != len(involved) {
				t.Fatalf("%d rejected rows, want %d", len(got), len(involved))
			}
			for _, r := range involved {
				rr := got[r]
				last := rr.Errors[len(rr.Errors)-1]
				if rr.State != Invalid || rr.PayoutID != rows[r-1].PayoutID || !strings.Contains(last.Reason, "more than once") {
					t.Errorf("data row %d: %+v", r, rr)
				}
			}
		})
	}
}

// TestIngestRepeatOfAnEarlierBatch: a payout_id journaled by an earlier
// batch is a duplicate when the file has it once, and an invalid row (on
// every row) when the file repeats it.
func TestIngestRepeatOfAnEarlierBatch(t *testing.T) {
	j := newJournal(t)
	all := payoutRows(10)
	if _, err := j.Ingest(writeRows(t, "a.csv", all[:3]), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	// P-1 once (a duplicate), P-2 twice, P-3 three times, P-4 .. P-6 new.
	rows := []Row{all[0], all[1], all[3], all[1], all[2], all[4], all[2], all[5], all[2]}
	res, err := j.Ingest(writeRows(t, "b.csv", rows), IngestOptions{SkipInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	b := res.Batch
	if b.Rows != 9 || b.Valid != 3 || b.Duplicates != 1 || b.Invalid != 5 {
		t.Fatalf("%+v", b)
	}
	states := map[int]RejectedRow{}
	_ = j.RejectedRows(b.ID, func(r RejectedRow) { states[r.Row] = r })
	if r := states[2]; r.State != Duplicate || r.PayoutID != "P-1" || r.Original == "" {
		t.Errorf("row 2: %+v", r)
	}
	for _, row := range []int{3, 5, 6, 8, 10} {
		if r := states[row]; r.State != Invalid || r.Original != "" || len(r.Errors) != 1 {
			t.Errorf("row %d: %+v", row, r)
		}
	}
	if r := states[6]; r.Errors[0].Reason != "payout_id appears more than once in this file (also on row 8, 10)" {
		t.Errorf("row 6: %q", r.Errors[0].Reason)
	}
	for _, id := range []string{"P-1", "P-2", "P-3"} {
		if it, err := j.Item(id); err != nil || it.BatchID == b.ID {
			t.Errorf("%s: %v, batch %s", id, err, it.BatchID)
		}
	}
}

// TestIngestCrashLeavesNothing: a crash mid-ingest leaves a staging batch;
// opening the journal again removes it and all it wrote, and ingesting the
// file again (or another file with the same payout_ids) is as if it had
// never been.
func TestIngestCrashLeavesNothing(t *testing.T) {
	rows := payoutRows(3500)
	path := writeRows(t, "p.csv", rows)
	other := writeRows(t, "other.csv", rows[:1000])
	dbPath := filepath.Join(t.TempDir(), "journal.db")
	j := openJournal(t, dbPath)
	defer func() { j.Close() }()
	if _, err := j.Ingest(writeRows(t, "earlier.csv", payoutRows(4000)[3600:]), IngestOptions{}); err != nil {
		t.Fatal(err)
	}
	before := dump(t, j)

	crash := func() {
		// Ingest up to row 2,501 and stop there without cleaning up, as a
		// crash would.
		sha, size, err := FileSHA256(path)
		if err != nil {
			t.Fatal(err)
		}
		rd, err := OpenFile(path, ReadOptions{MaxRows: 2500})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		now := time.Now().UTC()
		src := rd.Source()
		s := &stager{j: j, src: src, rep: &Report{}, totals: map[[2]string]*Total{}, rejIDs: map[string]int{},
			fileDups: map[string][]int{}, b: Batch{ID: BatchID(sha, now), SHA256: sha, Size: size, State: BatchIngesting}}
		if _, err := s.run(rd, now); err == nil {
			t.Fatal("no error at row 2,501")
		}
		b, err := j.Batch(s.b.ID)
		staged := 0
		_ = j.Items(s.b.ID, func(Item) bool { staged++; return true })
		if err != nil || b.State != BatchIngesting || staged < ingestChunk {
			t.Fatalf("no staging batch left: %v %+v, %d items", err, b, staged)
		}
	}

	crash()
	j.Close()
	j = openJournal(t, dbPath)
	if after := dump(t, j); after != before {
		t.Fatalf("open left a crashed ingest's rows:\n%s\n%s", before, after)
	}

	crash()
	res, err := j.Ingest(other, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected || res.Recognised || res.Batch.Valid != 1000 || res.Batch.Duplicates != 0 {
		t.Fatalf("another file after a crash: %+v", res.Batch)
	}

	j.Close()
	j = openJournal(t, dbPath)
	if after := dump(t, j); after == before {
		t.Fatal("no change")
	}
	crash()
	res, err = j.Ingest(path, IngestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected || res.Recognised || res.Batch.Valid != 2500 || res.Batch.Duplicates != 1000 || res.Batch.State != BatchAccepted {
		t.Fatalf("the same file after a crash: %+v", res.Batch)
	}
	bs, _ := j.Batches()
	if len(bs) != 3 {
		t.Fatalf("%d batches", len(bs))
	}
	if err := j.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestIngestErrorPartWayChangesNothing: a file refused part-way (too many
// rows) leaves the journal as it was.
func TestIngestErrorPartWayChangesNothing(t *testing.T) {
	j := newJournal(t)
	before := dump(t, j)
	_, err := j.Ingest(writeRows(t, "p.csv", payoutRows(2500)), IngestOptions{Read: ReadOptions{MaxRows: 2200}})
	if err == nil || !strings.Contains(err.Error(), "more than 2200 data rows") {
		t.Fatalf("err = %v", err)
	}
	if after := dump(t, j); after != before {
		t.Fatalf("a refused file changed the journal")
	}
}

// TestIngestReportIsValidates: ingesting the errors fixture reports what
// payrun validate reports, row for row.
func TestIngestReportIsValidates(t *testing.T) {
	path := filepath.Join("testdata", "errors.csv")
	want, err := ValidateFile(path, ReadOptions{}, ValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, skip := range []bool{false, true} {
		j := newJournal(t)
		res, err := j.Ingest(path, IngestOptions{SkipInvalid: skip})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Report, want) {
			t.Fatalf("skip %v: report differs:\n%+v\n%+v", skip, res.Report, want)
		}
	}
}

// TestAppendFreshItemIsEncodeItem holds the ingest's encoder to the
// journal's, over fresh items whose payout fillRandom
// (journal_encode_test.go) fills at random: every field, and so a field
// added to providers.Payout or its parts too, which makes the test fail
// until appendFreshItem writes it. Only what a fresh item's payout cannot
// have is set by hand, as Ingest sets it.
func TestAppendFreshItemIsEncodeItem(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string { return fillWords[rng.IntN(len(fillWords))] }
	now := time.Date(2026, 3, 4, 5, 6, 7, 891011, time.UTC)
	at, err := now.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		var p providers.Payout
		fillRandom(rng, reflect.ValueOf(&p).Elem())
		// The payout_id of a valid row (letters, digits, '-' and '_'),
		// never a first submission's Attempt.
		p.ID, p.Attempt = fmt.Sprintf("P-%d", i), 0
		it := Item{PayoutID: p.ID, BatchID: "B" + word(), Row: rng.IntN(1e7), Provider: word(), Payout: p, State: Accepted,
			Refs: refsFor(p), Created: now, Updated: now}
		want, err := encodeItem(&it)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFreshItem(nil, &it, at); !bytes.Equal(got, want) {
			t.Fatalf("item %d:\n got %s\nwant %s", i, got, want)
		}
		// The journal reads the bytes back as the item, its strings as
		// JSON carries them (invalid UTF-8 becomes U+FFFD).
		var back Item
		if err := decodeItem([]byte(it.PayoutID), want, &back); err != nil {
			t.Fatalf("item %d does not read back: %v\n%s", i, err, want)
		}
		if wantBack := plainRoundTrip(t, it); !reflect.DeepEqual(back, wantBack) {
			t.Fatalf("item %d reads back as\n%+v\nwant %+v", i, back, wantBack)
		}
	}
}

// TestAppendRowKeyIsRowKey holds the ingest's row keys to the journal's.
func TestAppendRowKeyIsRowKey(t *testing.T) {
	for _, id := range []string{"", "B20260304-0123456789"} {
		for _, row := range []int{0, 2, 1000, math.MaxInt32, math.MaxInt} {
			got := appendRowKey([]byte("before"), id, row)
			if want := append([]byte("before"), rowKey(id, row)...); !bytes.Equal(got, want) {
				t.Fatalf("batch %q row %d: %x, want %x", id, row, got, want)
			}
		}
	}
}

// TestIngestWriteErrorStopsTheReader: a journal error part-way (here: the
// batch id taken by another file) ends the ingest with the reader stopped,
// and changes nothing.
func TestIngestWriteErrorStopsTheReader(t *testing.T) {
	j := newJournal(t)
	path := writeRows(t, "p.csv", payoutRows(5000))
	sha, _, err := FileSHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Import(Batch{ID: BatchID(sha, time.Now())}, nil); err != nil {
		t.Fatal(err)
	}
	before := dump(t, j)
	if _, err := j.Ingest(path, IngestOptions{}); !errors.Is(err, ErrBatchExists) {
		t.Fatalf("err = %v", err)
	}
	if after := dump(t, j); after != before {
		t.Fatal("a failed ingest changed the journal")
	}
}

package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
)

// lossy is a journal that loses or doubles rows as it hands them to the
// matcher, as a bug in the store or in the matcher would: the tie-out,
// which takes its input side from the batch's ingest record, must show it.
type lossy struct {
	journal.Journal
	drop, twice  string // payout_ids of items lost, or handed over twice
	dropRejected int    // row number of a rejected row lost
}

func (l lossy) BatchItems(ctx context.Context, id string, fn func(journal.Item) bool) error {
	return l.Journal.BatchItems(ctx, id, func(it journal.Item) bool {
		switch it.PayoutID {
		case l.drop:
			return true
		case l.twice:
			if !fn(it) {
				return false
			}
		}
		return fn(it)
	})
}

func (l lossy) RejectedRows(ctx context.Context, id string, fn func(journal.RejectedRow) bool) error {
	return l.Journal.RejectedRows(ctx, id, func(r journal.RejectedRow) bool {
		if r.Row == l.dropRejected {
			return true
		}
		return fn(r)
	})
}

// tieOutFixture ingests two files: yesterday's P-1 and P-2 (left open),
// and today's with a duplicate of P-1, three valid rows, an invalid
// amount and a row whose provider and currency are blank (skip_rows).
func tieOutFixture(t *testing.T) (journal.Journal, journal.Batch) {
	t.Helper()
	at := time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)
	j := testjournal.Open(t, func() time.Time { return at })
	all := journaltest.PayoutRows(6)
	if res, err := j.Ingest(ctx, journaltest.WriteRows(t, "yesterday.csv", all[:2]), journal.IngestOptions{}); err != nil || res.Rejected {
		t.Fatalf("ingest: %v (rejected %v)", err, res != nil && res.Rejected)
	}
	at = at.Add(24 * time.Hour)
	bad := all[5]
	bad.Amount = "12.345"
	blank := all[5]
	blank.PayoutID, blank.Provider, blank.Currency = "P-7", "", ""
	rows := []batch.Row{all[0], all[2], all[3], all[4], bad, blank}
	res, err := j.Ingest(ctx, journaltest.WriteRows(t, "today.csv", rows), journal.IngestOptions{SkipInvalid: true})
	if err != nil || res.Rejected {
		t.Fatalf("ingest: %v (rejected %v)", err, res != nil && res.Rejected)
	}
	if b := res.Batch; b.Rows != 6 || b.Valid != 3 || b.Invalid != 2 || b.Duplicates != 1 {
		t.Fatalf("today's batch %+v", b)
	}
	return j, res.Batch
}

// TestTieOutAgainstIngestRecord: the tie-out's input side is the batch
// totals recorded at ingest, so that it balances on a whole journal and
// fails when a row is lost or counted twice; invalid and duplicate rows tie
// by count on lines of their own, never on a line with a blank currency.
func TestTieOutAgainstIngestRecord(t *testing.T) {
	t.Parallel()
	j, b := tieOutFixture(t)
	now := b.Created.Add(12 * time.Hour)
	var penTeemo int64
	for _, tot := range b.Totals {
		penTeemo += tot.Amount
	}
	tie := func(res *Result, k Key) TieOut {
		t.Helper()
		for _, to := range res.TieOut {
			if to.Key == k {
				return to
			}
		}
		t.Fatalf("no tie-out line %v in %+v", k, res.TieOut)
		return TieOut{}
	}
	scopes := []Scope{{BatchID: b.ID}, {Date: "2026-11-21", Open: true}}
	for _, s := range scopes {
		res, err := Match(ctx, j, s, now, MatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Balanced() {
			t.Errorf("%s: not balanced on a whole journal: %+v", s, res.TieOut)
		}
		for _, to := range res.TieOut {
			if to.Currency == "" && !to.CountsOnly {
				t.Errorf("%s: a money line with a blank currency: %+v", s, to)
			}
		}
		if to := tie(res, Key{Provider: NotPayableInvalid}); !to.CountsOnly || to.InputCount != 2 || to.CategoriesCount != 2 {
			t.Errorf("%s: invalid rows %+v, want 2 counted on both sides", s, to)
		}
		if to := tie(res, Key{Provider: NotPayableDuplicate}); to.InputCount != 1 || to.CategoriesCount != 1 {
			t.Errorf("%s: duplicate rows %+v, want 1 counted on both sides", s, to)
		}
	}
	// The day's report carries yesterday's open P-1 and P-2 (100 + 101).
	day, err := Match(ctx, j, scopes[1], now, MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if to := tie(day, Key{Currency: "PEN", Provider: "teemopay"}); day.Carried != 2 || to.InputCount != 5 || to.InputAmount != penTeemo+1000+1101 {
		t.Errorf("day scope: carried %d, tie-out %+v; want 5 rows, %d", day.Carried, to, penTeemo+1000+1101)
	}

	for _, c := range []struct {
		name string
		j    lossy
		k    Key
		// input and categories counts, difference
		in, got int
		diff    int64
	}{
		{"an item lost", lossy{Journal: j, drop: "P-3"}, Key{"PEN", "teemopay"}, 3, 2, 1202},
		{"an item counted twice", lossy{Journal: j, twice: "P-5"}, Key{"PEN", "teemopay"}, 3, 4, -1404},
		{"an invalid row lost", lossy{Journal: j, dropRejected: 6}, Key{Provider: NotPayableInvalid}, 2, 1, 0},
		{"a duplicate row lost", lossy{Journal: j, dropRejected: 2}, Key{Provider: NotPayableDuplicate}, 1, 0, 0},
	} {
		for _, s := range scopes {
			res, err := Match(ctx, c.j, s, now, MatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Balanced() {
				t.Errorf("%s, %s: the tie-out balances: %+v", c.name, s, res.TieOut)
			}
			if to := tie(res, c.k); to.InputCount-c.in != to.CategoriesCount-c.got || to.InputCount < c.in || to.Difference != c.diff {
				t.Errorf("%s, %s: %+v, want input %d (plus carried), categories %d, difference %d", c.name, s, to, c.in, c.got, c.diff)
			}
		}
	}
}

package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
)

// TestSuspectedDuplicates: a row paying the account and amount of a recent
// payout of another batch is named with it; the same account with another
// amount, and a payout of the batch itself, are not.
func TestSuspectedDuplicates(t *testing.T) {
	ctx := context.Background()
	j := testjournal.Open(t, nil)
	earlier := journaltest.ValidItem("old-1", "teemopay", 1500)
	earlier.Payout.Beneficiary.CCI = "00243000584290204477"
	earlier.Created = time.Now().Add(-24 * time.Hour)
	if err := j.Import(ctx, journal.Batch{ID: "B-old", File: "old.csv", Rows: 1, Valid: 1}, []journal.Item{earlier}); err != nil {
		t.Fatal(err)
	}
	same := journaltest.ValidItem("new-1", "teemopay", 1500)
	same.Payout.Beneficiary.CCI = earlier.Payout.Beneficiary.CCI
	other := journaltest.ValidItem("new-2", "teemopay", 1600)
	other.Payout.Beneficiary.CCI = earlier.Payout.Beneficiary.CCI
	earlier.Row, same.Row, other.Row = 2, 2, 3
	if err := j.Import(ctx, journal.Batch{ID: "B-new", File: "new.csv", Rows: 2, Valid: 2}, []journal.Item{same, other}); err != nil {
		t.Fatal(err)
	}
	got, err := suspectedDuplicates(ctx, j, "B-new", 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].PayoutID != "new-1" || got[0].OtherPayoutID != "old-1" || got[0].OtherBatch != "B-old" {
		t.Fatalf("suspected duplicates %+v, want new-1 beside old-1", got)
	}
	if got, err := suspectedDuplicates(ctx, j, "B-new", 0); err != nil || got != nil {
		t.Fatalf("without a lookback: %+v (%v)", got, err)
	}
}

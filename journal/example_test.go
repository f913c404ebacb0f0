package journal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/drivers"
	"github.com/payrun/payrun/journal/journaltest"
)

// The journal contract: open a journal by its location (a file here; a
// postgres:// URL is PostgreSQL), record a batch, and move a payout
// through the state graph. A change off the graph is refused; a
// conditional change (From) is a compare-and-set.
func Example() {
	dir, _ := os.MkdirTemp("", "payrun-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	j, err := drivers.Open(ctx, filepath.Join(dir, "payrun.db"), drivers.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	it := journaltest.ValidItem("P-1", "teemopay", 150050)
	it.Row = 2
	if err := j.Import(ctx, journal.Batch{ID: "B1", File: "payouts.csv"}, []journal.Item{it}); err != nil {
		fmt.Println(err)
		return
	}
	// The intent is durable before a request leaves.
	err = j.Apply(ctx, journal.Change{PayoutID: "P-1", To: journal.Queued, Actor: "dispatcher"},
		journal.Change{PayoutID: "P-1", From: journal.Queued, To: journal.Sending, Actor: "dispatcher"})
	fmt.Println("queued and sending:", err)
	err = j.Apply(ctx, journal.Change{PayoutID: "P-1", To: journal.Accepted, Actor: "test"})
	var off *journal.ErrTransition
	fmt.Println("back to accepted refused:", errors.As(err, &off))
	err = j.Apply(ctx, journal.Change{PayoutID: "P-1", From: journal.Queued, To: journal.Sending, Actor: "another worker"})
	fmt.Println("a second send refused:", errors.Is(err, journal.ErrConflict))
	got, _ := j.Item(ctx, "P-1")
	fmt.Println(got.PayoutID, got.State, got.Payout.Amount)
	// Output:
	// queued and sending: <nil>
	// back to accepted refused: true
	// a second send refused: true
	// P-1 sending 1500.50 PEN
}

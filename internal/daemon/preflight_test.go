package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
)

// TestDaemonRunsGateBatchesJournaledWithoutPreflight: a batch journaled
// without its pre-flight (by `payrun ingest` of an older payrun, or an
// intake stopped before it) never leaves through the daemon ungated: send
// now refuses it, held, and the cut-off's run holds it and sends the rest;
// each gets its pre-flight message once.
func TestDaemonRunsGateBatchesJournaledWithoutPreflight(t *testing.T) {
	b := startDaemon(t, func(cfg *config.Config) {
		holdAll(cfg)
		cfg.Preflight.HoldAbove = map[string]string{"PEN": "200.00"}
	})
	ctx := context.Background()
	journalOld := func(name string, rows []batch.Row) journal.Batch {
		t.Helper()
		p := filepath.Join(b.dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := batch.WriteRows(f, rows, false); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := b.j.Ingest(ctx, p, app.IngestOptions(b.cfg, app.EnabledProviders(b.cfg)))
		if err != nil || res.Rejected || res.Batch.State != journal.BatchAccepted {
			t.Fatalf("journal %s: %v %+v", name, err, res)
		}
		return res.Batch
	}
	preflights := func(id string) int {
		emls, _ := filepath.Glob(filepath.Join(b.cfg.Abs(b.cfg.Dirs.Outbox), "*.eml"))
		n := 0
		for _, p := range emls {
			if raw, err := os.ReadFile(p); err == nil && strings.Contains(string(raw), "Pre-flight "+id+":") {
				n++
			}
		}
		return n
	}

	// Send now: refused, held, with how to release it.
	sendRows := payoutRows("SN", 3)
	sendNow := journalOld("send.csv", sendRows)
	ctl, err := DialControl(ctx, SocketPath(b.cfg))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.Send(ctx, sendNow.ID); err == nil || !strings.Contains(err.Error(), "held") || !strings.Contains(err.Error(), "payrun approve "+sendNow.ID) {
		t.Fatalf("send now of a batch journaled without a pre-flight: %v", err)
	}
	if x := b.batch(sendNow.ID); x.State != journal.BatchHeld || x.Preflighted.IsZero() {
		t.Fatalf("after send now: %s (pre-flight at %v), want held", x.State, x.Preflighted)
	}

	// The cut-off: the batch above the threshold is held, the one below
	// is gated and sent.
	bigRows, smallRows := payoutRows("CB", 3), payoutRows("CS", 1)
	big, small := journalOld("big.csv", bigRows), journalOld("small.csv", smallRows)
	if err := b.d.dispatch(ctx, nil, "cut-off"); err != nil {
		t.Fatal(err)
	}
	if x := b.batch(big.ID); x.State != journal.BatchHeld {
		t.Fatalf("batch above the threshold after the cut-off: %s, want held", x.State)
	}
	found := false
	for _, l := range b.logs.lines("batch held for approval before its dispatch") {
		found = found || l["batch"] == big.ID
	}
	if !found {
		t.Errorf("the daemon's log does not say batch %s was held by its pre-flight before the run", big.ID)
	}
	b.waitFor("the batch under the threshold to be paid", func() bool { return b.paid(smallRows) == len(smallRows) })
	if n := b.paid(append(append([]batch.Row(nil), sendRows...), bigRows...)); n != 0 {
		t.Fatalf("%d payouts of held batches paid", n)
	}
	if x := b.batch(small.ID); x.Preflighted.IsZero() {
		t.Fatalf("the batch sent at the cut-off does not record its pre-flight")
	}
	// Another run gates nothing again.
	if err := b.d.dispatch(ctx, nil, "cut-off"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{sendNow.ID, big.ID, small.ID} {
		if n := preflights(id); n != 1 {
			t.Errorf("batch %s: %d pre-flight messages, want 1", id, n)
		}
	}
}

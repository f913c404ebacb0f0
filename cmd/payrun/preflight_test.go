package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers/sandboxes"
)

// TestPreflightHoldsWhateverSends: with a threshold every file is above,
// a batch is held by its pre-flight whatever command would send it.
// `ingest` runs the pre-flight as the daemon's intake does, so `resume`
// and `send` find the batch held; a batch journaled without a pre-flight
// (as `ingest` did before it ran one, or a run stopped before it) gets it
// from `send` or `resume`, and is held too. Nothing reaches a sandbox, each
// batch has one pre-flight message, and each command says how the batch
// is released; once approved (by someone other than who dropped the file:
// maker-checker is on), `resume` and `send` pay it.
func TestPreflightHoldsWhateverSends(t *testing.T) {
	dir := t.TempDir()
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer land.Close()
	cfg := sandboxConfig(land, dir, "")
	cfg.Dir = dir
	journalAt := testJournalLocation(t, cfg, dir)
	rowsA, rowsB, rowsC := payableRows("PA", 6), payableRows("PB", 6), payableRows("PC", 6)
	cfg.Preflight.Enabled = true
	cfg.Preflight.ApprovalDir = "approvals"
	cfg.Preflight.RequireDistinctApprover = true
	cfg.Preflight.HoldAbove = map[string]string{}
	for _, r := range rowsA {
		cfg.Preflight.HoldAbove[r.Currency] = "1.00"
	}
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	payrun := func(args ...string) (int, string) {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"--config", cfgPath}, args...)...)
		return code, out + errOut
	}
	file := func(name string, rows []batch.Row) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := writeDemoFile(p, rows, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// sent counts the rows of a batch that reached a sandbox.
	sent := func(rows []batch.Row) int {
		refs := map[string]bool{}
		for _, n := range land.Names() {
			for _, ref := range land.Kit(n).Ledger.References() {
				refs[ref] = true
			}
		}
		k := 0
		for _, r := range rows {
			if refs[r.PayoutID] {
				k++
			}
		}
		return k
	}
	// withJournal runs fn on the journal between two commands.
	withJournal := func(fn func(j journal.Journal)) {
		t.Helper()
		j := openTestJournal(t, journalAt)
		defer j.Close()
		fn(j)
	}
	state := func(id string) (st journal.BatchState, unsent int) {
		t.Helper()
		withJournal(func(j journal.Journal) {
			b, err := j.Batch(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			st = b.State
			if err := j.BatchItems(context.Background(), id, func(it journal.Item) bool {
				if it.State == journal.Accepted {
					unsent++
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
		})
		return st, unsent
	}
	// preflights counts the pre-flight messages of a batch in the outbox.
	preflights := func(id string) int {
		t.Helper()
		emls, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
		k := 0
		for _, p := range emls {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), "Pre-flight "+id+":") {
				k++
			}
		}
		return k
	}
	held := func(id string) string {
		return "Batch " + id + " is HELD for approval: the batch total "
	}
	release := func(id string) string {
		return "Run 'payrun approve " + id + "', or drop " + filepath.Join(dir, "approvals", id+".approved") +
			", to send it (someone other than who dropped the file must approve it)."
	}
	batchID := regexp.MustCompile(`Batch (\S+) from `)

	// ingest, then resume and send: held at ingest, sent by neither.
	code, out := payrun("ingest", file("a.csv", rowsA))
	m := batchID.FindStringSubmatch(out)
	if code != exitOK || m == nil || !strings.Contains(out, held(m[1])) || !strings.Contains(out, release(m[1])) {
		t.Fatalf("ingest above the threshold: exit %d\n%s", code, out)
	}
	a := m[1]
	if code, out := payrun("resume", "--wait", "0"); code != exitOK || !strings.Contains(out, "Nothing to resume") {
		t.Fatalf("resume of a held batch: exit %d\n%s", code, out)
	}
	if code, out := payrun("send", "--wait", "0", a); code == exitOK || !strings.Contains(out, held(a)) || !strings.Contains(out, release(a)) ||
		!strings.Contains(out, "nothing was sent") {
		t.Fatalf("send of a held batch: exit %d\n%s", code, out)
	}
	if st, unsent := state(a); st != journal.BatchHeld || unsent != len(rowsA) || sent(rowsA) != 0 {
		t.Fatalf("batch %s after resume and send: %s, %d of %d rows unsent, %d at the sandboxes", a, st, unsent, len(rowsA), sent(rowsA))
	}
	if n := preflights(a); n != 1 {
		t.Errorf("batch %s: %d pre-flight messages, want 1", a, n)
	}

	// Batches journaled without a pre-flight, as `ingest` did before it
	// ran one: send and resume run it, and hold them.
	journalOld := func(name string, rows []batch.Row) string {
		t.Helper()
		var id string
		withJournal(func(j journal.Journal) {
			ctx := context.Background()
			res, err := j.Ingest(ctx, file(name, rows), app.IngestOptions(cfg, app.EnabledProviders(cfg)))
			if err != nil || res.Rejected {
				t.Fatalf("ingest %s: %v %+v", name, err, res.Report)
			}
			if err := app.RecordDropper(ctx, j, res.Batch.ID, app.CurrentUser()); err != nil {
				t.Fatal(err)
			}
			id = res.Batch.ID
		})
		return id
	}
	b := journalOld("b.csv", rowsB)
	if code, out := payrun("send", "--wait", "0", b); code == exitOK || !strings.Contains(out, held(b)) || !strings.Contains(out, release(b)) {
		t.Fatalf("send of a batch journaled without a pre-flight: exit %d\n%s", code, out)
	}
	c := journalOld("c.csv", rowsC)
	if code, out := payrun("resume", "--wait", "0"); code != exitOK || !strings.Contains(out, held(c)) || !strings.Contains(out, release(c)) ||
		!strings.Contains(out, "Nothing to resume") {
		t.Fatalf("resume of a batch journaled without a pre-flight: exit %d\n%s", code, out)
	}
	for id, rows := range map[string][]batch.Row{b: rowsB, c: rowsC} {
		if st, unsent := state(id); st != journal.BatchHeld || unsent != len(rows) || sent(rows) != 0 {
			t.Fatalf("batch %s journaled without a pre-flight, after send and resume: %s, %d of %d rows unsent, %d at the sandboxes",
				id, st, unsent, len(rows), sent(rows))
		}
		if n := preflights(id); n != 1 {
			t.Errorf("batch %s: %d pre-flight messages, want 1", id, n)
		}
	}

	// Maker-checker: whoever dropped the file cannot approve it. The test
	// runs as one OS user, so the files are recorded as another's.
	if code, out := payrun("approve", "--yes", a); code == exitOK || !strings.Contains(out, "another person must approve it") {
		t.Fatalf("approve by the dropper: exit %d\n%s", code, out)
	}
	withJournal(func(j journal.Journal) {
		for _, id := range []string{a, b, c} {
			if err := j.SetBatch(context.Background(), id, func(b *journal.Batch) error { b.DroppedBy = "maker"; return nil }); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, id := range []string{a, b} {
		if code, out := payrun("approve", "--yes", id); code != exitOK || !strings.Contains(out, "approved by "+app.CurrentUser()) {
			t.Fatalf("approve %s: exit %d\n%s", id, code, out)
		}
	}
	// resume sends the approved batches, not the held one.
	if code, out := payrun("resume", "--wait", "0"); code != exitOK || !strings.Contains(out, a) || !strings.Contains(out, b) || strings.Contains(out, c) {
		t.Fatalf("resume after approval: exit %d\n%s", code, out)
	}
	for id, rows := range map[string][]batch.Row{a: rowsA, b: rowsB} {
		if st, unsent := state(id); st == journal.BatchHeld || unsent != 0 || sent(rows) != len(rows) {
			t.Fatalf("approved batch %s after resume: %s, %d rows unsent, %d of %d at the sandboxes", id, st, unsent, sent(rows), len(rows))
		}
	}
	if st, unsent := state(c); st != journal.BatchHeld || unsent != len(rowsC) || sent(rowsC) != 0 {
		t.Fatalf("held batch %s after resume: %s, %d rows unsent, %d at the sandboxes", c, st, unsent, sent(rowsC))
	}
	// send sends an approved batch.
	if code, out := payrun("approve", "--yes", c); code != exitOK {
		t.Fatalf("approve %s: exit %d\n%s", c, code, out)
	}
	if code, out := payrun("send", "--wait", "0", c); code != exitOK || sent(rowsC) != len(rowsC) {
		t.Fatalf("send of the approved batch %s: exit %d, %d of %d rows at the sandboxes\n%s", c, code, sent(rowsC), len(rowsC), out)
	}
	for _, id := range []string{a, b, c} {
		if n := preflights(id); n != 1 {
			t.Errorf("batch %s: %d pre-flight messages, want 1", id, n)
		}
	}
}

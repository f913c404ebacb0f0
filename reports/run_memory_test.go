package reports

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/reconcile"
)

// runMemChild names the journal a child process of this test binary
// reports on (TestRunMemoryChild), printing its peak anonymous memory.
const runMemChild = "PAYRUN_RUN_MEMORY_CHILD"

// memoryRows are the two journal sizes the memory test compares: 25,000
// and 75,000 rows, or 200,000 and 1,000,000 with PAYRUN_BIG=1. Both are
// past the size where excelize's stream buffers stop growing (16 MB of
// sheet XML each, then spilled to a temporary file).
func memoryRows() (small, large int) {
	if os.Getenv("PAYRUN_BIG") == "1" {
		return 200_000, 1_000_000
	}
	return 25_000, 75_000
}

// TestRunMemoryFlat runs the whole report (reports.Run: reconcile, the
// workbook, the CSV exports and the annotated copy of the input) over a
// journal of a batch ten times larger than another, each in a child
// process, and compares their peak anonymous memory (the heap and stacks;
// the journal's mapped pages are file memory the kernel may drop): a
// report that held its lines would need ten times more for the larger.
func TestRunMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two journals")
	}
	small, large := memoryRows()
	peak := func(n int) int64 {
		dir := t.TempDir()
		path := memoryJournal(t, dir, n)
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunMemoryChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), runMemChild+"="+path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child over %d rows: %v\n%s", n, err, out)
		}
		for line := range strings.SplitSeq(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "peak_anon "); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d rows: peak anonymous memory %d MB", n, kb>>10)
				return kb << 10
			}
		}
		t.Fatalf("child over %d rows printed no peak:\n%s", n, out)
		return 0
	}
	a, b := peak(small), peak(large)
	// Allow a little (the garbage collector's timing), never anything in
	// proportion to the rows.
	if limit := a + a/4 + 16<<20; b > limit {
		t.Fatalf("peak anonymous memory grew with the rows: %d MB at %d rows, %d MB at %d rows", a>>20, small, b>>20, large)
	}
}

// TestRunMemoryChild is the child of TestRunMemoryFlat.
func TestRunMemoryChild(t *testing.T) {
	path := os.Getenv(runMemChild)
	if path == "" {
		t.Skip("run by TestRunMemoryFlat")
	}
	j, err := boltjournal.Open(path, boltjournal.Options{SkipCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	stop, done := make(chan struct{}), make(chan int64)
	go func() {
		var top int64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			top = max(top, statusKB("RssAnon:"))
			select {
			case <-stop:
				done <- top
				return
			case <-tick.C:
			}
		}
	}()
	files, err := Run(context.Background(), j, Request{Scope: reconcile.Scope{Date: time.Now().UTC().Format("2006-01-02"), Open: true},
		Dir: filepath.Join(filepath.Dir(path), "reports")})
	close(stop)
	top := <-done

	if err != nil {
		t.Fatal(err)
	}
	if !files.Balanced || len(files.Annotated) != 1 {
		t.Fatalf("report: balanced %v, %d annotated copies", files.Balanced, len(files.Annotated))
	}
	fmt.Printf("peak_anon %d\n", top)
}

// statusKB reads one "kB" field of /proc/self/status (0 without /proc).
func statusKB(field string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// memoryJournal ingests a payout file of n valid rows (the template's, in
// turn) into a journal under dir and queues nine in ten of them, so that
// the report has lines of two states; it returns the journal's path.
func memoryJournal(t *testing.T, dir string, n int) string {
	t.Helper()
	ctx := context.Background()
	tmpl := batch.TemplateRows()
	rows := make([]batch.Row, n)
	for i := range rows {
		r := tmpl[i%len(tmpl)]
		r.PayoutID = fmt.Sprintf("M%09d", i)
		if r.Provider == "teemopay" && r.AccountNumber == "" {
			r.AccountNumber = "2000001234567"
		}
		rows[i] = r
	}
	input := filepath.Join(dir, "payouts.csv")
	f, err := os.Create(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.WriteRows(f, rows, false); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rows = nil
	path := filepath.Join(dir, "journal.db")
	j, err := boltjournal.Open(path, boltjournal.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	res, err := j.Ingest(ctx, input, journal.IngestOptions{})
	if err != nil || res.Rejected {
		t.Fatalf("ingest: %v (rejected %v)", err, res != nil && res.Rejected)
	}
	var changes []journal.Change
	if err := j.BatchItems(ctx, res.Batch.ID, func(it journal.Item) bool {
		if it.Row%10 != 3 {
			changes = append(changes, journal.Change{PayoutID: it.PayoutID, To: journal.Queued, Actor: "test"})
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for len(changes) > 0 {
		chunk := changes[:min(len(changes), 2000)]
		if err := j.Apply(ctx, chunk...); err != nil {
			t.Fatal(err)
		}
		changes = changes[len(chunk):]
	}
	return path
}

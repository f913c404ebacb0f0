package daemon

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// intakeBundle is what setupIntake returns beside the Intake: its clock,
// its folders, and what Handle was given.
type intakeBundle struct {
	clock *fakeClock
	root  string
	mu    sync.Mutex
	// handled lists the paths Handle got, and contents what they held.
	handled  []string
	contents []string
	// outcome is what Handle answers (accepted with batch B1 by default).
	outcome func(path string) (Outcome, error)
	// observed lists Observe's outcomes.
	observed []string
}

func (b *intakeBundle) calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.handled...)
}

var lima = func() *time.Location {
	loc, err := time.LoadLocation("America/Lima")
	if err != nil {
		panic(err)
	}
	return loc
}()

func setupIntake(t *testing.T) (*Intake, *intakeBundle) {
	t.Helper()
	root := t.TempDir()
	// 02:00 UTC on 21 November is still the 20th in Lima.
	b := &intakeBundle{clock: newFakeClock(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)), root: root}
	b.outcome = func(string) (Outcome, error) { return Outcome{Result: Accepted, BatchID: "B1"}, nil }
	in := &Intake{
		Inbox:      filepath.Join(root, "inbox"),
		Processing: filepath.Join(root, "processing"),
		Archive:    filepath.Join(root, "archive"),
		Rejected:   filepath.Join(root, "rejected"),
		StableFor:  5 * time.Second,
		Location:   lima,
		Now:        b.clock.Now,
		Handle: func(_ context.Context, path string) (Outcome, error) {
			raw, err := os.ReadFile(path)
			if err != nil {
				return Outcome{}, err
			}
			b.mu.Lock()
			b.handled = append(b.handled, path)
			b.contents = append(b.contents, string(raw))
			b.mu.Unlock()
			return b.outcome(path)
		},
		Observe: func(o string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.observed = append(b.observed, o)
		},
	}
	for _, d := range []string{in.Inbox, in.Processing, in.Archive, in.Rejected} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	return in, b
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func runOnce(t *testing.T, in *Intake) int {
	t.Helper()
	n, err := in.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// listFiles returns every file under root, relative to it.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestIntakeTakesAFileWrittenInChunksOnlyWhenStable(t *testing.T) {
	in, b := setupIntake(t)
	done := false
	in.BatchDone = func(id string) (bool, error) { return id == "B1" && done, nil }
	path := filepath.Join(in.Inbox, "payouts-2026-11-20.csv")
	full := "payout_id,provider,amount\nP1,monnet,10.00\nP2,monnet,20.00\n"
	writeFile(t, path, full[:20])

	if n := runOnce(t, in); n != 0 {
		t.Fatalf("half-written file taken (%d)", n)
	}
	appendFile(t, path, full[20:])
	b.clock.Advance(3 * time.Second)
	if n := runOnce(t, in); n != 0 {
		t.Fatalf("file taken right after its size changed (%d)", n)
	}
	b.clock.Advance(4 * time.Second) // 4 s since the last change: not yet 5
	if n := runOnce(t, in); n != 0 {
		t.Fatalf("file taken before StableFor (%d)", n)
	}
	b.clock.Advance(2 * time.Second)
	if n := runOnce(t, in); n != 1 {
		t.Fatalf("stable file not taken (%d)", n)
	}
	if got := b.calls(); len(got) != 1 || got[0] != filepath.Join(in.Processing, "payouts-2026-11-20.csv") {
		t.Fatalf("Handle got %q", got)
	}
	if b.contents[0] != full {
		t.Fatalf("Handle saw %q, want the whole file", b.contents[0])
	}
	if exists(path) {
		t.Fatal("file still in inbox")
	}
	processing := filepath.Join(in.Processing, "payouts-2026-11-20.csv")
	if !exists(processing) {
		t.Fatal("accepted file not in processing/ while its batch runs")
	}

	// The batch is done: the next scan archives the file under the date in
	// Lima, not in UTC.
	done = true
	if n := runOnce(t, in); n != 0 {
		t.Fatalf("taken again (%d)", n)
	}
	archived := filepath.Join(in.Archive, "2026-11-20", "payouts-2026-11-20.csv")
	if !exists(archived) || exists(processing) {
		t.Fatalf("not archived: files %q", listFiles(t, b.root))
	}
	if got := b.calls(); len(got) != 1 {
		t.Fatalf("Handle called %d times", len(got))
	}
	if strings.Join(b.observed, ",") != "accepted,archived" {
		t.Fatalf("observed %q", b.observed)
	}
}

func TestIntakeIgnoresTemporaryAndHiddenFiles(t *testing.T) {
	in, b := setupIntake(t)
	for _, name := range []string{"~$payouts.xlsx", "payouts.xlsx.tmp", "payouts.csv.part", "download.crdownload",
		".hidden.csv", ".~lock.payouts.xlsx#", "orphan.csv.ready", "PAYOUTS.TMP"} {
		writeFile(t, filepath.Join(in.Inbox, name), "x")
	}
	if err := os.Mkdir(filepath.Join(in.Inbox, "subdir.csv"), 0o750); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(b.root, "outside.csv")
	writeFile(t, outside, "secret")
	if err := os.Symlink(outside, filepath.Join(in.Inbox, "link.csv")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		runOnce(t, in)
		b.clock.Advance(time.Minute)
	}
	if got := b.calls(); len(got) != 0 {
		t.Fatalf("Handle got %q", got)
	}
	if !exists(outside) || !exists(filepath.Join(in.Inbox, "link.csv")) {
		t.Fatal("symlink or its target moved")
	}
}

func TestIntakeIgnored(t *testing.T) {
	for name, want := range map[string]bool{
		"payouts.xlsx": false, "pagos ñandú.csv": false, "-rf.csv": false, "a..b.csv": false,
		"~$payouts.xlsx": true, "x.tmp": true, "x.part": true, ".x.csv": true, "..": true, "x.csv.ready": true, "": true,
	} {
		if got := Ignored(name); got != want {
			t.Errorf("Ignored(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestIntakeReadyMarker(t *testing.T) {
	in, b := setupIntake(t)
	in.ReadyMarker = true
	path := filepath.Join(in.Inbox, "payouts.csv")
	writeFile(t, path, "payout_id\nP1\n")
	runOnce(t, in)
	b.clock.Advance(time.Hour)
	if n := runOnce(t, in); n != 0 {
		t.Fatalf("taken without its marker (%d)", n)
	}
	writeFile(t, path+".ready", "")
	if n := runOnce(t, in); n != 1 {
		t.Fatalf("not taken with its marker (%d)", n)
	}
	if exists(path + ".ready") {
		t.Fatal("marker left behind")
	}
	if !exists(filepath.Join(in.Processing, "payouts.csv")) {
		t.Fatalf("files: %q", listFiles(t, b.root))
	}
}

func TestIntakeDuplicateContentIsRejectedWithTheReason(t *testing.T) {
	in, b := setupIntake(t)
	in.StableFor = 0
	b.outcome = func(string) (Outcome, error) {
		return Outcome{Result: Duplicate, BatchID: "B20261120-abc", Reason: "same content as batch B20261120-abc (payouts.csv), processed before"}, nil
	}
	writeFile(t, filepath.Join(in.Inbox, "payouts.csv"), "payout_id\nP1\n")
	if n := runOnce(t, in); n != 1 {
		t.Fatalf("taken %d", n)
	}
	rejected := filepath.Join(in.Rejected, "payouts.csv")
	if !exists(rejected) {
		t.Fatalf("files: %q", listFiles(t, b.root))
	}
	report, err := os.ReadFile(rejected + ".errors.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"result: duplicate", "same content as batch B20261120-abc", "batch: B20261120-abc"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if got := listFiles(t, in.Processing); len(got) != 0 {
		t.Fatalf("left in processing: %q", got)
	}
}

func TestIntakeRejectedFileGetsItsReportBeside(t *testing.T) {
	in, b := setupIntake(t)
	in.StableFor = 0
	rows := "row,column,value,reason\n3,amount,12.345,more decimals than PEN allows\n7,cci,12,must be 20 digits\n"
	b.outcome = func(string) (Outcome, error) {
		return Outcome{Result: Rejected, Reason: "2 invalid rows", Report: []byte(rows)}, nil
	}
	// The same name twice: the second lands beside the first, nothing is
	// overwritten.
	for i := range 2 {
		writeFile(t, filepath.Join(in.Inbox, "payouts.xlsx"), strings.Repeat("x", i+1))
		if n := runOnce(t, in); n != 1 {
			t.Fatalf("taken %d", n)
		}
	}
	for _, name := range []string{"payouts.xlsx", "payouts-2.xlsx"} {
		report, err := os.ReadFile(filepath.Join(in.Rejected, name+".errors.txt"))
		if err != nil {
			t.Fatalf("files: %q: %v", listFiles(t, b.root), err)
		}
		for _, want := range []string{"file: " + name, "reason: 2 invalid rows", "3,amount,12.345,more decimals than PEN allows", "7,cci,12"} {
			if !strings.Contains(string(report), want) {
				t.Errorf("%s report lacks %q:\n%s", name, want, report)
			}
		}
	}
	first, _ := os.ReadFile(filepath.Join(in.Rejected, "payouts.xlsx"))
	second, _ := os.ReadFile(filepath.Join(in.Rejected, "payouts-2.xlsx"))
	if string(first) != "x" || string(second) != "xx" {
		t.Fatalf("rejected contents %q %q", first, second)
	}
}

func TestIntakeOddFileNamesStayInTheirFolders(t *testing.T) {
	names := []string{
		"pay outs 2026.csv",
		"pagos-ñandú-€.csv",
		"a..b.csv",
		"..csv", // a dot file: ignored
		"-rf.csv",
		"--help.xlsx",
		"new\nline.csv",
		"quote'\"<b>.csv",
		strings.Repeat("ñ", 120) + ".xlsx", // 245 bytes: the report name must be shortened
		strings.Repeat("a", 255),
	}
	in, b := setupIntake(t)
	in.StableFor = 0
	b.outcome = func(string) (Outcome, error) { return Outcome{Result: Rejected, Reason: "bad rows"}, nil }
	for _, name := range names {
		writeFile(t, filepath.Join(in.Inbox, name), name)
	}
	if n := runOnce(t, in); n != len(names)-1 {
		t.Fatalf("taken %d, want %d", n, len(names)-1)
	}
	for _, f := range listFiles(t, b.root) {
		dir := strings.SplitN(f, string(filepath.Separator), 2)[0]
		if dir != "rejected" && f != filepath.Join("inbox", "..csv") {
			t.Errorf("file outside rejected/: %q", f)
		}
	}
	for _, name := range names {
		if name == "..csv" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(in.Rejected, name))
		if err != nil || string(raw) != name {
			t.Errorf("%q: %v %q", name, err, raw)
		}
	}
	entries, err := os.ReadDir(in.Rejected)
	if err != nil {
		t.Fatal(err)
	}
	reports := 0
	for _, e := range entries {
		if len(e.Name()) > maxNameBytes {
			t.Errorf("name too long: %d bytes", len(e.Name()))
		}
		if strings.HasSuffix(e.Name(), errorsSuffix) {
			reports++
		}
	}
	if reports != len(names)-1 {
		t.Fatalf("%d reports for %d files", reports, len(names)-1)
	}
}

func TestIntakeHandleErrorReturnsTheFileToTheInbox(t *testing.T) {
	in, b := setupIntake(t)
	in.StableFor = 0
	fail := true
	b.outcome = func(string) (Outcome, error) {
		if fail {
			return Outcome{}, errors.New("journal busy")
		}
		return Outcome{Result: Accepted, BatchID: "B1", Done: true}, nil
	}
	path := filepath.Join(in.Inbox, "payouts.csv")
	writeFile(t, path, "payout_id\nP1\n")
	if _, err := in.RunOnce(context.Background()); err == nil || !strings.Contains(err.Error(), "journal busy") {
		t.Fatalf("RunOnce error %v", err)
	}
	if !exists(path) {
		t.Fatalf("file not back in inbox: %q", listFiles(t, b.root))
	}
	fail = false
	if n := runOnce(t, in); n != 1 {
		t.Fatalf("taken %d", n)
	}
	if !exists(filepath.Join(in.Archive, "2026-11-20", "payouts.csv")) {
		t.Fatalf("files: %q", listFiles(t, b.root))
	}
}

func TestIntakeRecoverHandsLeftoversAgain(t *testing.T) {
	in, b := setupIntake(t)
	left := filepath.Join(in.Processing, "payouts.csv")
	writeFile(t, left, "payout_id\nP1\n")
	resumed := false
	b.outcome = func(string) (Outcome, error) { return Outcome{Result: Accepted, BatchID: "B1"}, nil }
	handle := in.Handle
	in.Handle = func(ctx context.Context, path string) (Outcome, error) {
		resumed = Resumed(ctx)
		return handle(ctx, path)
	}
	n, err := in.Recover(context.Background())
	if err != nil || n != 1 || !resumed {
		t.Fatalf("Recover = %d, %v (resumed %v)", n, err, resumed)
	}
	if got := b.calls(); len(got) != 1 || got[0] != left {
		t.Fatalf("Handle got %q", got)
	}
	// An accepted leftover now waits for its batch; a second Recover does
	// not hand it over again.
	if n, _ := in.Recover(context.Background()); n != 0 {
		t.Fatalf("second Recover handled %d", n)
	}
}

func TestIntakeArchiveDoneRefusesPathsOutsideProcessing(t *testing.T) {
	in, b := setupIntake(t)
	outside := filepath.Join(b.root, "outside.csv")
	writeFile(t, outside, "x")
	for _, p := range []string{outside, filepath.Join(in.Processing, "..", "outside.csv"), in.Processing, filepath.Join(in.Processing, "sub", "x.csv")} {
		if _, err := in.ArchiveDone("B1", p); err == nil {
			t.Errorf("ArchiveDone(%q) accepted", p)
		}
	}
	if !exists(outside) {
		t.Fatal("outside file moved")
	}
}

func TestIntakeWatchesTheInbox(t *testing.T) {
	in, _ := setupIntake(t)
	in.Now = nil // the real clock: Run's timers are real
	in.StableFor = 20 * time.Millisecond
	in.ScanInterval = time.Hour // only fsnotify and the settle timer can find the file
	got := make(chan string, 1)
	in.Handle = func(_ context.Context, path string) (Outcome, error) {
		got <- path
		return Outcome{Result: Accepted, BatchID: "B1"}, nil
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	// Run may start watching after this write; its first scan sees the
	// file then.
	writeFile(t, filepath.Join(in.Inbox, "payouts.csv"), "payout_id\nP1\n")
	select {
	case p := <-got:
		if p != filepath.Join(in.Processing, "payouts.csv") {
			t.Fatalf("Handle got %q", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not take the file within 10 s")
	}
}

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
)

// logBuffer is a log destination safe for the daemon's goroutines, read
// as JSON lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log records whose message starts with msg.
func (b *logBuffer) lines(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && strings.HasPrefix(fmt.Sprint(m["msg"]), msg) {
			out = append(out, m)
		}
	}
	return out
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// daemonBundle is a daemon over a journal in a temporary folder, paying
// TeemoPay's sandbox.
type daemonBundle struct {
	t    *testing.T
	dir  string
	cfg  *config.Config
	j    journal.Journal
	sb   providers.Sandbox
	logs *logBuffer
	d    *Daemon
}

// startDaemon starts a daemon; mutate adjusts the configuration first.
// Nothing is scheduled unless mutate schedules it.
func startDaemon(t *testing.T, mutate func(*config.Config)) *daemonBundle {
	t.Helper()
	dir := t.TempDir()
	// TeemoPay's sandbox on an httptest server, whose Close also closes
	// the connections the daemon's clients keep alive.
	reg, err := providers.Lookup(all.Registrations(), "teemopay")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := reg.Sandbox(providers.SandboxSpec{Name: reg.Name, ProcessingDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	pc, err := sb.WriteCredentials(filepath.Join(dir, "keys"), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Dir = dir
	pc.Enabled, pc.RatePerSecond, pc.Burst, pc.Concurrency, pc.Timeout = true, 100, 10, 4, 5*time.Second
	cfg.Providers[reg.Name] = pc
	cfg.Serve.Listen = "127.0.0.1:0"
	cfg.Serve.StableFor = 0
	cfg.Serve.ScanInterval = 50 * time.Millisecond
	cfg.Serve.Cutoff, cfg.Serve.Poll, cfg.Serve.Report = "", "", ""
	cfg.Reconcile.PollAfter = 100 * time.Millisecond
	cfg.Reconcile.PollInterval = 100 * time.Millisecond
	if mutate != nil {
		mutate(cfg)
	}
	j, err := app.OpenJournal(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &daemonBundle{t: t, dir: dir, cfg: cfg, j: j, sb: sb, logs: &logBuffer{}}
	t.Cleanup(func() {
		if b.d != nil {
			b.d.Stop()
		}
		if err := j.Close(); err != nil {
			t.Errorf("close journal: %v", err)
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", b.logs.String())
		}
	})
	b.start()
	return b
}

// start starts a daemon over the bundle's journal (again, after stop).
func (b *daemonBundle) start() {
	b.t.Helper()
	log := AggregateWarnings(slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), time.Minute)
	a, err := app.New(b.cfg, b.j, log)
	if err != nil {
		b.t.Fatal(err)
	}
	d, err := New(a)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	b.d = d
}

func (b *daemonBundle) stop() {
	b.d.Stop()
	b.d = nil
}

// payoutRows are n TeemoPay bank transfers of 80.00 PEN and up.
func payoutRows(prefix string, n int) []batch.Row {
	var base batch.Row
	for _, r := range batch.TemplateRows() {
		if r.Provider == "teemopay" && r.AccountNumber != "" {
			base = r
		}
	}
	out := make([]batch.Row, n)
	for i := range out {
		r := base
		r.PayoutID = fmt.Sprintf("%s-%03d", prefix, i+1)
		r.Amount = fmt.Sprintf("%d.00", 80+i)
		out[i] = r
	}
	return out
}

// drop writes rows into the inbox as name (through a temporary name, as a
// careful dropper does) and returns the batch they become.
func (b *daemonBundle) drop(name string, rows []batch.Row, owner int) journal.Batch {
	b.t.Helper()
	tmp := filepath.Join(b.dir, "."+name+".part")
	f, err := os.Create(tmp)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := batch.WriteRows(f, rows, false); err != nil {
		b.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.t.Fatal(err)
	}
	if owner >= 0 {
		if err := os.Chown(tmp, owner, owner); err != nil {
			b.t.Fatal(err)
		}
	}
	inbox := b.cfg.Abs(b.cfg.Dirs.Inbox)
	if err := os.MkdirAll(inbox, 0o750); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(inbox, name)); err != nil {
		b.t.Fatal(err)
	}
	var id string
	b.waitFor("the file "+name+" to be accepted or held", func() bool {
		for _, l := range append(b.logs.lines("file accepted"), b.logs.lines("file held for approval")...) {
			if l["file"] == name {
				id = fmt.Sprint(l["batch"])
				return true
			}
		}
		return false
	})
	return b.batch(id)
}

func (b *daemonBundle) batch(id string) journal.Batch {
	b.t.Helper()
	x, err := b.j.Batch(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return x
}

// paid counts the payouts of rows the sandbox paid, once each.
func (b *daemonBundle) paid(rows []batch.Row) int {
	byRef := b.sb.Kit().Ledger.PaidByReference()
	n := 0
	for _, r := range rows {
		if byRef[r.PayoutID] > 1 {
			b.t.Fatalf("%s paid %d times", r.PayoutID, byRef[r.PayoutID])
		}
		n += byRef[r.PayoutID]
	}
	return n
}

func (b *daemonBundle) waitFor(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holdAll holds every batch for approval (a threshold of 1.00 PEN).
func holdAll(cfg *config.Config) {
	cfg.Preflight.Enabled = true
	cfg.Preflight.HoldAbove = map[string]string{"PEN": "1.00"}
	cfg.Preflight.ApprovalDir = "approvals"
	cfg.Preflight.DuplicateLookback = 0
}

// TestDaemonApprovalFileReleasesAHeldBatch: a held batch is released by
// its approvals/BATCH.approved file within a scan interval while the daemon
// runs, and, for a file written while it was stopped, at its start; the
// approval names the file's owner. A file that names other totals is
// refused and set aside.
func TestDaemonApprovalFileReleasesAHeldBatch(t *testing.T) {
	b := startDaemon(t, func(cfg *config.Config) {
		holdAll(cfg)
		cfg.Serve.DispatchAtOnce = true
	})
	approvals := b.cfg.Abs("approvals")
	if err := os.MkdirAll(approvals, 0o750); err != nil {
		t.Fatal(err)
	}
	rows := payoutRows("AF", 3)
	held := b.drop("first.csv", rows, -1)
	if held.State != journal.BatchHeld {
		t.Fatalf("batch %s is %s, want held", held.ID, held.State)
	}
	if lines := b.logs.lines("file held for approval"); len(lines) != 1 || lines[0]["why"] == "" ||
		!strings.Contains(fmt.Sprint(lines[0]["release"]), held.ID+".approved") {
		t.Fatalf("held log line: %v", lines)
	}
	if lines := b.logs.lines("file accepted"); len(lines) != 0 {
		t.Fatalf("a held file logged as accepted: %v", lines)
	}

	// Totals the batch does not hold: refused, set aside, nothing sent.
	marker := filepath.Join(approvals, held.ID+".approved")
	if err := os.WriteFile(marker, []byte("PEN 1.00\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the wrong approval to be set aside", func() bool {
		_, err := os.Stat(marker + ".refused.txt")
		return err == nil
	})
	if x := b.batch(held.ID); x.State != journal.BatchHeld || b.paid(rows) != 0 {
		t.Fatalf("after a refused approval file: %s, %d paid", x.State, b.paid(rows))
	}

	// The right one (empty: whatever the batch holds) releases it.
	if err := os.WriteFile(marker, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the approval file to release and pay the batch", func() bool { return b.paid(rows) == len(rows) })
	x := b.batch(held.ID)
	if x.ApprovedBy != app.CurrentUser() || !strings.Contains(x.ApprovedVia, "approvals file") || len(x.ApprovedTotals) == 0 {
		t.Fatalf("approval recorded as %q via %q totals %v", x.ApprovedBy, x.ApprovedVia, x.ApprovedTotals)
	}

	// Written while the daemon is down: released at its start.
	rows2 := payoutRows("AG", 2)
	held2 := b.drop("second.csv", rows2, -1)
	b.stop()
	if err := os.WriteFile(filepath.Join(approvals, held2.ID+".approved"), nil, 0o640); err != nil {
		t.Fatal(err)
	}
	b.start()
	b.waitFor("the approval file written while stopped to release the batch", func() bool { return b.paid(rows2) == len(rows2) })
	if x := b.batch(held2.ID); x.ApprovedBy == "" {
		t.Fatalf("batch %s approved by nobody", x.ID)
	}
}

// TestDaemonLogsRunsWithTotals: a file taken and sent at once leaves a
// line saying it was accepted (with its totals), and a dispatch run's
// start (batch, count, totals per currency) and end (what was sent,
// failed, in doubt, the duration as text).
func TestDaemonLogsRunsWithTotals(t *testing.T) {
	b := startDaemon(t, func(cfg *config.Config) { cfg.Serve.DispatchAtOnce = true })
	rows := payoutRows("LG", 4) // 80.00 + 81.00 + 82.00 + 83.00 PEN
	bt := b.drop("payouts.csv", rows, -1)
	b.waitFor("the run to end", func() bool { return len(b.logs.lines("dispatch run ended")) > 0 })
	acc := b.logs.lines("file accepted")
	if len(acc) != 1 || acc[0]["batch"] != bt.ID || acc[0]["payouts"] != float64(4) ||
		acc[0]["totals"] != "326.00 PEN in 4 payouts" || acc[0]["send"] != "now" || acc[0]["dropped_by"] != app.CurrentUser() {
		t.Errorf("accepted line: %v", acc)
	}
	start := b.logs.lines("dispatch run started")
	if len(start) != 1 || fmt.Sprint(start[0]["batches"]) != "["+bt.ID+"]" || start[0]["payouts"] != float64(4) ||
		start[0]["totals"] != "326.00 PEN in 4 payouts" || start[0]["trigger"] != "file taken" {
		t.Errorf("start line: %v", start)
	}
	end := b.logs.lines("dispatch run ended")
	took, _ := end[0]["took"].(string)
	if _, err := time.ParseDuration(took); err != nil || end[0]["sent"] != float64(4) || end[0]["failed"] != float64(0) ||
		end[0]["in_doubt"] != float64(0) || end[0]["left"] != float64(0) {
		t.Errorf("end line: %v", end)
	}
}

// TestControlSocketApproveHoldSendWhileRunning: commands reach the
// running daemon through its control socket (0660, beside the journal,
// gone when it stops), which names the caller from the kernel. Approval
// sends back the totals shown and is refused when they differ, and, under
// maker-checker, when the approver dropped the file; an approved batch
// waits for the cut-off, which the status says, or is sent now on demand;
// a batch not sent yet can be held again. Nothing of it is offered on the
// TCP listener.
func TestControlSocketApproveHoldSendWhileRunning(t *testing.T) {
	b := startDaemon(t, func(cfg *config.Config) {
		holdAll(cfg)
		cfg.Preflight.RequireDistinctApprover = true
		cfg.Serve.Cutoff = "0 18 * * *"
	})
	ctx := context.Background()
	sock := SocketPath(b.cfg)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("control socket %s: %v %v", sock, fi, err)
	}
	ctl, err := DialControl(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	me := app.CurrentUser()
	if who, err := ctl.WhoAmI(ctx); err != nil || who != me {
		t.Fatalf("whoami: %q %v, want %q", who, err, me)
	}

	// Dropped by the approver: maker-checker refuses.
	mine := b.drop("mine.csv", payoutRows("MC", 2), -1)
	d, err := ctl.Batch(ctx, mine.ID)
	if err != nil || d.Batch.State != "held" || d.Batch.Release == "" || d.Batch.Note == "" || d.Batch.DroppedBy != me {
		t.Fatalf("held batch: %+v %v", d.Batch, err)
	}
	_, err = ctl.Approve(ctx, mine.ID, dispatchSeen(d.Batch))
	if ce, ok := err.(*ControlError); !ok || ce.Status != 409 || !strings.Contains(ce.Message, "another person must approve") {
		t.Fatalf("approval by the dropper: %v", err)
	}
	if _, err := ctl.Send(ctx, mine.ID); err == nil || !strings.Contains(err.Error(), "held") {
		t.Fatalf("send now of a held batch: %v", err)
	}
	if _, err := ctl.Send(ctx, "B-nope"); !errorsIsNotFound(err) {
		t.Fatalf("send now of an unknown batch: %v", err)
	}
	// The status page's listener takes no commands.
	resp, err := httpPost("http://" + b.d.Addr().String() + "/api/batches/" + mine.ID + "/send")
	if err != nil || resp == 200 || resp == 202 {
		t.Fatalf("POST on the TCP listener: %d %v", resp, err)
	}

	if os.Geteuid() != 0 {
		t.Skip("dropping a file as another user needs root; the rest is not run")
	}
	rows := payoutRows("OT", 3)
	other := b.drop("other.csv", rows, 65534)
	d, err = ctl.Batch(ctx, other.ID)
	if err != nil || d.Batch.DroppedBy == me || d.Batch.DroppedBy == "" {
		t.Fatalf("batch dropped by uid 65534: %+v %v", d.Batch, err)
	}
	wrong := dispatchSeen(d.Batch)
	wrong.Totals[0].Amount++
	if _, err := ctl.Approve(ctx, other.ID, wrong); err == nil || !strings.Contains(err.Error(), "not what the approver was shown") {
		t.Fatalf("approval of other totals: %v", err)
	}
	res, err := ctl.Approve(ctx, other.ID, dispatchSeen(d.Batch))
	if err != nil || !strings.Contains(res.Message, "next cut-off") || res.Batch == nil || res.Batch.State != "accepted" ||
		res.Batch.ApprovedBy != me || res.Batch.ApprovedVia != "control socket" {
		t.Fatalf("approval: %+v %v", res, err)
	}
	x := b.batch(other.ID)
	if len(x.ApprovedTotals) == 0 || x.ApprovedTotals[0].Amount != d.Batch.Totals[0].Amount {
		t.Fatalf("approved totals journaled: %+v", x.ApprovedTotals)
	}
	// When it is sent: at the next 18:00 in the configured zone.
	d, _ = ctl.Batch(ctx, other.ID)
	if at := d.Batch.SendAt.In(b.cfg.Location()); at.Hour() != 18 || at.Minute() != 0 || !at.After(time.Now()) || d.Batch.Send == "" {
		t.Fatalf("send at %v (%q), want the next 18:00", at, d.Batch.Send)
	}
	// Held again by an operator, approved again, then sent now.
	if res, err := ctl.Hold(ctx, other.ID, "checking with treasury"); err != nil || res.Batch.State != "held" ||
		!strings.Contains(res.Batch.Note, "held by "+me+": checking with treasury") {
		t.Fatalf("hold: %+v %v", res, err)
	}
	d, _ = ctl.Batch(ctx, other.ID)
	if _, err := ctl.Approve(ctx, other.ID, dispatchSeen(d.Batch)); err != nil {
		t.Fatal(err)
	}
	if b.paid(rows) != 0 {
		t.Fatal("paid before the cut-off or a send now")
	}
	if _, err := ctl.Send(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	b.waitFor("send now to pay the batch", func() bool { return b.paid(rows) == len(rows) })
	if _, err := ctl.Hold(ctx, other.ID, ""); err == nil || !strings.Contains(err.Error(), "not sent yet") {
		t.Fatalf("hold of a batch being sent: %v", err)
	}
	if lines := b.logs.lines("dispatch run started"); len(lines) != 1 || !strings.HasPrefix(fmt.Sprint(lines[0]["trigger"]), "send now by "+me) {
		t.Fatalf("run lines: %v", lines)
	}

	// Report now: written while the daemon runs.
	rep, err := ctl.Report(ctx, time.Now().In(b.cfg.Location()).Format("2006-01-02"))
	if err != nil || rep.Report == nil {
		t.Fatalf("report now: %+v %v", rep, err)
	}
	if _, err := os.Stat(rep.Report.Workbook); err != nil {
		t.Fatalf("report now wrote no workbook: %v", err)
	}

	b.stop()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("control socket left after stop: %v", err)
	}
	if _, err := DialControl(ctx, sock); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("dial after stop: %v, want ErrNoDaemon", err)
	}
}

func dispatchSeen(b BatchStatus) dispatch.Seen {
	return dispatch.Seen{SHA256: b.SHA256, Totals: append([]journal.Total(nil), b.Totals...)}
}

func errorsIsNotFound(err error) bool { return errors.Is(err, journal.ErrNotFound) }

func httpPost(url string) (int, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

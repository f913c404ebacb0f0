package pgjournal_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
)

// Tests of what only a shared store allows: several journals (payrun
// processes, nodes) open on one database at once.

// nodes opens n journals on one fresh database.
func nodes(t *testing.T, n int) (string, []*pgjournal.Journal) {
	t.Helper()
	dsn := pgtest.New(t, pgjournal.Migrate)
	var js []*pgjournal.Journal
	for range n {
		js = append(js, open(t, dsn))
	}
	return dsn, js
}

// open opens a journal on dsn, closed when the test ends.
func open(t *testing.T, dsn string) *pgjournal.Journal {
	t.Helper()
	j, err := pgjournal.Open(bg, dsn, pgjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func TestNodesRaceForOneItem(t *testing.T) {
	_, js := nodes(t, 3)
	journaltest.Import(t, js[0], "B1", journaltest.Item("a", "monnet", providers.BankTransfer, 100, "PEN"))
	if err := js[1].Apply(bg, journal.Change{PayoutID: "a", To: journal.Queued}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, conflicts := 0, 0
	for i := range 24 {
		j := js[i%len(js)]
		wg.Go(func() {
			err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Sending, From: journal.Queued,
				Update: func(it *journal.Item) { it.Sends++ }})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, journal.ErrConflict):
				conflicts++
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	it, _ := js[2].Item(bg, "a")
	if wins != 1 || conflicts != 23 || it.Sends != 1 {
		t.Fatalf("%d wins, %d conflicts, %d sends across three nodes; want exactly one winner", wins, conflicts, it.Sends)
	}
}

// TestNodesShareTheWebhookQueue: deliveries of the same events reach
// every node; each event is stored and queued once, and appliers on every
// node at once apply each exactly once, in order.
func TestNodesShareTheWebhookQueue(t *testing.T) {
	_, js := nodes(t, 3)
	const n = 150
	var items []journal.Item
	for i := range n {
		it := journaltest.Item(fmt.Sprintf("p%03d", i), "teemopay", providers.BankTransfer, 100, "PEN")
		it.State = journal.Submitted
		items = append(items, it)
	}
	journaltest.Import(t, js[0], "B1", items...)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := map[string]int{}
	for i := range 3 * n {
		id := items[i%n].PayoutID
		j := js[i%3]
		wg.Go(func() {
			st := providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: id, ProviderID: "P" + id}}
			r := journal.Receipt{ReplayKey: fmt.Sprintf("teemopay:n%d", i),
				Events: []journal.Event{{Provider: "teemopay", ID: "e-" + id, PayoutID: id, Received: time.Now(), Body: []byte(`{}`)}},
				Facts:  []journal.EventFact{{Provider: "teemopay", EventID: "e-" + id, Status: st}}}
			replay, f, err := j.Persist(bg, r)
			if err != nil || replay {
				t.Errorf("persist %s: replay %v, %v", id, replay, err)
			}
			mu.Lock()
			fresh[id] += f
			mu.Unlock()
		})
	}
	judged := map[string]int{}
	judge := func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		mu.Lock()
		judged[f.EventID]++
		mu.Unlock()
		ok, err := tx.ApplyStatus(f.Status.Refs.PayoutID, "webhook", f.Status)
		return journal.Judged{Applied: ok}, err
	}
	// Appliers on every node run while the deliveries come in.
	stop := make(chan struct{})
	var appliers sync.WaitGroup
	for _, j := range js {
		appliers.Go(func() {
			for {
				n, _, err := j.ApplyQueued(bg, 20, judge)
				if err != nil {
					t.Errorf("apply: %v", err)
					return
				}
				if n == 0 {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
	// Drain what is left, then stop the appliers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		q, err := js[0].Queued(bg)
		if err != nil {
			t.Fatal(err)
		}
		if q == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still queued", q)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	appliers.Wait()
	moves := map[string]int{}
	_ = js[1].Transitions(bg, "", func(tr journal.Transition) bool { moves[tr.PayoutID]++; return true })
	for _, it := range items {
		id := it.PayoutID
		if fresh[id] != 1 || judged["e-"+id] != 1 || moves[id] != 1 {
			t.Errorf("%s: stored %d times, judged %d times, moved %d times; want once each", id, fresh[id], judged["e-"+id], moves[id])
		}
	}
	if err := js[2].Check(bg); err != nil {
		t.Fatal(err)
	}
}

// TestNodesIngestOverlappingFiles: two nodes ingest, at once, files that
// share payout_ids. No payout_id is ever journaled twice: one file gets
// the shared rows as duplicates, or its ingest fails saying why.
func TestNodesIngestOverlappingFiles(t *testing.T) {
	_, js := nodes(t, 2)
	rows := journaltest.PayoutRows(3000)
	other := slices.Clone(rows[1000:])
	for i := range other {
		other[i].Description = "second file"
	}
	paths := []string{journaltest.WriteRows(t, "a.csv", rows[:2000]), journaltest.WriteRows(t, "b.csv", other)}
	results := make([]*journal.IngestResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { results[i], errs[i] = js[i].Ingest(bg, paths[i], journal.IngestOptions{}) })
	}
	wg.Wait()
	valid := 0
	for i := range 2 {
		switch {
		case errs[i] == nil:
			valid += results[i].Batch.Valid
		case strings.Contains(errs[i].Error(), "already journaled"):
			t.Logf("node %d: %v", i, errs[i])
		default:
			t.Fatalf("node %d: %v", i, errs[i])
		}
	}
	n := 0
	if err := js[0].AllItems(bg, func(journal.Item) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != valid || n > 3000 {
		t.Fatalf("%d items for %d valid rows", n, valid)
	}
	if err := js[1].Check(bg); err != nil {
		t.Fatal(err)
	}
}

// pausing is a staging that stops after its first chunk until released.
type pausing struct {
	journal.Staging
	staged, release chan struct{}
	chunks          int
}

func (p *pausing) StageChunk(ctx context.Context, b *journal.Batch, first bool, ids []string, write func(map[string]journal.Owner) *journal.ChunkWrites) error {
	if err := p.Staging.StageChunk(ctx, b, first, ids, write); err != nil {
		return err
	}
	p.chunks++
	if p.chunks == 1 {
		close(p.staged)
		<-p.release
	}
	return nil
}

// TestLiveIngestSurvivesAnotherNodesOpen: a node opening the database
// removes the staging batches a crash left, never one another node is
// staging right now; once that node dies, its batch goes too.
func TestLiveIngestSurvivesAnotherNodesOpen(t *testing.T) {
	dsn, js := nodes(t, 1)
	a := js[0]
	p := &pausing{Staging: a.Staging(), staged: make(chan struct{}), release: make(chan struct{})}
	path := journaltest.WriteRows(t, "p.csv", journaltest.PayoutRows(2500))
	done := make(chan error, 1)
	go func() {
		res, err := journal.Ingest(bg, p, path, journal.IngestOptions{})
		if err == nil && res.Batch.Valid != 2500 {
			err = fmt.Errorf("valid %d", res.Batch.Valid)
		}
		done <- err
	}()
	<-p.staged
	b := open(t, dsn) // drops what is not held
	if err := b.DropStaging(bg); err != nil {
		t.Fatal(err)
	}
	if n := staging(t, b); n != 1 {
		t.Fatalf("%d staging batches after another node opened, want the live one", n)
	}
	close(p.release)
	if err := <-done; err != nil {
		t.Fatalf("the live ingest: %v", err)
	}

	// A node that dies mid-file: its session ends, and the next node to
	// look removes the batch.
	c := open(t, dsn)
	p = &pausing{Staging: c.Staging(), staged: make(chan struct{}), release: make(chan struct{})}
	go func() {
		_, err := journal.Ingest(bg, p, journaltest.WriteRows(t, "q.csv", journaltest.PayoutRows(5000)[2500:]), journal.IngestOptions{})
		done <- err
	}()
	<-p.staged
	if n := staging(t, b); n != 1 {
		t.Fatalf("%d staging batches, want 1", n)
	}
	c.Close() // the node's sessions end
	close(p.release)
	<-done
	if err := b.DropStaging(bg); err != nil {
		t.Fatal(err)
	}
	if n := staging(t, b); n != 0 {
		t.Fatalf("%d staging batches after their node died", n)
	}
	if err := b.Check(bg); err != nil {
		t.Fatal(err)
	}
}

// staging counts the batches left ingesting.
func staging(t *testing.T, j *pgjournal.Journal) int {
	t.Helper()
	bs, err := j.ListBatches(bg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range bs {
		if b.State == journal.BatchIngesting {
			n++
		}
	}
	return n
}

// TestMigrationsOnce: nodes starting together migrate once; a database a
// newer payrun migrated is refused with what to do; a read-only journal
// never migrates.
func TestMigrationsOnce(t *testing.T) {
	dsn := pgtest.New(t, nil) // an empty database
	ro, err := pgjournal.Open(bg, dsn, pgjournal.Options{ReadOnly: true})
	if !errors.Is(err, journal.ErrSchema) || !strings.Contains(err.Error(), "open it once for writing") {
		t.Fatalf("read-only on an empty database: %v, %v", ro, err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			j, err := pgjournal.Open(bg, dsn, pgjournal.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			j.Close()
		})
	}
	wg.Wait()
	conn, err := pgx.Connect(bg, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	var n, v int
	if err := conn.QueryRow(bg, `SELECT count(*), max(version) FROM payrun_schema`).Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != pgjournal.SchemaVersion() || v != pgjournal.SchemaVersion() {
		t.Fatalf("%d migrations recorded, last %d; want %d", n, v, pgjournal.SchemaVersion())
	}
	j := open(t, dsn)
	if err := pgjournal.MarkNewer(bg, j); err != nil {
		t.Fatal(err)
	}
	j.Close()
	for _, ro := range []bool{false, true} {
		_, err := pgjournal.Open(bg, dsn, pgjournal.Options{ReadOnly: ro})
		if !errors.Is(err, journal.ErrSchema) || !strings.Contains(err.Error(), "never an older one") {
			t.Fatalf("read-only %v on a newer schema: %v", ro, err)
		}
	}
}

// TestSchemaFollowsTheStates holds the SQL's lists of states to the graph:
// the items' CHECK names every state, the open index every state that is
// not final.
func TestSchemaFollowsTheStates(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("migrations", "001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sql := string(raw)
	quoted := func(s string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`'([a-z_]+)'`).FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	check := quoted(sql[strings.Index(sql, "CHECK (state IN"):strings.Index(sql, "item      json")])
	var all, final []string
	for _, s := range journal.States {
		all = append(all, string(s))
		if s.Final() {
			final = append(final, string(s))
		}
	}
	slices.Sort(all)
	slices.Sort(final)
	if !slices.Equal(check, all) {
		t.Errorf("the items' CHECK names %v, the graph %v", check, all)
	}
	idx := sql[strings.Index(sql, "CREATE INDEX payrun_items_open"):]
	idx = idx[:strings.Index(idx, ";")]
	if got := quoted(idx); !slices.Equal(got, final) {
		t.Errorf("the open index leaves out %v, the final states are %v", got, final)
	}
	if got := quoted(pgjournal.OpenPredicate); !slices.Equal(got, final) {
		t.Errorf("openPredicate leaves out %v, the final states are %v", got, final)
	}
}

func TestInfoAndCheck(t *testing.T) {
	dsn, js := nodes(t, 1)
	j := js[0]
	journaltest.Import(t, j, "B1", journaltest.Item("a", "teemopay", providers.BankTransfer, 1, "PEN"),
		journaltest.Item("b", "teemopay", providers.BankTransfer, 1, "PEN"))
	inf, err := j.Info(bg)
	if err != nil || inf.Driver != "postgres" || !inf.Shared || inf.Bytes <= 0 {
		t.Fatalf("info %+v, %v", inf, err)
	}
	withPassword := strings.Replace(dsn, "postgres@", "postgres:hunter2@", 1)
	if j2, err := pgjournal.Open(bg, withPassword, pgjournal.Options{}); err == nil {
		inf, _ := j2.Info(bg)
		j2.Close()
		if strings.Contains(inf.Location, "hunter2") {
			t.Fatalf("the password is in the location: %s", inf.Location)
		}
	}
	if err := j.Check(bg); err != nil {
		t.Fatal(err)
	}
	// Damage what the constraints do not guard, by hand.
	conn, err := pgx.Connect(bg, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(bg)
	if _, _, err := j.Persist(bg, journal.Receipt{Events: []journal.Event{{Provider: "teemopay", ID: "e1", Body: []byte("{}")}},
		Facts: []journal.EventFact{{Provider: "teemopay", EventID: "e1"}}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM payrun_event_queue`,
		`UPDATE payrun_items SET batch_id = 'B9', "row" = 9 WHERE payout_id = 'b'`,
	} {
		if _, err := conn.Exec(bg, q); err != nil {
			t.Fatal(err)
		}
	}
	err = j.Check(bg)
	if !errors.Is(err, journal.ErrCorrupt) {
		t.Fatalf("check: %v, want ErrCorrupt", err)
	}
	if _, err := conn.Exec(bg, `UPDATE payrun_batches SET sha256 = 'abc' WHERE id = 'B1'`); err != nil {
		t.Fatal(err)
	}
	err = j.Check(bg)
	for _, want := range []string{"1 items of no batch", "1 events neither applied nor queued", "batch B1 says 2 valid rows and has 1 items"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("check does not say %q:\n%v", want, err)
		}
	}
}

// TestWritesAfterClose: a closed journal refuses writes with ErrClosed; a
// read-only one with ErrReadOnly.
func TestWritesAfterClose(t *testing.T) {
	dsn, js := nodes(t, 1)
	ro, err := pgjournal.Open(bg, dsn, pgjournal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.SetMark(bg, "k", "v"); !errors.Is(err, journal.ErrReadOnly) {
		t.Fatalf("read-only write: %v", err)
	}
	if _, err := ro.Ingest(bg, journaltest.WriteRows(t, "a.csv", journaltest.PayoutRows(2)), journal.IngestOptions{}); !errors.Is(err, journal.ErrReadOnly) {
		t.Fatalf("read-only ingest: %v", err)
	}
	js[0].Close()
	if err := js[0].SetMark(bg, "k", "v"); !errors.Is(err, journal.ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestBytesPerPayout measures what a payout costs on disk once ingested
// (pg_total_relation_size of payrun's tables over the items):
// PAYRUN_PG_SIZE_ROWS rows (default 20,000; the figure is for
// 100,000).
func TestBytesPerPayout(t *testing.T) {
	rows := 20_000
	if v := os.Getenv("PAYRUN_PG_SIZE_ROWS"); v != "" {
		fmt.Sscan(v, &rows)
	}
	_, js := nodes(t, 1)
	j := js[0]
	path := filepath.Join(t.TempDir(), "p.csv")
	var b strings.Builder
	if err := batch.WriteRows(&b, journaltest.PayoutRows(rows), false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	empty, _ := j.Info(bg)
	start := time.Now()
	res, err := j.Ingest(bg, path, journal.IngestOptions{})
	if err != nil || res.Batch.Valid != rows {
		t.Fatalf("ingest: %v", err)
	}
	took := time.Since(start)
	conn, err := j.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(bg, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	inf, _ := j.Info(bg)
	per := float64(inf.Bytes-empty.Bytes) / float64(rows)
	t.Logf("%d rows ingested in %v (%.0f rows/s); %.0f bytes on disk per payout (tables and indexes)", rows, took.Round(time.Millisecond), float64(rows)/took.Seconds(), per)
	if per > 1500 {
		t.Errorf("%.0f bytes per payout, want under 1,500", per)
	}
}

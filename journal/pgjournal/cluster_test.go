package pgjournal_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
)

// Tests of the cluster (cluster.go): nodes, their leases, claims, holders,
// takeovers, the leader, the budgets and the wake-ups.

// openNode opens a journal on dsn as the node name.
func openNode(t *testing.T, dsn, name string, lease, grace time.Duration) *pgjournal.Journal {
	t.Helper()
	j, err := pgjournal.Open(bg, dsn, pgjournal.Options{Node: journal.NodeOptions{Name: name, Lease: lease, Grace: grace}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// queuedItems imports n queued items of provider.
func queuedItems(t *testing.T, j journal.Journal, batch, provider string, n int) []string {
	t.Helper()
	var items []journal.Item
	var ids []string
	for i := range n {
		it := journaltest.Item(fmt.Sprintf("%s-%03d", batch, i), provider, providers.BankTransfer, 100, "PEN")
		it.State = journal.Queued
		items = append(items, it)
		ids = append(ids, it.PayoutID)
	}
	journaltest.Import(t, j, batch, items...)
	return ids
}

// lapse ends a node's lease in the database, grace and all, as if it had
// stopped renewing long ago.
func lapse(t *testing.T, j *pgjournal.Journal, node string, grace time.Duration) {
	t.Helper()
	conn, err := j.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(bg, `UPDATE payrun_nodes SET lease_until = clock_timestamp() - interval '1 second', grace = $2 WHERE id = $1`,
		node, grace); err != nil {
		t.Fatal(err)
	}
}

func claim(t *testing.T, j *pgjournal.Journal, provider string, max int) []journal.Item {
	t.Helper()
	items, err := j.Claim(bg, journal.ClaimRequest{Provider: provider, Max: max,
		Change: journal.Change{Actor: "dispatcher", Holder: j.Lease().Node, Update: func(x *journal.Item) { x.Sends++ }}})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// Three nodes claiming from one queue at once: every item is claimed by
// exactly one of them, in sending, sent once, held by its claimer.
func TestClusterClaimsNeverOverlap(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	js := []*pgjournal.Journal{openNode(t, dsn, "a", 0, 0), openNode(t, dsn, "b", 0, 0), openNode(t, dsn, "c", 0, 0)}
	ids := queuedItems(t, js[0], "B1", "teemopay", 300)
	queuedItems(t, js[0], "B2", "monnet", 20)
	var mu sync.Mutex
	by := map[string]string{}
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Go(func() {
			for {
				items, err := j.Claim(bg, journal.ClaimRequest{Provider: "teemopay", Batches: []string{"B1"}, Max: 4,
					Change: journal.Change{Actor: "dispatcher", Holder: j.Lease().Node, Update: func(x *journal.Item) { x.Sends++ }}})
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					if prev, ok := by[it.PayoutID]; ok {
						t.Errorf("%s claimed by %s and %s", it.PayoutID, prev, j.Lease().Node)
					}
					by[it.PayoutID] = j.Lease().Node
					if it.State != journal.Sending || it.Sends != 1 {
						t.Errorf("%s claimed as %s with %d sends", it.PayoutID, it.State, it.Sends)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(by) != len(ids) {
		t.Fatalf("%d of %d items claimed", len(by), len(ids))
	}
	nodes, err := js[0].Nodes(bg)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, n := range nodes {
		want := 0
		for _, h := range by {
			if h == n.ID {
				want++
			}
		}
		if n.Holding != want || !n.Live {
			t.Errorf("node %s holds %d (live %v), claimed %d", n.ID, n.Holding, n.Live, want)
		}
		held += n.Holding
	}
	if held != len(ids) {
		t.Errorf("the nodes hold %d items, %d were claimed", held, len(ids))
	}
	// The other provider's and batch's items were left alone.
	if more := claim(t, js[1], "monnet", 100); len(more) != 20 {
		t.Errorf("monnet: %d claimed, want 20", len(more))
	}
}

// A node whose lease lapsed loses what it held: another node takes it
// over to in doubt, and the lapsed node's late answer, or its attempt to
// put the item back in the queue after someone else claimed it again, is
// refused.
func TestClusterLapsedHolderIsFenced(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	a, b := openNode(t, dsn, "a", time.Minute, time.Minute), openNode(t, dsn, "b", time.Minute, time.Minute)
	queuedItems(t, a, "B1", "teemopay", 2)
	got := claim(t, a, "teemopay", 2)
	if len(got) != 2 {
		t.Fatalf("claimed %d", len(got))
	}
	holderA := a.Lease().Node
	toDoubt := func(it journal.Item) journal.Change {
		return journal.Change{To: journal.InDoubt, Actor: "recovery", Reason: "held by a node that is gone"}
	}
	// Within the lease and the grace, nothing moves.
	if n, err := b.TakeOver(bg, toDoubt); err != nil || n != 0 {
		t.Fatalf("takeover of a live node: %d, %v", n, err)
	}
	lapse(t, a, holderA, time.Minute)
	if n, err := b.TakeOver(bg, toDoubt); err != nil || n != 0 {
		t.Fatalf("takeover before the grace passed: %d, %v", n, err)
	}
	lapse(t, a, holderA, 0)
	if n, err := b.TakeOver(bg, toDoubt); err != nil || n != 2 {
		t.Fatalf("takeover after the grace: %d, %v", n, err)
	}
	id := got[0].PayoutID
	it, _ := b.Item(bg, id)
	if it.State != journal.InDoubt {
		t.Fatalf("taken over to %s", it.State)
	}
	// A's late answer.
	st := providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: id, ProviderID: "T1"}}
	err := a.Apply(bg, journal.Change{PayoutID: id, From: journal.Sending, To: journal.Submitted, Actor: "dispatcher", Holder: holderA, Status: &st})
	if !errors.Is(err, journal.ErrConflict) {
		t.Fatalf("late answer of a lapsed holder: %v", err)
	}
	// Proven never created, queued again, claimed by B: the item is in
	// sending again, and A's stale "put it back" must not apply.
	if err := b.Apply(bg, journal.Change{PayoutID: id, From: journal.InDoubt, To: journal.Queued, Actor: "resolver"}); err != nil {
		t.Fatal(err)
	}
	if again := claim(t, b, "teemopay", 1); len(again) != 1 || again[0].PayoutID != id {
		t.Fatalf("claimed again: %v", again)
	}
	err = a.Apply(bg, journal.Change{PayoutID: id, From: journal.Sending, To: journal.Queued, Actor: "dispatcher", Holder: holderA})
	if !errors.Is(err, journal.ErrConflict) {
		t.Fatalf("a lapsed holder put back an item another node holds: %v", err)
	}
	if err := b.Apply(bg, journal.Change{PayoutID: id, From: journal.Sending, To: journal.Submitted, Actor: "dispatcher", Holder: b.Lease().Node, Status: &st}); err != nil {
		t.Fatalf("the holder's answer: %v", err)
	}
	// A renews, finds its lease lapsed and joins again as a new run; its
	// old claims stay refused.
	pgjournal.Renew(a)
	if l := a.Lease(); l.Node == holderA || l.Node == "" || !l.Holds(l.Node, time.Now()) {
		t.Fatalf("after a lapse the node is %+v, was %s", l, holderA)
	}
	err = a.Apply(bg, journal.Change{PayoutID: got[1].PayoutID, From: journal.InDoubt, To: journal.Queued, Actor: "resolver", Holder: holderA})
	if !errors.Is(err, journal.ErrConflict) {
		t.Fatalf("a change for the old run after joining again: %v", err)
	}
	// The new run's intent to send an item queued again (a dispatcher's
	// retry) names the new run: a queued item is held by nobody, and the
	// change applies; the item in sending is then the new run's.
	if err := a.Apply(bg, journal.Change{PayoutID: got[1].PayoutID, From: journal.InDoubt, To: journal.Queued, Actor: "resolver"}); err != nil {
		t.Fatal(err)
	}
	err = a.Apply(bg, journal.Change{PayoutID: got[1].PayoutID, From: journal.Queued, To: journal.Sending, Actor: "dispatcher", Holder: a.Lease().Node})
	if err != nil {
		t.Fatalf("the new run's intent to send a queued item: %v", err)
	}
	err = b.Apply(bg, journal.Change{PayoutID: got[1].PayoutID, From: journal.Sending, To: journal.Queued, Actor: "dispatcher", Holder: b.Lease().Node})
	if !errors.Is(err, journal.ErrConflict) {
		t.Fatalf("another node moved an item the new run holds: %v", err)
	}
}

// A node started again under its name on the same machine takes over at
// once what its previous run (whose process is gone) held; another node
// waits for the lease. A node that leaves gives up what it held at once.
func TestClusterRestartAndLeaveTakeOverAtOnce(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	old := openNode(t, dsn, "n1", time.Hour, time.Hour)
	queuedItems(t, old, "B1", "teemopay", 3)
	if got := claim(t, old, "teemopay", 1); len(got) != 1 {
		t.Fatal("no claim")
	}
	// The previous run's process is gone: give its row a pid that no
	// longer exists.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	conn, err := old.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(bg, `UPDATE payrun_nodes SET pid = $2 WHERE id = $1`, old.Lease().Node, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	toDoubt := func(journal.Item) journal.Change { return journal.Change{To: journal.InDoubt, Actor: "recovery"} }
	other := openNode(t, dsn, "n2", time.Hour, time.Hour)
	if n, err := other.TakeOver(bg, toDoubt); err != nil || n != 0 {
		t.Fatalf("another node took over a live lease: %d, %v", n, err)
	}
	again := openNode(t, dsn, "n1", time.Hour, time.Hour)
	if n, err := again.TakeOver(bg, toDoubt); err != nil || n != 1 {
		t.Fatalf("the restarted node took over %d, %v", n, err)
	}
	// Leaving: what the node still holds is free at once.
	if got := claim(t, other, "teemopay", 1); len(got) != 1 {
		t.Fatal("no claim")
	}
	other.Close()
	if n, err := again.TakeOver(bg, toDoubt); err != nil || n != 1 {
		t.Fatalf("after a node left: %d, %v", n, err)
	}
}

// One leader per role: the others see who leads; a leader whose lease
// lapses is replaced; a leader that resigns or leaves is replaced at once.
func TestClusterOneLeader(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	a, b := openNode(t, dsn, "a", time.Minute, 0), openNode(t, dsn, "b", time.Minute, 0)
	la, err := a.Lead(bg, "scheduler", time.Minute)
	if err != nil || !la.Mine || la.Local.Before(time.Now()) {
		t.Fatalf("first: %+v, %v", la, err)
	}
	lb, err := b.Lead(bg, "scheduler", time.Minute)
	if err != nil || lb.Mine || lb.Node != a.Lease().Node {
		t.Fatalf("second: %+v, %v", lb, err)
	}
	if la, err = a.Lead(bg, "scheduler", time.Minute); err != nil || !la.Mine {
		t.Fatalf("renewal: %+v, %v", la, err)
	}
	conn, err := a.Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(bg, `UPDATE payrun_leaders SET until = clock_timestamp() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	if lb, err = b.Lead(bg, "scheduler", time.Minute); err != nil || !lb.Mine {
		t.Fatalf("after the leader's lease lapsed: %+v, %v", lb, err)
	}
	if la, err = a.Lead(bg, "scheduler", time.Minute); err != nil || la.Mine {
		t.Fatalf("the old leader: %+v, %v", la, err)
	}
	ls, err := a.Leaders(bg)
	if err != nil || len(ls) != 1 || ls[0].Name != "b" || ls[0].Mine {
		t.Fatalf("leaders as a sees them: %+v, %v", ls, err)
	}
	if err := b.Resign(bg, "scheduler"); err != nil {
		t.Fatal(err)
	}
	if la, err = a.Lead(bg, "scheduler", time.Minute); err != nil || !la.Mine {
		t.Fatalf("after the leader resigned: %+v, %v", la, err)
	}
	a.Close()
	if lb, err = b.Lead(bg, "scheduler", time.Minute); err != nil || !lb.Mine {
		t.Fatalf("after the leader left: %+v, %v", lb, err)
	}
}

// The budget row is changed by one node at a time.
func TestClusterBudgetIsOneRow(t *testing.T) {
	_, js := nodes(t, 3)
	var wg sync.WaitGroup
	for _, j := range js {
		wg.Go(func() {
			for range 50 {
				if _, err := j.UpdateBudget(bg, "teemopay", func(b *journal.Budget, now time.Time) {
					b.Granted++
					b.At = now
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	bs, err := js[0].Budgets(bg)
	if err != nil || len(bs) != 1 || bs[0].Granted != 150 || bs[0].Provider != "teemopay" || bs[0].At.IsZero() {
		t.Fatalf("budgets: %+v, %v", bs, err)
	}
}

// Listening nodes are woken when events are queued and when items are
// queued, once the writing transaction commits.
func TestClusterListenWakesOtherNodes(t *testing.T) {
	_, js := nodes(t, 2)
	a, b := js[0], js[1]
	heard := make(chan string, 16)
	ctx, cancel := context.WithCancel(bg)
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.Listen(ctx, func(ch string) { heard <- ch }, journal.ChannelEvents, journal.ChannelWork) })
	defer wg.Wait()
	defer cancel()
	// The first calls say "look now": whatever was notified before
	// listening.
	wait := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ch := <-heard:
				if ch == want {
					return
				}
			case <-deadline:
				t.Fatalf("no %s notification", want)
			}
		}
	}
	wait(journal.ChannelEvents)
	wait(journal.ChannelWork)
	journaltest.Import(t, a, "B1", journaltest.Item("p1", "teemopay", providers.BankTransfer, 100, "PEN"))
	if err := a.Apply(bg, journal.Change{PayoutID: "p1", To: journal.Queued, Actor: "dispatcher"}); err != nil {
		t.Fatal(err)
	}
	wait(journal.ChannelWork)
	st := providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{PayoutID: "p1"}}
	if _, _, err := a.Persist(bg, journal.Receipt{ReplayKey: "k1",
		Events: []journal.Event{{Provider: "teemopay", ID: "e1", PayoutID: "p1", Received: time.Now(), Body: []byte(`{}`)}},
		Facts:  []journal.EventFact{{Provider: "teemopay", EventID: "e1", Status: st}}}); err != nil {
		t.Fatal(err)
	}
	wait(journal.ChannelEvents)
	if err := a.Notify(bg, journal.ChannelWork); err != nil {
		t.Fatal(err)
	}
	wait(journal.ChannelWork)
}

// Exclusive runs one node's fn at a time: a second node waits for the
// first to finish.
func TestClusterExclusiveOneAtATime(t *testing.T) {
	_, js := nodes(t, 2)
	inside, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := js[0].Exclusive(bg, "queue", func(context.Context) error {
			close(inside)
			<-release
			return nil
		}); err != nil {
			t.Error(err)
		}
	})
	<-inside
	var second atomic.Bool
	wg.Go(func() {
		if err := js[1].Exclusive(bg, "queue", func(context.Context) error { second.Store(true); return nil }); err != nil {
			t.Error(err)
		}
	})
	// The second waits on the lock (the server says so) and has not run.
	conn, err := js[0].Conn(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := conn.QueryRow(bg, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second node does not wait for the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if second.Load() {
		t.Fatal("the second node ran while the first held the lock")
	}
	close(release)
	wg.Wait()
	if !second.Load() {
		t.Fatal("the second node never ran")
	}
}

// Nodes lists each node once, with its name and whether it is live.
func TestClusterNodesList(t *testing.T) {
	dsn := pgtest.New(t, pgjournal.Migrate)
	a := openNode(t, dsn, "alpha", time.Minute, 0)
	b := openNode(t, dsn, "beta", time.Minute, 0)
	lapse(t, a, b.Lease().Node, 0)
	ns, err := a.Nodes(bg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range ns {
		names = append(names, fmt.Sprintf("%s:%v", n.Name, n.Live))
	}
	slices.Sort(names)
	if fmt.Sprint(names) != "[alpha:true beta:false]" {
		t.Fatalf("nodes: %v", names)
	}
}

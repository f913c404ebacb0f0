package boltjournal_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/batchtest"
	"github.com/payrun/payrun/providers"
)

// receipt is one event about payout id saying outcome, with a replay key.
func receipt(id, eventID, key string, outcome providers.Outcome) batch.Receipt {
	st := providers.Status{Outcome: outcome, Refs: providers.Refs{PayoutID: id, ProviderID: "P" + id}}
	return batch.Receipt{ReplayKey: key,
		Events: []batch.Event{{Provider: "teemopay", ID: eventID, PayoutID: id, Received: time.Now().UTC(), Body: []byte(`{"x":1}`)}},
		Facts:  []batch.EventFact{{Provider: "teemopay", EventID: eventID, Status: st}}}
}

// applyJudge applies each event's status to its payout through tx.
func applyJudge(tx *batch.EventTx, f batch.EventFact) (batch.Judged, error) {
	ok, err := tx.ApplyStatus(f.Status.Refs.PayoutID, "webhook", f.Status)
	if err != nil {
		return batch.Judged{}, err
	}
	if !ok {
		return batch.Judged{Note: "not applied"}, nil
	}
	return batch.Judged{Applied: true}, nil
}

// persist persists r and fails the test unless it is new and no replay.
func persist(t *testing.T, j *batch.Journal, r batch.Receipt) {
	t.Helper()
	replay, fresh, err := j.Persist(r)
	if err != nil || replay || fresh != len(r.Events) {
		t.Fatalf("Persist = replay %v, %d new, %v; want %d new", replay, fresh, err, len(r.Events))
	}
}

// applyAll applies the queue with judge and returns how many left it.
func applyAll(t *testing.T, j *batch.Journal, judge func(*batch.EventTx, batch.EventFact) (batch.Judged, error)) int {
	t.Helper()
	total := 0
	for {
		n, later, err := j.ApplyQueued(100, judge)
		if err != nil || later != nil {
			t.Fatalf("ApplyQueued = %d, later %+v, %v", n, later, err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func queued(t *testing.T, j *batch.Journal) int {
	t.Helper()
	n, err := j.Queued()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func submitted(t *testing.T, j *batch.Journal, ids ...string) {
	t.Helper()
	var its []batch.Item
	for _, id := range ids {
		it := batchtest.Item(id, "teemopay", providers.BankTransfer, 1000, "PEN")
		it.State = batch.Submitted
		its = append(its, it)
	}
	batchtest.Import(t, j, "B1", its...)
}

func eventState(t *testing.T, j *batch.Journal, id string) (stored, applied bool, note string) {
	t.Helper()
	ev, ok, err := j.Event("teemopay", id)
	if err != nil {
		t.Fatal(err)
	}
	return ok, ev.Applied, ev.Note
}

// TestPersistThenApply: Persist keeps the event and its replay key and
// queues it, changing no item; ApplyQueued then applies it through the
// graph, records its fact and empties the queue, in one transaction. A
// replay stores nothing; a duplicate delivery is not queued again; a
// final state does not regress.
func TestPersistThenApply(t *testing.T) {
	j := batchtest.Journal(t, nil)
	submitted(t, j, "p1")
	r := receipt("p1", "e1", "teemopay:n1", providers.Succeeded)
	persist(t, j, r)
	if stored, applied, note := eventState(t, j, "e1"); !stored || applied || note != "" {
		t.Fatalf("persisted: stored %v applied %v note %q, want stored, not applied yet", stored, applied, note)
	}
	if it, _ := j.Item("p1"); it.State != batch.Submitted || queued(t, j) != 1 {
		t.Fatalf("persisted: item %s, %d queued; want the item unchanged and one event queued", it.State, queued(t, j))
	}
	if n := applyAll(t, j, applyJudge); n != 1 || queued(t, j) != 0 {
		t.Fatalf("applied %d, %d still queued; want 1 and 0", n, queued(t, j))
	}
	it, _ := j.Item("p1")
	if it.State != batch.Succeeded || it.Refs.ProviderID != "Pp1" {
		t.Fatalf("item %s refs %+v, want succeeded with the provider's id", it.State, it.Refs)
	}
	if pid, ok := j.PayoutByRef("teemopay", "Pp1"); !ok || pid != "p1" {
		t.Errorf("ref Pp1 -> %q %v", pid, ok)
	}
	if stored, applied, _ := eventState(t, j, "e1"); !stored || !applied {
		t.Errorf("event stored %v applied %v", stored, applied)
	}
	var facts []batch.EventFact
	_ = j.EventFacts(func(f batch.EventFact) { facts = append(facts, f) })
	if len(facts) != 1 || !facts[0].Applied || facts[0].Received.IsZero() {
		t.Errorf("facts %+v, want one, applied, with the time received", facts)
	}

	// The same request again: refused by its replay key, nothing queued.
	if replay, fresh, err := j.Persist(r); err != nil || !replay || fresh != 0 || queued(t, j) != 0 {
		t.Fatalf("replayed: replay %v, %d new, %v, %d queued", replay, fresh, err, queued(t, j))
	}
	// A duplicate delivery under a new key: not new, not queued.
	r2 := receipt("p1", "e1", "teemopay:n2", providers.Succeeded)
	if replay, fresh, err := j.Persist(r2); err != nil || replay || fresh != 0 || queued(t, j) != 0 {
		t.Fatalf("duplicate: replay %v, %d new, %v, %d queued", replay, fresh, err, queued(t, j))
	}
	// That delivery replayed: refused by its own key, kept with the event.
	if replay, _, err := j.Persist(r2); err != nil || !replay {
		t.Fatalf("duplicate replayed: replay %v err %v", replay, err)
	}
	if ev, _, _ := j.Event("teemopay", "e1"); !slices.Equal(ev.ReplayKeys, []string{"teemopay:n1", "teemopay:n2"}) {
		t.Errorf("event's replay keys %q, want both deliveries'", ev.ReplayKeys)
	}
	// A late failure after success: not on the graph, kept with a note.
	persist(t, j, receipt("p1", "e2", "", providers.Failed))
	applyAll(t, j, applyJudge)
	if stored, applied, note := eventState(t, j, "e2"); !stored || applied || note != "not applied" {
		t.Fatalf("late failure: stored %v applied %v note %q", stored, applied, note)
	}
	if it, _ := j.Item("p1"); it.State != batch.Succeeded {
		t.Fatalf("a late failure moved a paid item to %s", it.State)
	}
	n := 0
	_ = j.Transitions("p1", func(tr batch.Transition) {
		if tr.To == batch.Succeeded {
			n++
		}
	})
	if n != 1 {
		t.Errorf("%d transitions to succeeded, want 1", n)
	}
}

// TestQueueSurvivesReopen: an event persisted and not applied (a crash
// after the acknowledgement) is still queued when the journal is opened
// again, and is applied then, once.
func TestQueueSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := batch.Open(path, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	submitted(t, j, "p1", "p2")
	persist(t, j, receipt("p1", "e1", "teemopay:n1", providers.Succeeded))
	persist(t, j, receipt("p2", "e2", "teemopay:n2", providers.Failed))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, err = batch.Open(path, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if n := queued(t, j); n != 2 {
		t.Fatalf("%d queued after reopening, want 2", n)
	}
	if n := applyAll(t, j, applyJudge); n != 2 {
		t.Fatalf("applied %d, want 2", n)
	}
	for id, want := range map[string]batch.State{"p1": batch.Succeeded, "p2": batch.Failed} {
		if it, _ := j.Item(id); it.State != want {
			t.Errorf("%s is %s, want %s", id, it.State, want)
		}
	}
	if n := applyAll(t, j, applyJudge); n != 0 {
		t.Errorf("applied %d more on a second pass, want none", n)
	}
}

// TestApplyLaterAndFailure: ApplyQueued stops at an event the judge leaves
// for later, applying nothing after it, and returns it; once the caller
// records it (MarkEventFact) it leaves the queue and the rest is applied.
// A judge's error keeps nothing of the transaction: the events before it
// stay queued, unapplied.
func TestApplyLaterAndFailure(t *testing.T) {
	j := batchtest.Journal(t, nil)
	submitted(t, j, "p0", "p1", "p2")
	persist(t, j, receipt("p0", "e0", "", providers.Succeeded))
	persist(t, j, receipt("p1", "e1", "teemopay:n1", providers.AwaitingConfirmation))
	persist(t, j, receipt("p2", "e2", "", providers.Succeeded))
	judge := func(tx *batch.EventTx, f batch.EventFact) (batch.Judged, error) {
		if f.Status.Outcome == providers.AwaitingConfirmation {
			return batch.Judged{Later: true}, nil
		}
		return applyJudge(tx, f)
	}
	n, later, err := j.ApplyQueued(100, judge)
	if err != nil || n != 1 || later == nil || later.EventID != "e1" {
		t.Fatalf("ApplyQueued = %d, later %+v, %v; want 1 applied and e1 left for later", n, later, err)
	}
	if it, _ := j.Item("p2"); it.State != batch.Submitted {
		t.Errorf("p2 is %s: an event after one left for later was applied out of order", it.State)
	}
	if stored, applied, note := eventState(t, j, "e1"); !stored || applied || note != "" {
		t.Errorf("e1: stored %v applied %v note %q, want stored, not marked", stored, applied, note)
	}
	// Asked again before the caller recorded it: the same answer.
	if n, later, err := j.ApplyQueued(100, judge); err != nil || n != 0 || later == nil || later.EventID != "e1" {
		t.Fatalf("again: %d, later %+v, %v", n, later, err)
	}
	if err := j.MarkEventFact(true, "", *later); err != nil {
		t.Fatal(err)
	}
	if n, later, err := j.ApplyQueued(100, judge); err != nil || n != 2 || later != nil {
		t.Fatalf("after MarkEventFact: %d, later %+v, %v; want e1 off the queue and e2 applied", n, later, err)
	}
	if it, _ := j.Item("p2"); it.State != batch.Succeeded || queued(t, j) != 0 {
		t.Errorf("p2 is %s with %d queued, want succeeded and an empty queue", it.State, queued(t, j))
	}

	persist(t, j, receipt("p1", "e3", "", providers.Failed))
	persist(t, j, receipt("p0", "e4", "", providers.Reversed))
	boom := errors.New("boom")
	failing := func(tx *batch.EventTx, f batch.EventFact) (batch.Judged, error) {
		if f.EventID == "e4" {
			return batch.Judged{}, boom
		}
		return applyJudge(tx, f)
	}
	if _, _, err := j.ApplyQueued(100, failing); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if it, _ := j.Item("p1"); it.State == batch.Failed || queued(t, j) != 2 {
		t.Errorf("after a failed group: p1 %s, %d queued; want nothing applied and both queued", it.State, queued(t, j))
	}
	if stored, applied, note := eventState(t, j, "e3"); !stored || applied || note != "" {
		t.Errorf("e3 marked by a failed group: applied %v note %q", applied, note)
	}
	if n := applyAll(t, j, applyJudge); n != 2 {
		t.Errorf("applied %d after the failure, want 2", n)
	}
}

// TestPersistConcurrent: many receipts at once, each delivered twice
// (a duplicate racing its original): each event is stored and queued once,
// and each payout moves once when the queue is applied.
func TestPersistConcurrent(t *testing.T) {
	j := batchtest.Journal(t, nil)
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%03d", i)
	}
	submitted(t, j, ids...)
	var wg sync.WaitGroup
	fresh := make([]int, 2*n)
	errs := make([]error, 2*n)
	for i := range 2 * n {
		id := ids[i%n]
		wg.Go(func() {
			r := receipt(id, "e-"+id, fmt.Sprintf("teemopay:n%d", i), providers.Succeeded)
			var replay bool
			replay, fresh[i], errs[i] = j.Persist(r)
			if replay {
				errs[i] = fmt.Errorf("%s: a delivery with a fresh key refused as a replay", id)
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		if errs[i] != nil || errs[i+n] != nil {
			t.Fatalf("%s: %v %v", id, errs[i], errs[i+n])
		}
		if fresh[i]+fresh[i+n] != 1 {
			t.Errorf("%s: new in %d deliveries, want exactly 1", id, fresh[i]+fresh[i+n])
		}
	}
	if q := queued(t, j); q != n {
		t.Fatalf("%d queued, want %d", q, n)
	}
	if got := applyAll(t, j, applyJudge); got != n {
		t.Fatalf("applied %d, want %d", got, n)
	}
	moves := map[string]int{}
	_ = j.Transitions("", func(tr batch.Transition) { moves[tr.PayoutID]++ })
	for _, id := range ids {
		if it, _ := j.Item(id); it.State != batch.Succeeded || moves[id] != 1 {
			t.Errorf("%s: %s after %d transitions, want succeeded after 1", id, it.State, moves[id])
		}
	}
}

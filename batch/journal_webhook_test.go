package batch_test

import (
	"errors"
	"fmt"
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
func applyJudge(r batch.Receipt) func(*batch.EventTx, int) (batch.Judged, error) {
	return func(tx *batch.EventTx, i int) (batch.Judged, error) {
		f := r.Facts[i]
		ok, err := tx.ApplyStatus(f.Status.Refs.PayoutID, "webhook", f.Status)
		if err != nil {
			return batch.Judged{}, err
		}
		if !ok {
			return batch.Judged{Note: "not applied"}, nil
		}
		return batch.Judged{Applied: true}, nil
	}
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

// TestReceiveOneTransaction: the event, its replay key, the item's change
// through the graph, its transition and the event's fact are all there
// after one Receive; a replay stores nothing; a duplicate is done without
// being judged again; a final state does not regress.
func TestReceiveOneTransaction(t *testing.T) {
	j := batchtest.Journal(t, nil)
	submitted(t, j, "p1")
	r := receipt("p1", "e1", "teemopay:n1", providers.Succeeded)
	replay, got, err := j.Receive(r, applyJudge(r))
	if err != nil || replay || len(got) != 1 || !got[0].New || !got[0].Done || !got[0].Applied {
		t.Fatalf("Receive = %v %+v %v, want one new event applied", replay, got, err)
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

	// The same request again: refused by its replay key, nothing judged.
	called := false
	replay, _, err = j.Receive(r, func(*batch.EventTx, int) (batch.Judged, error) { called = true; return batch.Judged{}, nil })
	if err != nil || !replay || called {
		t.Fatalf("replayed: replay %v judged %v err %v", replay, called, err)
	}
	// A duplicate delivery under a new key: done, not judged again.
	r2 := receipt("p1", "e1", "teemopay:n2", providers.Succeeded)
	_, got, err = j.Receive(r2, func(*batch.EventTx, int) (batch.Judged, error) { called = true; return batch.Judged{}, nil })
	if err != nil || called || got[0].New || !got[0].Done || !got[0].Applied {
		t.Fatalf("duplicate: %+v judged %v err %v", got, called, err)
	}
	// That delivery replayed: refused by its own key, kept with the event.
	replay, _, err = j.Receive(r2, func(*batch.EventTx, int) (batch.Judged, error) { called = true; return batch.Judged{}, nil })
	if err != nil || !replay || called {
		t.Fatalf("duplicate replayed: replay %v judged %v err %v", replay, called, err)
	}
	if ev, _, _ := j.Event("teemopay", "e1"); !slices.Equal(ev.ReplayKeys, []string{"teemopay:n1", "teemopay:n2"}) {
		t.Errorf("event's replay keys %q, want both deliveries'", ev.ReplayKeys)
	}
	// A late failure after success: not on the graph, kept with a note.
	r3 := receipt("p1", "e2", "", providers.Failed)
	_, got, err = j.Receive(r3, applyJudge(r3))
	if err != nil || got[0].Applied || got[0].Note != "not applied" {
		t.Fatalf("late failure: %+v %v", got, err)
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

// TestReceiveLaterAndFailure: an event the judge leaves for later is
// stored unmarked and so are the events after it; a judge's error stores
// nothing, not even the replay key.
func TestReceiveLaterAndFailure(t *testing.T) {
	j := batchtest.Journal(t, nil)
	submitted(t, j, "p1", "p2")
	r := receipt("p1", "e1", "teemopay:n1", providers.AwaitingConfirmation)
	second := receipt("p2", "e2", "", providers.Succeeded)
	r.Events, r.Facts = append(r.Events, second.Events...), append(r.Facts, second.Facts...)
	calls := 0
	_, got, err := j.Receive(r, func(*batch.EventTx, int) (batch.Judged, error) { calls++; return batch.Judged{Later: true}, nil })
	if err != nil || calls != 1 || len(got) != 2 {
		t.Fatalf("Receive = %+v %v after %d judgements, want 2 events after 1", got, err, calls)
	}
	for i, g := range got {
		if !g.New || g.Done {
			t.Errorf("event %d: %+v, want new and left to the caller", i, g)
		}
	}
	for _, id := range []string{"e1", "e2"} {
		if stored, applied, note := eventState(t, j, id); !stored || applied || note != "" {
			t.Errorf("%s: stored %v applied %v note %q, want stored unmarked", id, stored, applied, note)
		}
	}
	if it, _ := j.Item("p2"); it.State != batch.Submitted {
		t.Errorf("p2 is %s: an event after one left for later was applied out of order", it.State)
	}
	// Delivered again: left to the caller (it applies unmarked events).
	_, got, err = j.Receive(receipt("p1", "e1", "", providers.AwaitingConfirmation), nil)
	if err != nil || got[0].New || got[0].Done {
		t.Fatalf("again: %+v %v, want stored before, not done", got, err)
	}

	boom := errors.New("boom")
	r3 := receipt("p2", "e3", "teemopay:n3", providers.Succeeded)
	if _, _, err := j.Receive(r3, func(*batch.EventTx, int) (batch.Judged, error) { return batch.Judged{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if stored, _, _ := eventState(t, j, "e3"); stored {
		t.Error("a failed receipt stored its event")
	}
	if replay, _, err := j.Receive(r3, applyJudge(r3)); err != nil || replay {
		t.Fatalf("after a failure the replay key must still be free: replay %v err %v", replay, err)
	}
}

// TestReceiveConcurrent: many receipts at once, some failing inside the
// same group commits (so that the others run again): each payout moves
// once, each event is stored once, the failures store nothing.
func TestReceiveConcurrent(t *testing.T) {
	j := batchtest.Journal(t, nil)
	const n = 200
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%03d", i)
	}
	submitted(t, j, ids...)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Go(func() {
			r := receipt(id, "e-"+id, "teemopay:n-"+id, providers.Succeeded)
			judge := applyJudge(r)
			if i%7 == 0 {
				judge = func(tx *batch.EventTx, k int) (batch.Judged, error) {
					if _, err := applyJudge(r)(tx, k); err != nil {
						return batch.Judged{}, err
					}
					return batch.Judged{}, errors.New("refused after writing")
				}
			}
			_, got, err := j.Receive(r, judge)
			if err == nil && (!got[0].Done || !got[0].Applied) {
				err = fmt.Errorf("%s: %+v", id, got[0])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, id := range ids {
		it, _ := j.Item(id)
		stored, _, _ := eventState(t, j, "e-"+id)
		if i%7 == 0 {
			if errs[i] == nil || it.State != batch.Submitted || stored {
				t.Errorf("%s: err %v state %s stored %v, want refused, unchanged, nothing stored", id, errs[i], it.State, stored)
			}
			continue
		}
		if errs[i] != nil || it.State != batch.Succeeded || !stored {
			t.Errorf("%s: err %v state %s stored %v", id, errs[i], it.State, stored)
		}
	}
	moves := map[string]int{}
	_ = j.Transitions("", func(tr batch.Transition) { moves[tr.PayoutID]++ })
	for i, id := range ids {
		want := 1
		if i%7 == 0 {
			want = 0
		}
		if moves[id] != want {
			t.Errorf("%s: %d transitions, want %d", id, moves[id], want)
		}
	}
}

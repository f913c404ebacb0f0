package boltjournal_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/batchtest"
	"github.com/payrun/payrun/providers"
)

func TestApplyFollowsTheGraph(t *testing.T) {
	j := batchtest.Journal(t, nil)
	batchtest.Import(t, j, "B1", batchtest.Item("p1", "teemopay", providers.BankTransfer, 1000, "PEN"))

	steps := []batch.State{batch.Queued, batch.Sending, batch.Submitted, batch.Succeeded, batch.Reversed}
	for _, s := range steps {
		if err := j.Apply(batch.Change{PayoutID: "p1", To: s, Actor: "test"}); err != nil {
			t.Fatalf("-> %s: %v", s, err)
		}
	}
	// A final state never regresses.
	err := j.Apply(batch.Change{PayoutID: "p1", To: batch.Succeeded, Actor: "test"})
	var te *batch.ErrTransition
	if !errors.As(err, &te) || te.From != batch.Reversed {
		t.Fatalf("reversed -> succeeded: got %v, want ErrTransition", err)
	}
	it, err := j.Item("p1")
	if err != nil || it.State != batch.Reversed {
		t.Fatalf("item = %+v, %v", it.State, err)
	}
	var log []string
	_ = j.Transitions("p1", func(tr batch.Transition) { log = append(log, string(tr.From)+">"+string(tr.To)) })
	want := "accepted>queued queued>sending sending>submitted submitted>succeeded succeeded>reversed"
	if got := fmt.Sprint(log); got != "["+want+"]" {
		t.Fatalf("log = %s, want [%s]", got, want)
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	j := batchtest.Journal(t, nil)
	batchtest.Import(t, j, "B1",
		batchtest.Item("a", "monnet", providers.BankTransfer, 100, "PEN"),
		batchtest.Item("b", "monnet", providers.BankTransfer, 100, "PEN"))
	err := j.Apply(
		batch.Change{PayoutID: "a", To: batch.Queued},
		batch.Change{PayoutID: "b", To: batch.Succeeded}, // off the graph
	)
	if err == nil {
		t.Fatal("expected a refused transition")
	}
	it, _ := j.Item("a")
	if it.State != batch.Accepted {
		t.Fatalf("a = %s: a refused call must apply nothing", it.State)
	}
}

func TestConditionalChange(t *testing.T) {
	j := batchtest.Journal(t, nil)
	batchtest.Import(t, j, "B1", batchtest.Item("a", "monnet", providers.BankTransfer, 100, "PEN"))
	if err := j.Apply(batch.Change{PayoutID: "a", To: batch.Queued, From: batch.Sending}); !errors.Is(err, batch.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
}

func TestRefsAreUniquePerProvider(t *testing.T) {
	j := batchtest.Journal(t, nil)
	batchtest.Import(t, j, "B1",
		batchtest.Item("a", "bank131", providers.CardToken, 100, "RUB"),
		batchtest.Item("b", "bank131", providers.CardToken, 100, "RUB"))
	for _, id := range []string{"a", "b"} {
		if err := j.Apply(batch.Change{PayoutID: id, To: batch.Queued}, batch.Change{PayoutID: id, To: batch.Sending}); err != nil {
			t.Fatal(err)
		}
	}
	st := &providers.Status{Outcome: providers.Processing, Refs: providers.Refs{SessionID: "ps_1"}}
	if err := j.Apply(batch.Change{PayoutID: "a", To: batch.Submitted, Status: st}); err != nil {
		t.Fatal(err)
	}
	if got, ok := j.PayoutByRef("bank131", "ps_1"); !ok || got != "a" {
		t.Fatalf("PayoutByRef = %q, %v", got, ok)
	}
	if err := j.Apply(batch.Change{PayoutID: "b", To: batch.Submitted, Status: st}); err == nil {
		t.Fatal("one session must not belong to two payouts")
	}
}

func TestGroupCommitUnderConcurrency(t *testing.T) {
	j := batchtest.Journal(t, nil)
	const n = 400
	items := make([]batch.Item, n)
	for i := range items {
		items[i] = batchtest.Item(fmt.Sprintf("p%04d", i), "teemopay", providers.BankTransfer, 100, "PEN")
	}
	batchtest.Import(t, j, "B1", items...)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			for _, s := range []batch.State{batch.Queued, batch.Sending, batch.Submitted, batch.Succeeded} {
				if err := j.Apply(batch.Change{PayoutID: id, To: s}); err != nil {
					errs <- err
					return
				}
			}
		}(items[i].PayoutID)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	open := 0
	_ = j.OpenItems(func(batch.Item) bool { open++; return true })
	if open != 0 {
		t.Fatalf("%d items still open", open)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.db")
	j, err := batch.Open(path, batch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	start := time.Now()
	_, err = batch.Open(path, batch.Options{})
	if !errors.Is(err, batch.ErrInUse) {
		t.Fatalf("second open: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("second open took %v", d)
	}
}

// TestEventsAndReplay: a replay is an event delivered again with a replay
// key it came with before (a request sent again verbatim); a new key is a
// duplicate delivery, and its key is known from then on. A key reused on
// another event is not a replay: only a signed body makes an event, and
// TeemoPay keeps nonces unique for 24 hours, not forever.
func TestEventsAndReplay(t *testing.T) {
	j := batchtest.Journal(t, nil)
	r := func(id, key string) batch.Receipt {
		return batch.Receipt{ReplayKey: key,
			Events: []batch.Event{{Provider: "teemopay", ID: id, Body: []byte(`{}`), Received: time.Now()}},
			Facts:  []batch.EventFact{{Provider: "teemopay", EventID: id}}}
	}
	replay, fresh, err := j.Persist(r("e1", "teemopay:n1"))
	if err != nil || fresh != 1 || replay {
		t.Fatalf("first: %d new, replay %v, %v", fresh, replay, err)
	}
	replay, fresh, _ = j.Persist(r("e1", "teemopay:n1"))
	if fresh != 0 || !replay {
		t.Fatalf("replayed: %d new, replay %v", fresh, replay)
	}
	replay, fresh, _ = j.Persist(r("e1", "teemopay:n2"))
	if fresh != 0 || replay {
		t.Fatalf("duplicate delivery with a fresh nonce: %d new, replay %v", fresh, replay)
	}
	replay, fresh, _ = j.Persist(r("e1", "teemopay:n2"))
	if fresh != 0 || !replay {
		t.Fatalf("duplicate delivery replayed: %d new, replay %v", fresh, replay)
	}
	if got, _, _ := j.Event("teemopay", "e1"); len(got.ReplayKeys) != 2 {
		t.Fatalf("replay keys %q, want both deliveries'", got.ReplayKeys)
	}
	replay, fresh, _ = j.Persist(r("e2", "teemopay:n1"))
	if fresh != 1 || replay {
		t.Fatalf("another event with a nonce seen before: %d new, replay %v", fresh, replay)
	}
}

func TestMailQueue(t *testing.T) {
	j := batchtest.Journal(t, nil)
	_ = j.EnqueueMail("m1", []byte("x"))
	_ = j.EnqueueMail("m1", []byte("y"))
	p, _ := j.PendingMail()
	if len(p) != 1 || string(p[0].EML) != "x" {
		t.Fatalf("pending = %+v", p)
	}
	_ = j.MarkMailSent("m1", errors.New("smtp down"))
	if p, _ = j.PendingMail(); len(p) != 1 || p[0].Tries != 1 {
		t.Fatalf("after failure: %+v", p)
	}
	_ = j.MarkMailSent("m1", nil)
	if p, _ = j.PendingMail(); len(p) != 0 {
		t.Fatalf("after send: %+v", p)
	}
}

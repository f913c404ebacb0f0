package journaltest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

func init() {
	register("CopyRoundTrip", copyRoundTrip)
	register("CopyRefusesANonEmptyTarget", copyRefusesNonEmpty)
}

// populate fills j with something of everything a journal keeps: batches
// ingested (with invalid and duplicate rows) and imported, an item in
// every state, transitions with payloads and references, events applied,
// queued, and left for later then judged, with replay keys, mail pending,
// failed and sent, marks, and an approved batch.
func populate(t *testing.T, j journal.Journal, c *clock) {
	t.Helper()
	rows := PayoutRows(8)
	ingest(t, j, WriteRows(t, "a.csv", rows[:3]), journal.IngestOptions{})
	c.advance(time.Second)
	second := rows[1:]
	second[4].Amount = "1.005"
	b := ingest(t, j, WriteRows(t, "b.csv", second), journal.IngestOptions{SkipInvalid: true}).Batch
	if b.Duplicates != 2 || b.Invalid != 1 {
		t.Fatalf("second file: %+v", b)
	}
	c.advance(time.Second)
	var items []journal.Item
	for _, s := range journal.States {
		it := ValidItem("s-"+string(s), "teemopay", 100)
		it.State = s
		items = append(items, it)
	}
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		it := ValidItem(id, "teemopay", 2500)
		it.State = journal.Submitted
		items = append(items, it)
	}
	Import(t, j, "B-imported", items...)
	if err := j.SetBatch(bg, b.ID, func(b *journal.Batch) error {
		b.State, b.Approved, b.ApprovedBy, b.Note = journal.BatchDispatching, c.now(), "ana", "approved by phone"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	apply := func(cs ...journal.Change) {
		t.Helper()
		if err := j.Apply(bg, cs...); err != nil {
			t.Fatal(err)
		}
	}
	apply(journal.Change{PayoutID: "P-1", To: journal.Queued, Actor: "dispatcher"},
		journal.Change{PayoutID: "P-1", To: journal.Sending, Actor: "dispatcher", Update: func(it *journal.Item) { it.Attempt, it.Sends = 1, 1 }})
	c.advance(time.Second)
	apply(journal.Change{PayoutID: "P-1", To: journal.Submitted, Actor: "dispatcher", Reason: "accepted",
		Status:  &providers.Status{Outcome: providers.Processing, Refs: providers.Refs{ProviderID: "T-1", SessionID: "S-1"}, RawStatus: "PENDING"},
		Payload: []byte(`{"status":"PENDING","id":"T-1"}`)})
	if err := j.Update(bg, "P-1", func(it *journal.Item) { it.Polls, it.NextPoll = 2, c.now().Add(time.Minute) }); err != nil {
		t.Fatal(err)
	}
	c.advance(time.Second)
	// Events: one applied, with a second delivery's replay key; one left
	// for later, then judged; one waiting in the queue.
	persist(t, j, receipt("p1", "e1", "teemopay:n1", providers.Succeeded))
	if _, _, err := j.Persist(bg, receipt("p1", "e1", "teemopay:n2", providers.Succeeded)); err != nil {
		t.Fatal(err)
	}
	persist(t, j, receipt("p2", "e2", "", providers.AwaitingConfirmation))
	later := func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		if f.Status.Outcome == providers.AwaitingConfirmation {
			return journal.Judged{Later: true}, nil
		}
		return applyJudge(tx, f)
	}
	n, l, err := j.ApplyQueued(bg, 10, later)
	if err != nil || n != 1 || l == nil {
		t.Fatalf("ApplyQueued: %d, %+v, %v", n, l, err)
	}
	if err := j.MarkEventFact(bg, false, "confirmation refused", *l); err != nil {
		t.Fatal(err)
	}
	persist(t, j, receipt("p3", "e3", "teemopay:n3", providers.Failed))
	// Mail: one sent, one failed once, one pending.
	for i, id := range []string{"m1", "m2", "m3"} {
		c.advance(time.Second)
		if err := j.EnqueueMail(bg, id, fmt.Appendf(nil, "Subject: report %d\r\n\r\nbody", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(time.Second)
	_ = j.MarkMailSent(bg, "m1", nil)
	_ = j.MarkMailSent(bg, "m2", errors.New("421 try later"))
	_ = j.SetMark(bg, "lastrun:report", c.now().Format(time.RFC3339))
	_ = j.SetMark(bg, "lastrun:poll", "x")
}

func copyRoundTrip(t *testing.T, h Harness) {
	drivers := []struct {
		name  string
		fresh func(testing.TB, func() time.Time) Store
	}{{"this", h.Fresh}}
	if h.Other != nil {
		drivers = append(drivers, struct {
			name  string
			fresh func(testing.TB, func() time.Time) Store
		}{"other", h.Other})
	}
	for _, a := range drivers {
		for _, b := range drivers {
			t.Run(a.name+"-to-"+b.name, func(t *testing.T) {
				c := newClock()
				src := reopen(t, a.fresh(t, c.now))
				populate(t, src, c)
				want := Dump(t, src)
				dst := reopen(t, b.fresh(t, c.now))
				rep, err := journal.Copy(bg, unwrap(src), unwrap(dst))
				if err != nil {
					t.Fatal(err)
				}
				if rep.Batches != 3 || rep.Items != 7+len(journal.States)+4 || rep.Rejected != 3 || rep.Events != 3 ||
					rep.Facts != 2 || rep.Queued != 2 || rep.Mail != 3 || rep.Marks != 2 || rep.Refs < 2 || rep.Transitions < 4 {
					t.Errorf("copy report %+v", rep)
				}
				if got := Dump(t, dst); got != want {
					t.Fatalf("the copy differs from its source:\n%s\n---\n%s", want, got)
				}
				back := reopen(t, a.fresh(t, c.now))
				if _, err := journal.Copy(bg, unwrap(dst), unwrap(back)); err != nil {
					t.Fatal(err)
				}
				if got := Dump(t, back); got != want {
					t.Fatalf("the copy of the copy differs from the source:\n%s\n---\n%s", want, got)
				}
				// The copy works on: the queue applies, references find
				// their payouts, a replay is still known.
				if pid, ok, _ := dst.PayoutByRef(bg, "teemopay", "S-1"); !ok || pid != "P-1" {
					t.Errorf("reference S-1 -> %q %v", pid, ok)
				}
				if replay, _, err := dst.Persist(bg, receipt("p1", "e1", "teemopay:n2", providers.Succeeded)); err != nil || !replay {
					t.Errorf("a replay after the copy: %v %v", replay, err)
				}
				if n := applyAll(t, dst, applyJudge); n != 2 {
					t.Errorf("the copy applied %d queued events, want 2 (e2 judged, e3)", n)
				}
				if it, _ := dst.Item(bg, "p3"); it.State != journal.Failed {
					t.Errorf("p3 is %s after its queued event was applied on the copy", it.State)
				}
				if err := dst.Check(bg); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func copyRefusesNonEmpty(t *testing.T, h Harness) {
	src, _, c := open(t, h)
	populate(t, src, c)
	for name, fill := range map[string]func(journal.Journal){
		"a mark":  func(j journal.Journal) { _ = j.SetMark(bg, "k", "v") },
		"a batch": func(j journal.Journal) { Import(t, j, "B9", Item("z", "teemopay", providers.BankTransfer, 1, "PEN")) },
		"mail":    func(j journal.Journal) { _ = j.EnqueueMail(bg, "m", []byte("x")) },
	} {
		t.Run(name, func(t *testing.T) {
			dst, _, _ := open(t, h)
			fill(dst)
			before := Dump(t, dst)
			if _, err := journal.Copy(bg, unwrap(src), unwrap(dst)); !errors.Is(err, journal.ErrNotEmpty) {
				t.Fatalf("copy into a journal holding %s: %v, want ErrNotEmpty", name, err)
			}
			if Dump(t, dst) != before {
				t.Fatal("a refused copy changed the target")
			}
		})
	}
}

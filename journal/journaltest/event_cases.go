package journaltest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

func init() {
	register("PersistThenApply", persistThenApply)
	register("ReplayKeys", replayKeys)
	register("QueueSurvivesReopen", queueSurvivesReopen)
	register("ApplyLaterAndFailure", applyLaterAndFailure)
	register("PersistConcurrent", persistConcurrent)
	register("NoCardNumberInEvents", noCardNumberInEvents)
	register("MailQueue", mailQueue)
	register("Marks", marks)
	register("SchemaOfANewerPayrunIsRefused", newerSchema)
}

// receipt is one TeemoPay event about payout id saying outcome, with a
// replay key.
func receipt(id, eventID, key string, outcome providers.Outcome) journal.Receipt {
	st := providers.Status{Outcome: outcome, Refs: providers.Refs{PayoutID: id, ProviderID: "P" + id}}
	return journal.Receipt{ReplayKey: key,
		Events: []journal.Event{{Provider: "teemopay", ID: eventID, PayoutID: id, Received: time.Now().UTC(), Body: []byte(`{"x":1}`)}},
		Facts:  []journal.EventFact{{Provider: "teemopay", EventID: eventID, Status: st}}}
}

// applyJudge applies each event's status to its payout through tx.
func applyJudge(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
	ok, err := tx.ApplyStatus(f.Status.Refs.PayoutID, "webhook", f.Status)
	if err != nil {
		return journal.Judged{}, err
	}
	if !ok {
		return journal.Judged{Note: "not applied"}, nil
	}
	return journal.Judged{Applied: true}, nil
}

func persist(t *testing.T, j journal.Journal, r journal.Receipt) {
	t.Helper()
	replay, fresh, err := j.Persist(bg, r)
	if err != nil || replay || fresh != len(r.Events) {
		t.Fatalf("Persist = replay %v, %d new, %v; want %d new", replay, fresh, err, len(r.Events))
	}
}

// applyAll applies the queue with judge and returns how many left it.
func applyAll(t *testing.T, j journal.Journal, judge journal.Judge) int {
	t.Helper()
	total := 0
	for {
		n, later, err := j.ApplyQueued(bg, 100, judge)
		if err != nil || later != nil {
			t.Fatalf("ApplyQueued = %d, later %+v, %v", n, later, err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func queued(t *testing.T, j journal.Journal) int {
	t.Helper()
	n, err := j.Queued(bg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func submitted(t *testing.T, j journal.Journal, ids ...string) {
	t.Helper()
	var its []journal.Item
	for _, id := range ids {
		it := Item(id, "teemopay", providers.BankTransfer, 1000, "PEN")
		it.State = journal.Submitted
		its = append(its, it)
	}
	Import(t, j, "B1", its...)
}

func eventState(t *testing.T, j journal.Journal, id string) (stored, applied bool, note string) {
	t.Helper()
	ev, ok, err := j.Event(bg, "teemopay", id)
	if err != nil {
		t.Fatal(err)
	}
	return ok, ev.Applied, ev.Note
}

// persistThenApply: Persist keeps the event and its replay key and queues
// it, changing no item; ApplyQueued then applies it through the graph,
// records its fact and empties the queue, in one transaction. A replay
// stores nothing; a duplicate delivery is not queued again; a final state
// does not regress.
func persistThenApply(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	submitted(t, j, "p1")
	if replay, fresh, err := j.Persist(bg, journal.Receipt{}); replay || fresh != 0 || err != nil {
		t.Fatalf("an empty receipt: %v %d %v", replay, fresh, err)
	}
	r := receipt("p1", "e1", "teemopay:n1", providers.Succeeded)
	persist(t, j, r)
	if stored, applied, note := eventState(t, j, "e1"); !stored || applied || note != "" {
		t.Fatalf("persisted: stored %v applied %v note %q, want stored, not applied yet", stored, applied, note)
	}
	if ev, _, _ := j.Event(bg, "teemopay", "e1"); string(ev.Body) != `{"x":1}` || ev.PayoutID != "p1" || ev.Received.IsZero() {
		t.Fatalf("event %+v", ev)
	}
	if it, _ := j.Item(bg, "p1"); it.State != journal.Submitted || queued(t, j) != 1 {
		t.Fatalf("persisted: item %s, %d queued; want the item unchanged and one event queued", it.State, queued(t, j))
	}
	if n := applyAll(t, j, applyJudge); n != 1 || queued(t, j) != 0 {
		t.Fatalf("applied %d, %d still queued; want 1 and 0", n, queued(t, j))
	}
	it, _ := j.Item(bg, "p1")
	if it.State != journal.Succeeded || it.Refs.ProviderID != "Pp1" {
		t.Fatalf("item %s refs %+v, want succeeded with the provider's id", it.State, it.Refs)
	}
	if pid, ok, _ := j.PayoutByRef(bg, "teemopay", "Pp1"); !ok || pid != "p1" {
		t.Errorf("ref Pp1 -> %q %v", pid, ok)
	}
	if stored, applied, _ := eventState(t, j, "e1"); !stored || !applied {
		t.Errorf("event stored %v applied %v", stored, applied)
	}
	var facts []journal.EventFact
	_ = j.EventFacts(bg, func(f journal.EventFact) bool { facts = append(facts, f); return true })
	if len(facts) != 1 || !facts[0].Applied || facts[0].Received.IsZero() || facts[0].Status.Refs.PayoutID != "p1" {
		t.Errorf("facts %+v, want one, applied, with the time received", facts)
	}
	// The same request again: refused by its replay key, nothing queued.
	if replay, fresh, err := j.Persist(bg, r); err != nil || !replay || fresh != 0 || queued(t, j) != 0 {
		t.Fatalf("replayed: replay %v, %d new, %v, %d queued", replay, fresh, err, queued(t, j))
	}
	// A duplicate delivery under a new key: not new, not queued.
	r2 := receipt("p1", "e1", "teemopay:n2", providers.Succeeded)
	if replay, fresh, err := j.Persist(bg, r2); err != nil || replay || fresh != 0 || queued(t, j) != 0 {
		t.Fatalf("duplicate: replay %v, %d new, %v, %d queued", replay, fresh, err, queued(t, j))
	}
	if replay, _, err := j.Persist(bg, r2); err != nil || !replay {
		t.Fatalf("duplicate replayed: replay %v err %v", replay, err)
	}
	if ev, _, _ := j.Event(bg, "teemopay", "e1"); !slices.Equal(ev.ReplayKeys, []string{"teemopay:n1", "teemopay:n2"}) {
		t.Errorf("event's replay keys %q, want both deliveries'", ev.ReplayKeys)
	}
	// A late failure after success: not on the graph, kept with a note.
	persist(t, j, receipt("p1", "e2", "", providers.Failed))
	applyAll(t, j, applyJudge)
	if stored, applied, note := eventState(t, j, "e2"); !stored || applied || note != "not applied" {
		t.Fatalf("late failure: stored %v applied %v note %q", stored, applied, note)
	}
	if it, _ := j.Item(bg, "p1"); it.State != journal.Succeeded {
		t.Fatalf("a late failure moved a paid item to %s", it.State)
	}
	n := 0
	_ = j.Transitions(bg, "p1", func(tr journal.Transition) bool {
		if tr.To == journal.Succeeded {
			n++
		}
		return true
	})
	if n != 1 {
		t.Errorf("%d transitions to succeeded, want 1", n)
	}
	evs := 0
	_ = j.ListEvents(bg, func(journal.Event) bool { evs++; return true })
	if evs != 2 {
		t.Errorf("%d events stored, want 2", evs)
	}
}

// replayKeys: a replay is an event delivered again with a replay key it
// came with before (a request sent again verbatim); a new key is a
// duplicate delivery, and its key is known from then on. A key reused on
// another event is not a replay: only a signed body makes an event.
func replayKeys(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	r := func(ids []string, key string) journal.Receipt {
		var rc journal.Receipt
		rc.ReplayKey = key
		for _, id := range ids {
			rc.Events = append(rc.Events, journal.Event{Provider: "teemopay", ID: id, Body: []byte(`{}`), Received: time.Now()})
			rc.Facts = append(rc.Facts, journal.EventFact{Provider: "teemopay", EventID: id})
		}
		return rc
	}
	check := func(what string, rc journal.Receipt, wantReplay bool, wantFresh int) {
		t.Helper()
		replay, fresh, err := j.Persist(bg, rc)
		if err != nil || replay != wantReplay || fresh != wantFresh {
			t.Fatalf("%s: replay %v, %d new, %v; want %v, %d", what, replay, fresh, err, wantReplay, wantFresh)
		}
	}
	check("first", r([]string{"e1"}, "teemopay:n1"), false, 1)
	check("replayed", r([]string{"e1"}, "teemopay:n1"), true, 0)
	check("a fresh nonce", r([]string{"e1"}, "teemopay:n2"), false, 0)
	check("that one replayed", r([]string{"e1"}, "teemopay:n2"), true, 0)
	check("a known nonce on another event", r([]string{"e2"}, "teemopay:n1"), false, 1)
	// A receipt of several events whose first is a replay keeps nothing.
	check("several, the first replayed", r([]string{"e1", "e3"}, "teemopay:n1"), true, 0)
	if _, ok, _ := j.Event(bg, "teemopay", "e3"); ok {
		t.Fatal("a replayed receipt stored its second event")
	}
	check("several, new", r([]string{"e4", "e5"}, "teemopay:n9"), false, 2)
	if ev, _, _ := j.Event(bg, "teemopay", "e5"); len(ev.ReplayKeys) != 0 {
		t.Fatalf("the replay key went with the second event too: %q", ev.ReplayKeys)
	}
	if _, _, err := j.Persist(bg, journal.Receipt{Events: []journal.Event{{Provider: "x", ID: "y"}}}); err == nil {
		t.Fatal("a receipt with an event and no fact was taken")
	}
}

// queueSurvivesReopen: an event persisted and not applied (a crash after
// the acknowledgement) is still queued when the journal is opened again,
// and is applied then, once.
func queueSurvivesReopen(t *testing.T, h Harness) {
	j, s, _ := open(t, h)
	submitted(t, j, "p1", "p2")
	persist(t, j, receipt("p1", "e1", "teemopay:n1", providers.Succeeded))
	persist(t, j, receipt("p2", "e2", "teemopay:n2", providers.Failed))
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = reopen(t, s)
	if n := queued(t, j); n != 2 {
		t.Fatalf("%d queued after reopening, want 2", n)
	}
	if n := applyAll(t, j, applyJudge); n != 2 {
		t.Fatalf("applied %d, want 2", n)
	}
	for id, want := range map[string]journal.State{"p1": journal.Succeeded, "p2": journal.Failed} {
		if it, _ := j.Item(bg, id); it.State != want {
			t.Errorf("%s is %s, want %s", id, it.State, want)
		}
	}
	if n := applyAll(t, j, applyJudge); n != 0 {
		t.Errorf("applied %d more on a second pass, want none", n)
	}
	// And the replay keys survive too.
	if replay, _, _ := j.Persist(bg, receipt("p1", "e1", "teemopay:n1", providers.Succeeded)); !replay {
		t.Error("a replay after a restart was not known")
	}
}

// applyLaterAndFailure: ApplyQueued stops at an event the judge leaves for
// later, applying nothing after it, and returns it; once the caller
// records it (MarkEventFact) it leaves the queue and the rest is applied.
// A judge's error keeps nothing of the transaction.
func applyLaterAndFailure(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	submitted(t, j, "p0", "p1", "p2")
	persist(t, j, receipt("p0", "e0", "", providers.Succeeded))
	persist(t, j, receipt("p1", "e1", "teemopay:n1", providers.AwaitingConfirmation))
	persist(t, j, receipt("p2", "e2", "", providers.Succeeded))
	judge := func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		if f.Status.Outcome == providers.AwaitingConfirmation {
			return journal.Judged{Later: true}, nil
		}
		return applyJudge(tx, f)
	}
	n, later, err := j.ApplyQueued(bg, 100, judge)
	if err != nil || n != 1 || later == nil || later.EventID != "e1" {
		t.Fatalf("ApplyQueued = %d, later %+v, %v; want 1 applied and e1 left for later", n, later, err)
	}
	if it, _ := j.Item(bg, "p2"); it.State != journal.Submitted {
		t.Errorf("p2 is %s: an event after one left for later was applied out of order", it.State)
	}
	if n, later, err := j.ApplyQueued(bg, 100, judge); err != nil || n != 0 || later == nil || later.EventID != "e1" {
		t.Fatalf("again: %d, later %+v, %v", n, later, err)
	}
	if err := j.MarkEventFact(bg, true, "settled", *later); err != nil {
		t.Fatal(err)
	}
	if stored, applied, note := eventState(t, j, "e1"); !stored || !applied || note != "settled" {
		t.Errorf("e1 after MarkEventFact: %v %v %q", stored, applied, note)
	}
	if n, later, err := j.ApplyQueued(bg, 100, judge); err != nil || n != 2 || later != nil {
		t.Fatalf("after MarkEventFact: %d, later %+v, %v; want e1 off the queue and e2 applied", n, later, err)
	}
	if it, _ := j.Item(bg, "p2"); it.State != journal.Succeeded || queued(t, j) != 0 {
		t.Errorf("p2 is %s with %d queued, want succeeded and an empty queue", it.State, queued(t, j))
	}
	if err := j.MarkEventFact(bg, true, "", journal.EventFact{Provider: "teemopay", EventID: "nope"}); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("unknown event: %v", err)
	}

	persist(t, j, receipt("p1", "e3", "", providers.Failed))
	persist(t, j, receipt("p0", "e4", "", providers.Reversed))
	before := Dump(t, j)
	boom := errors.New("boom")
	failing := func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		if f.EventID == "e4" {
			return journal.Judged{}, boom
		}
		return applyJudge(tx, f)
	}
	if _, _, err := j.ApplyQueued(bg, 100, failing); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if after := Dump(t, j); after != before {
		t.Fatalf("a failed group changed the journal:\n%s\n---\n%s", before, after)
	}
	if n := applyAll(t, j, applyJudge); n != 2 {
		t.Errorf("applied %d after the failure, want 2", n)
	}
}

// persistConcurrent: many receipts at once, each delivered twice (a
// duplicate racing its original): each event is stored and queued once,
// and each payout moves once when the queue is applied.
func persistConcurrent(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
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
			replay, fresh[i], errs[i] = j.Persist(bg, r)
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
	_ = j.Transitions(bg, "", func(tr journal.Transition) bool { moves[tr.PayoutID]++; return true })
	for _, id := range ids {
		if it, _ := j.Item(bg, id); it.State != journal.Succeeded || moves[id] != 1 {
			t.Errorf("%s: %s after %d transitions, want succeeded after 1", id, it.State, moves[id])
		}
		if ev, _, _ := j.Event(bg, "teemopay", "e-"+id); len(ev.ReplayKeys) != 2 {
			t.Errorf("%s: replay keys %q, want both deliveries'", id, ev.ReplayKeys)
		}
	}
}

func noCardNumberInEvents(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	submitted(t, j, "p1")
	r := receipt("p1", "e1", "", providers.Failed)
	r.Events[0].Body = []byte(`{"card_number":"4111-1111-1111-1111","amount":"1000"}`)
	r.Facts[0].Status.Message = "card " + testPAN + " refused"
	r.Facts[0].Status.Code = testPAN
	persist(t, j, r)
	// A notification about a payout payrun never sent, whose merchant
	// reference is a card number, in an event ID that spells it (as
	// TeemoPay's do).
	id := "teemopay:" + testPAN + "|TF1|3|x"
	u := receipt(testPAN, id, "", providers.Failed)
	u.Facts[0].Status.Refs.ProviderID = "TF1"
	u.Events[0].Type = "failed " + testPAN
	u.Facts[0].Status.Code = testPAN
	persist(t, j, u)
	if replay, fresh, err := j.Persist(bg, receipt(testPAN, id, "", providers.Failed)); replay || fresh != 0 || err != nil {
		t.Fatalf("the same event again: replay %v, %d new, %v; want it known", replay, fresh, err)
	}
	applyAll(t, j, func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
		if f.Status.Refs.PayoutID != "p1" {
			return journal.Judged{Note: "unexpected " + f.Status.Refs.PayoutID}, nil
		}
		return applyJudge(tx, f)
	})
	d := strings.NewReplacer(" ", "", "-", "").Replace(Dump(t, j))
	if strings.Contains(d, testPAN) {
		t.Fatalf("a card number is stored:\n%s", d)
	}
	if ev, _, _ := j.Event(bg, "teemopay", "e1"); !strings.Contains(string(ev.Body), `"amount":"1000"`) {
		t.Fatalf("the rest of the body was not kept: %s", ev.Body)
	}
}

func mailQueue(t *testing.T, h Harness) {
	j, s, c := open(t, h)
	_ = j.EnqueueMail(bg, "m1", []byte("x"))
	_ = j.EnqueueMail(bg, "m1", []byte("y"))
	c.advance(1e9)
	_ = j.EnqueueMail(bg, "m2", []byte("z"))
	p, _ := j.PendingMail(bg)
	if len(p) != 2 || string(p[0].EML) != "x" || p[0].ID != "m1" || p[1].ID != "m2" {
		t.Fatalf("pending = %+v", p)
	}
	_ = j.MarkMailSent(bg, "m1", errors.New("smtp down"))
	if p, _ = j.PendingMail(bg); len(p) != 2 || p[0].Tries != 1 || p[0].LastErr != "smtp down" {
		t.Fatalf("after failure: %+v", p)
	}
	_ = j.MarkMailSent(bg, "m1", nil)
	_ = j.MarkMailSent(bg, "m1", nil)
	if err := j.MarkMailSent(bg, "unknown", nil); err != nil {
		t.Fatalf("unknown message: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = reopen(t, s)
	if p, _ = j.PendingMail(bg); len(p) != 1 || p[0].ID != "m2" {
		t.Fatalf("after send and restart: %+v", p)
	}
}

func marks(t *testing.T, h Harness) {
	j, s, _ := open(t, h)
	if _, ok, err := j.Mark(bg, "lastrun:report"); ok || err != nil {
		t.Fatalf("unset mark: %v %v", ok, err)
	}
	_ = j.SetMark(bg, "lastrun:report", "2026-11-21T06:00:00Z")
	_ = j.SetMark(bg, "lastrun:report", "2026-11-22T06:00:00Z")
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j = reopen(t, s)
	if v, ok, err := j.Mark(bg, "lastrun:report"); !ok || err != nil || v != "2026-11-22T06:00:00Z" {
		t.Fatalf("mark = %q %v %v", v, ok, err)
	}
}

func newerSchema(t *testing.T, h Harness) {
	if h.Newer == nil {
		t.Skip("the driver offers no way to mark a store as newer")
	}
	j, s, _ := open(t, h)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	h.Newer(t, s)
	j, err := s.Open()
	if err == nil {
		j.Close()
		t.Fatal("a store written by a newer payrun was opened")
	}
	if !errors.Is(err, journal.ErrSchema) {
		t.Fatalf("open: %v, want ErrSchema", err)
	}
}

package journaltest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

func init() {
	register("EveryTransitionOnTheGraphAndNoOther", everyTransition)
	register("ApplyRecordsTheLog", applyRecordsTheLog)
	register("ApplyIsAllOrNothing", applyIsAllOrNothing)
	register("ConditionalChangesRace", conditionalChangesRace)
	register("RefsAreUniquePerProvider", refsAreUnique)
	register("ConcurrentWriters", concurrentWriters)
	register("OwnersAndOpenIndex", ownersAndOpenIndex)
	register("ImportRefusesJournaledPayouts", importRefuses)
	register("UpdateKeepsTheState", updateKeepsTheState)
	register("CancelledContextWritesNothing", cancelledContextWritesNothing)
	register("NoCardNumberInPayloads", noCardNumberInPayloads)
	register("ApplyStatusRules", applyStatusRules)
}

// everyTransition applies every (from, to) pair of states to an item in
// from: it moves exactly when the graph allows it, and a refused move
// leaves the item as it was.
func everyTransition(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	var items []journal.Item
	for _, from := range journal.States {
		for _, to := range journal.States {
			it := Item(fmt.Sprintf("%s-%s", from, to), "teemopay", providers.BankTransfer, 100, "PEN")
			it.State = from
			items = append(items, it)
		}
	}
	Import(t, j, "B1", items...)
	allowed, refused := 0, 0
	for _, it := range items {
		from := it.State
		to := journal.State(strings.TrimPrefix(it.PayoutID, string(from)+"-"))
		err := j.Apply(bg, journal.Change{PayoutID: it.PayoutID, To: to, Actor: "test"})
		got, gerr := j.Item(bg, it.PayoutID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		var te *journal.ErrTransition
		switch {
		case from == to:
			if err != nil || got.State != from {
				t.Errorf("%s -> %s (no change): %v, now %s", from, to, err, got.State)
			}
		case journal.CanMove(from, to):
			allowed++
			if err != nil || got.State != to {
				t.Errorf("%s -> %s is on the graph: %v, now %s", from, to, err, got.State)
			}
		default:
			refused++
			if !errors.As(err, &te) || te.From != from || te.To != to || got.State != from {
				t.Errorf("%s -> %s is off the graph: %v, now %s", from, to, err, got.State)
			}
		}
	}
	if allowed == 0 || refused == 0 {
		t.Fatalf("%d allowed, %d refused", allowed, refused)
	}
	// The open index follows every state.
	open := map[string]journal.State{}
	if err := j.OpenStates(bg, func(id string, s journal.State) bool { open[id] = s; return true }); err != nil {
		t.Fatal(err)
	}
	if err := j.AllItems(bg, func(it journal.Item) bool {
		if s, ok := open[it.PayoutID]; ok != !it.State.Final() || (ok && s != it.State) {
			t.Errorf("%s is %s; open index says %q (present %v)", it.PayoutID, it.State, s, ok)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
}

func applyRecordsTheLog(t *testing.T, h Harness) {
	j, _, c := open(t, h)
	Import(t, j, "B1", Item("p1", "teemopay", providers.BankTransfer, 1000, "PEN"))
	for _, s := range []journal.State{journal.Queued, journal.Sending, journal.Submitted, journal.Succeeded, journal.Reversed} {
		c.advance(1e9)
		if err := j.Apply(bg, journal.Change{PayoutID: "p1", To: s, Actor: "test", Reason: "to " + string(s)}); err != nil {
			t.Fatalf("-> %s: %v", s, err)
		}
	}
	err := j.Apply(bg, journal.Change{PayoutID: "p1", To: journal.Succeeded, Actor: "test"})
	var te *journal.ErrTransition
	if !errors.As(err, &te) || te.From != journal.Reversed {
		t.Fatalf("reversed -> succeeded: got %v, want ErrTransition", err)
	}
	it, err := j.Item(bg, "p1")
	if err != nil || it.State != journal.Reversed || it.Reason != "to reversed" || !it.Updated.Equal(c.now()) || it.SentAt.IsZero() {
		t.Fatalf("item = %s %q updated %v sent %v, %v", it.State, it.Reason, it.Updated, it.SentAt, err)
	}
	var log []string
	var last uint64
	if err := j.Transitions(bg, "p1", func(tr journal.Transition) bool {
		if tr.Seq <= last {
			t.Errorf("sequence %d after %d", tr.Seq, last)
		}
		last = tr.Seq
		log = append(log, string(tr.From)+">"+string(tr.To))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	want := "accepted>queued queued>sending sending>submitted submitted>succeeded succeeded>reversed"
	if got := strings.Join(log, " "); got != want {
		t.Fatalf("log = %s, want %s", got, want)
	}
}

func applyIsAllOrNothing(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1",
		Item("a", "monnet", providers.BankTransfer, 100, "PEN"),
		Item("b", "monnet", providers.BankTransfer, 100, "PEN"))
	before := Dump(t, j)
	err := j.Apply(bg,
		journal.Change{PayoutID: "a", To: journal.Queued},
		journal.Change{PayoutID: "b", To: journal.Succeeded}, // off the graph
	)
	if err == nil {
		t.Fatal("expected a refused transition")
	}
	if err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Queued}, journal.Change{PayoutID: "nobody", To: journal.Queued}); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("unknown payout: %v, want ErrNotFound", err)
	}
	if after := Dump(t, j); after != before {
		t.Fatalf("a refused call changed the journal:\n%s\n---\n%s", before, after)
	}
}

// conditionalChangesRace: many writers compare-and-set the same item at
// once; exactly one wins, the others get ErrConflict, and the log holds
// one transition.
func conditionalChangesRace(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1", Item("a", "monnet", providers.BankTransfer, 100, "PEN"))
	if err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Queued, From: journal.Sending}); !errors.Is(err, journal.ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
	if err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Queued}); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	var wg sync.WaitGroup
	wins, conflicts := 0, 0
	var mu sync.Mutex
	for i := range writers {
		wg.Go(func() {
			err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Sending, From: journal.Queued,
				Actor: fmt.Sprintf("w%d", i), Update: func(x *journal.Item) { x.Sends++ }})
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
	it, _ := j.Item(bg, "a")
	if wins != 1 || conflicts != writers-1 || it.Sends != 1 || it.State != journal.Sending {
		t.Fatalf("%d wins, %d conflicts, sends %d, state %s; want one winner", wins, conflicts, it.Sends, it.State)
	}
	n := 0
	_ = j.Transitions(bg, "a", func(tr journal.Transition) bool {
		if tr.To == journal.Sending {
			n++
		}
		return true
	})
	if n != 1 {
		t.Fatalf("%d transitions to sending", n)
	}
}

func refsAreUnique(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1",
		Item("a", "bank131", providers.CardToken, 100, "RUB"),
		Item("b", "bank131", providers.CardToken, 100, "RUB"),
		Item("c", "smartglocal", providers.CardToken, 100, "USD"))
	for _, id := range []string{"a", "b", "c"} {
		if err := j.Apply(bg, journal.Change{PayoutID: id, To: journal.Queued}, journal.Change{PayoutID: id, To: journal.Sending}); err != nil {
			t.Fatal(err)
		}
	}
	st := &providers.Status{Outcome: providers.Processing, Refs: providers.Refs{SessionID: "ps_1", ProviderID: "po_1"}}
	if err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Submitted, Status: st}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"ps_1", "po_1"} {
		if got, ok, err := j.PayoutByRef(bg, "bank131", ref); err != nil || !ok || got != "a" {
			t.Fatalf("PayoutByRef(%s) = %q, %v, %v", ref, got, ok, err)
		}
	}
	if _, ok, err := j.PayoutByRef(bg, "bank131", "ps_2"); ok || err != nil {
		t.Fatalf("unknown ref: %v %v", ok, err)
	}
	if err := j.Apply(bg, journal.Change{PayoutID: "b", To: journal.Submitted, Status: st}); err == nil {
		t.Fatal("one session must not belong to two payouts")
	}
	if it, _ := j.Item(bg, "b"); it.State != journal.Sending {
		t.Fatalf("b is %s after a refused change", it.State)
	}
	// The same id at another provider is another payout's.
	if err := j.Apply(bg, journal.Change{PayoutID: "c", To: journal.Submitted, Status: st}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := j.PayoutByRef(bg, "smartglocal", "ps_1"); got != "c" {
		t.Fatalf("smartglocal ps_1 -> %q", got)
	}
	// A later status without references keeps those known.
	if err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Succeeded, Status: &providers.Status{Outcome: providers.Succeeded, URL: "u"}}); err != nil {
		t.Fatal(err)
	}
	it, _ := j.Item(bg, "a")
	if it.Refs.SessionID != "ps_1" || it.Refs.ProviderID != "po_1" || it.Last.Outcome != providers.Succeeded || it.Last.Refs.SessionID != "ps_1" {
		t.Fatalf("refs %+v last %+v", it.Refs, it.Last)
	}
}

func concurrentWriters(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	const n = 300
	items := make([]journal.Item, n)
	for i := range items {
		items[i] = Item(fmt.Sprintf("p%04d", i), "teemopay", providers.BankTransfer, 100, "PEN")
	}
	Import(t, j, "B1", items...)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		id := items[i].PayoutID
		wg.Go(func() {
			for _, s := range []journal.State{journal.Queued, journal.Sending, journal.Submitted, journal.Succeeded} {
				if err := j.Apply(bg, journal.Change{PayoutID: id, To: s}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	open := 0
	_ = j.OpenItems(bg, func(journal.Item) bool { open++; return true })
	if open != 0 {
		t.Fatalf("%d items still open", open)
	}
	moves := 0
	_ = j.Transitions(bg, "", func(journal.Transition) bool { moves++; return true })
	if moves != 4*n {
		t.Fatalf("%d transitions, want %d", moves, 4*n)
	}
}

func ownersAndOpenIndex(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	a := Item("a", "teemopay", providers.BankTransfer, 1234, "PEN")
	b := Item("b", "monnet", providers.BankTransfer, 99, "USD")
	b.State = journal.Succeeded
	Import(t, j, "B1", a, b)
	got, err := j.Owners(bg, []string{"a", "b", "zz"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]journal.Owner{
		"a": {BatchID: "B1", Row: 2, Provider: "teemopay", Currency: "PEN", Method: "bank_transfer", Amount: 1234},
		"b": {BatchID: "B1", Row: 3, Provider: "monnet", Currency: "USD", Method: "bank_transfer", Amount: 99},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("owners = %v, want %v", got, want)
	}
	var ids []string
	_ = j.OpenItems(bg, func(it journal.Item) bool { ids = append(ids, it.PayoutID); return true })
	if strings.Join(ids, ",") != "a" {
		t.Fatalf("open items %v, want [a]", ids)
	}
	// Iteration stops when fn says so.
	Import(t, j, "B2", Item("c", "teemopay", providers.BankTransfer, 1, "PEN"), Item("d", "teemopay", providers.BankTransfer, 1, "PEN"))
	n := 0
	_ = j.AllItems(bg, func(journal.Item) bool { n++; return false })
	m := 0
	_ = j.BatchItems(bg, "B2", func(journal.Item) bool { m++; return false })
	if n != 1 || m != 1 {
		t.Fatalf("iterations did not stop: %d, %d", n, m)
	}
	var rows []int
	_ = j.BatchItems(bg, "B1", func(it journal.Item) bool { rows = append(rows, it.Row); return true })
	if fmt.Sprint(rows) != "[2 3]" {
		t.Fatalf("rows %v", rows)
	}
}

func importRefuses(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1", Item("a", "teemopay", providers.BankTransfer, 1, "PEN"))
	before := Dump(t, j)
	err := j.Import(bg, journal.Batch{ID: "B2"}, []journal.Item{{PayoutID: "a", Provider: "teemopay", Row: 2}})
	if err == nil {
		t.Fatal("a payout_id journaled twice")
	}
	if after := Dump(t, j); after != before {
		t.Fatalf("a refused import changed the journal:\n%s\n---\n%s", before, after)
	}
}

func updateKeepsTheState(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1", Item("a", "teemopay", providers.BankTransfer, 1, "PEN"))
	if err := j.Update(bg, "a", func(x *journal.Item) { x.Polls = 3; x.Conflict = "poller says failed" }); err != nil {
		t.Fatal(err)
	}
	it, _ := j.Item(bg, "a")
	if it.Polls != 3 || it.Conflict != "poller says failed" || it.State != journal.Accepted {
		t.Fatalf("%+v", it)
	}
	if err := j.Update(bg, "nobody", func(*journal.Item) {}); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := j.Item(bg, "nobody"); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
}

func cancelledContextWritesNothing(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1", Item("a", "teemopay", providers.BankTransfer, 1, "PEN"))
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := j.Apply(ctx, journal.Change{PayoutID: "a", To: journal.Queued}); err == nil {
		t.Fatal("a write under a cancelled context succeeded")
	}
	if it, _ := j.Item(bg, "a"); it.State != journal.Accepted {
		t.Fatalf("a is %s", it.State)
	}
}

// A card number a provider echoes (in an answer, a reason, a status) is
// masked before it is stored.
const testPAN = "4111111111111111"

func noCardNumberInPayloads(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	Import(t, j, "B1", Item("a", "bank131", providers.CardToken, 1, "RUB"))
	st := &providers.Status{Outcome: providers.Failed, Message: "card 4111 1111 1111 1111 declined", RawStatus: "x", Recipient: testPAN,
		Code: testPAN}
	err := j.Apply(bg, journal.Change{PayoutID: "a", To: journal.Queued},
		journal.Change{PayoutID: "a", To: journal.Sending},
		journal.Change{PayoutID: "a", To: journal.Failed, Status: st, Reason: "declined " + testPAN,
			Payload: []byte(`{"card":{"number":"` + testPAN + `"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d := Dump(t, j); strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(d), testPAN) {
		t.Fatalf("a card number is stored:\n%s", d)
	}
}

func applyStatusRules(t *testing.T, h Harness) {
	j, _, _ := open(t, h)
	it := Item("a", "bank131", providers.CardToken, 100, "RUB")
	it.State = journal.Submitted
	it.Refs.SessionID = "ps_1"
	Import(t, j, "B1", it)
	// A fact about another session never speaks for the payout.
	other := providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{SessionID: "ps_2"}}
	if ok, err := journal.ApplyStatus(bg, j, "a", "test", other); ok || err != nil {
		t.Fatalf("other session applied: %v %v", ok, err)
	}
	mine := providers.Status{Outcome: providers.Succeeded, Refs: providers.Refs{SessionID: "ps_1"}}
	if ok, err := journal.ApplyStatus(bg, j, "a", "test", mine); !ok || err != nil {
		t.Fatalf("own session: %v %v", ok, err)
	}
	// Final states never regress.
	if ok, err := journal.ApplyStatus(bg, j, "a", "test", providers.Status{Outcome: providers.Failed}); ok || err != nil {
		t.Fatalf("regressed: %v %v", ok, err)
	}
	if got, _ := j.Item(bg, "a"); got.State != journal.Succeeded {
		t.Fatalf("a is %s", got.State)
	}
	// A success with another amount or currency than the input's is a
	// mismatch for review, never a success; the same amount in another
	// case of the currency code is not.
	for id, paid := range map[string]money.Money{"b": {Minor: 101, Currency: "RUB"}, "c": {Minor: 100, Currency: "USD"}, "d": {Minor: 100, Currency: "rub"}} {
		it := Item(id, "bank131", providers.CardToken, 100, "RUB")
		it.State = journal.Submitted
		Import(t, j, "B-"+id, it)
		if ok, err := journal.ApplyStatus(bg, j, id, "test", providers.Status{Outcome: providers.Succeeded, Amount: paid}); !ok || err != nil {
			t.Fatalf("%s: %v %v", id, ok, err)
		}
		want := journal.Mismatch
		if id == "d" {
			want = journal.Succeeded
		}
		if got, _ := j.Item(bg, id); got.State != want {
			t.Errorf("%s paid %s is %s, want %s", id, paid, got.State, want)
		}
	}
}

package journaltest

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/payrun/payrun/journal"
)

// Store is one empty store a driver made for a test. Open opens it; after
// Close it may be opened again, to see what survives a restart. The suite
// closes what it opens.
type Store interface {
	Open() (journal.Journal, error)
}

// Harness is what a driver's test gives the suite.
type Harness struct {
	// Fresh makes a new, empty store whose journals use the clock now.
	Fresh func(t testing.TB, now func() time.Time) Store
	// Newer, when set, marks a store as written by a newer payrun; the
	// suite then requires Open to refuse it with journal.ErrSchema.
	Newer func(t testing.TB, s Store)
	// Other, when set, makes a new, empty store of another driver: the
	// copy cases then copy to it and back (`payrun journal copy` from one
	// driver to the other), besides within the driver.
	Other func(t testing.TB, now func() time.Time) Store
}

// Exercise runs every behaviour the journal contract promises against a
// driver and logs how many cases ran. Every driver's test calls it:
//
//	func TestConformance(t *testing.T) {
//		journaltest.Exercise(t, journaltest.Harness{Fresh: freshStore})
//	}
func Exercise(t *testing.T, h Harness) {
	var n atomic.Int32
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n.Add(1)
			c.run(t, h)
		})
	}
	t.Logf("journal conformance: %d cases", n.Load())
}

type testCase struct {
	name string
	run  func(t *testing.T, h Harness)
}

// cases are registered by the files of this package, one file a part of
// the contract.
var cases []testCase

func register(name string, run func(t *testing.T, h Harness)) {
	cases = append(cases, testCase{name, run})
}

var bg = context.Background()

// clock is a settable clock for a test.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.t.Store(time.Date(2026, 11, 21, 18, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d)) }

// open makes a fresh store with a settable clock and opens it; the journal
// is closed when the test ends.
func open(t *testing.T, h Harness) (journal.Journal, Store, *clock) {
	t.Helper()
	c := newClock()
	s := h.Fresh(t, c.now)
	return reopen(t, s), s, c
}

// reopen opens s; the journal is closed when the test ends, unless the
// test closed it first.
func reopen(t *testing.T, s Store) journal.Journal {
	t.Helper()
	j, err := s.Open()
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { _ = j.Close() }) })
	return &closeOnce{Journal: j, once: &once}
}

// closeOnce closes its journal once, whether the test or the clean-up
// closes it first.
type closeOnce struct {
	journal.Journal
	once *sync.Once
}

func (c *closeOnce) Close() error {
	var err error
	c.once.Do(func() { err = c.Journal.Close() })
	return err
}

// Dump describes everything a journal holds that a user can see (batches,
// items, rejected rows, events, facts, mail, the transition log), in a
// stable order and without the driver's own sequences: two journals with
// equal dumps hold the same facts. It is what `payrun journal copy` is
// checked with.
func Dump(t testing.TB, j journal.Journal) string {
	t.Helper()
	var b strings.Builder
	line := func(kind string, v any) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(kind)
		b.WriteByte(' ')
		b.Write(raw)
		b.WriteByte('\n')
	}
	bs, err := j.ListBatches(bg)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(bs, func(x, y int) bool { return bs[x].ID < bs[y].ID })
	for _, x := range bs {
		line("batch", x)
		if err := j.RejectedRows(bg, x.ID, func(r journal.RejectedRow) bool { line("rejected", r); return true }); err != nil {
			t.Fatal(err)
		}
		if err := j.BatchItems(bg, x.ID, func(it journal.Item) bool { line("row", []any{it.Row, it.PayoutID}); return true }); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.AllItems(bg, func(it journal.Item) bool { line("item", it); return true }); err != nil {
		t.Fatal(err)
	}
	var log []string
	if err := j.Transitions(bg, "", func(tr journal.Transition) bool {
		tr.Seq = 0
		raw, _ := json.Marshal(tr)
		log = append(log, string(raw))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(log) // drivers order concurrent writers differently
	for _, l := range log {
		b.WriteString("transition " + l + "\n")
	}
	var evs []string
	if err := j.ListEvents(bg, func(ev journal.Event) bool {
		raw, _ := json.Marshal(ev)
		evs = append(evs, string(raw))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(evs)
	for _, e := range evs {
		b.WriteString("event " + e + "\n")
	}
	var facts []string
	if err := j.EventFacts(bg, func(f journal.EventFact) bool {
		raw, _ := json.Marshal(f)
		facts = append(facts, string(raw))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(facts)
	for _, f := range facts {
		b.WriteString("fact " + f + "\n")
	}
	mail, err := j.PendingMail(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mail {
		line("mail", m)
	}
	q, err := j.Queued(bg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "queued %d\n", q)
	return b.String()
}

// unwrap returns the driver's own journal behind the suite's wrapper.
func unwrap(j journal.Journal) journal.Journal {
	if c, ok := j.(*closeOnce); ok {
		return c.Journal
	}
	return j
}

package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
)

// monnetDirect is a receiver for Monnet over a journal, without a sandbox:
// notifications are signed here and handed to ServeHTTP.
type monnetDirect struct {
	t     *testing.T
	j     journal.Journal
	rc    *Receiver
	sign  func(body string) http.Header
	mid   string
	provs map[string]providers.Provider
	// log is what the receiver's Applier told the operator.
	log *syncBuffer
}

// syncBuffer is a bytes.Buffer a logger writes to from the Applier's
// goroutine while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newMonnetDirect(t *testing.T) *monnetDirect {
	t.Helper()
	p, creds, err := monnetClient(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	j := testjournal.Open(t, nil)
	m := &monnetDirect{t: t, j: j, mid: creds.MerchantID, provs: map[string]providers.Provider{"monnet": p},
		log: &syncBuffer{}}
	m.rc = NewReceiver(j, m.provs, ReceiverOptions{Log: slog.New(slog.NewTextHandler(m.log, nil))})
	if err := m.rc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.rc.Stop)
	m.sign = func(body string) http.Header {
		sig, err := monnet.SignNotification(creds.NotifierKey, creds.MerchantID, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("verification", sig)
		return h
	}
	return m
}

// notification is a Monnet payout notification about orderID.
func (m *monnetDirect) notification(orderID, monnetID, stage, status string) string {
	return monnetNotification(m.mid, monnetID, orderID, stage, status, "1")
}

// monnetNotification is a Monnet payout notification of 15.00 PEN, unsigned.
func monnetNotification(merchantID, monnetID, orderID, stage, status, authorization string) string {
	return fmt.Sprintf(`{"payout":{"merchantId":"%s","id":"%s","orderId":"%s","amount":"1500","currency":"PEN","name":"Ana Quispe"},`+
		`"output":{"stage":"%s","status":"%s","statusChangeDateTime":"20261121180000","authorizationCode":"%s"}}`,
		merchantID, monnetID, orderID, stage, status, authorization)
}

func (m *monnetDirect) post(body string, h http.Header) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/monnet", strings.NewReader(body))
	req.Header = h
	req.SetPathValue("provider", "monnet")
	w := httptest.NewRecorder()
	m.rc.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// add imports one Monnet payout of 15.00 in state st, in a batch of its
// own.
func (m *monnetDirect) add(id string, st journal.State) {
	m.t.Helper()
	importMonnet(m.t, m.j, "b-"+id, id, st)
}

// importMonnet journals, in a batch of its own, one Monnet payout of 15.00
// in state st.
func importMonnet(t *testing.T, j journal.Journal, batchID, id string, st journal.State) {
	t.Helper()
	it := journaltest.ValidItem(id, "monnet", 1500)
	it.State = st
	journaltest.Import(t, j, batchID, it)
}

// succeeded counts a payout's transitions to succeeded.
func (m *monnetDirect) succeeded(id string) int {
	n := 0
	_ = m.j.Transitions(ctx, id, func(tr journal.Transition) bool {
		if tr.To == journal.Succeeded {
			n++
		}
		return true
	})
	return n
}

// drain waits for the receiver's Applier to apply what was acknowledged.
func (m *monnetDirect) drain() {
	m.t.Helper()
	if err := m.rc.Drain(context.Background()); err != nil {
		m.t.Fatal(err)
	}
}

func (m *monnetDirect) event(body string) journal.Event {
	m.t.Helper()
	ev, ok, err := m.j.Event(ctx, "monnet", monnet.EventID([]byte(body)))
	if err != nil || !ok {
		m.t.Fatalf("event not stored: %v", err)
	}
	return ev
}

func (m *monnetDirect) fact(body string) journal.EventFact {
	m.t.Helper()
	var out journal.EventFact
	found := false
	_ = m.j.EventFacts(ctx, func(f journal.EventFact) bool {
		if f.EventID == monnet.EventID([]byte(body)) {
			out, found = f, true
		}
		return true
	})
	if !found {
		m.t.Fatal("no fact recorded")
	}
	return out
}

// TestReceiverCommonPath: a notification delivered 32 times at once is
// stored before any of the deliveries is acknowledged, queued once, and
// moves its payout once, with its fact.
func TestReceiverCommonPath(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	m.add("m-1", journal.Submitted)
	body := m.notification("m-1", "90001", "SUCCESS", "PROCESSED")
	h := m.sign(body)
	var wg sync.WaitGroup
	codes := make([]int, 32)
	for i := range codes {
		wg.Go(func() {
			codes[i], _ = m.post(body, h)
			// Acknowledged means persisted: the journal already has it.
			if _, ok, err := m.j.Event(ctx, "monnet", monnet.EventID([]byte(body))); codes[i] == http.StatusOK && (!ok || err != nil) {
				t.Errorf("acknowledged before the event was stored (%v)", err)
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d answered %d", i, c)
		}
	}
	m.drain()
	got, _ := m.j.Item(ctx, "m-1")
	if got.State != journal.Succeeded || got.Refs.ProviderID != "90001" {
		t.Fatalf("item %s refs %+v, want succeeded with Monnet's id", got.State, got.Refs)
	}
	if n := m.succeeded("m-1"); n != 1 {
		t.Errorf("%d transitions to succeeded, want 1", n)
	}
	if ev := m.event(body); !ev.Applied || ev.Note != "" || !bytes.Equal(ev.Body, []byte(body)) {
		t.Errorf("event applied %v note %q", ev.Applied, ev.Note)
	}
	if f := m.fact(body); !f.Applied || f.Status.Outcome != providers.Succeeded || f.Received.IsZero() {
		t.Errorf("fact %+v", f)
	}
}

// TestReceiverConflictAndUnexpected: a success for a payout the journal
// has as failed is a status conflict recorded on the item (which stays
// failed), and a notification about a payout payrun never sent is kept
// with its note.
func TestReceiverConflictAndUnexpected(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	m.add("m-1", journal.Failed)

	paid := m.notification("m-1", "90001", "SUCCESS", "PROCESSED")
	if code, answer := m.post(paid, m.sign(paid)); code != http.StatusOK {
		t.Fatalf("answered %d %q", code, answer)
	}
	m.drain()
	got, _ := m.j.Item(ctx, "m-1")
	if got.State != journal.Failed || !strings.Contains(got.Conflict, "webhook says succeeded") {
		t.Errorf("item %s conflict %q, want failed with the conflict recorded", got.State, got.Conflict)
	}
	if ev := m.event(paid); ev.Applied || !strings.HasPrefix(ev.Note, NoteConflict) {
		t.Errorf("event applied %v note %q, want a conflict note", ev.Applied, ev.Note)
	}
	if log := m.log.String(); !strings.Contains(log, `msg="status conflict" provider=monnet payout=m-1`) {
		t.Errorf("the operator's log does not tell of the conflict:\n%s", log)
	}

	ghost := m.notification("ghost-1", "90002", "SUCCESS", "PROCESSED")
	if code, _ := m.post(ghost, m.sign(ghost)); code != http.StatusOK {
		t.Fatalf("unexpected payout answered %d", code)
	}
	m.drain()
	if ev := m.event(ghost); ev.Applied || ev.Note != NoteUnexpected {
		t.Errorf("ghost event applied %v note %q", ev.Applied, ev.Note)
	}
	if f := m.fact(ghost); f.Note != NoteUnexpected || f.Status.Refs.PayoutID != "ghost-1" {
		t.Errorf("ghost fact %+v", f)
	}
	if log := m.log.String(); !strings.Contains(log, `msg="webhook for a payout payrun never sent" provider=monnet payout=ghost-1`) {
		t.Errorf("the operator's log does not tell of the unexpected payout:\n%s", log)
	}
}

// TestReceiverCrashAfterAck: notifications acknowledged by a receiver
// whose Applier never ran (a process killed between the acknowledgement
// and the application) are applied, once each, by the next receiver on
// the journal as soon as it starts; their redeliveries change nothing.
func TestReceiverCrashAfterAck(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	var bodies []string
	for i := range 5 {
		id := fmt.Sprintf("m-%d", i)
		m.add(id, journal.Submitted)
		bodies = append(bodies, m.notification(id, fmt.Sprint(90000+i), "SUCCESS", "PROCESSED"))
	}
	m.rc.Stop() // the Applier is gone; the receiver still acknowledges
	for _, b := range bodies {
		if code, answer := m.post(b, m.sign(b)); code != http.StatusOK {
			t.Fatalf("answered %d %q", code, answer)
		}
	}
	if n, err := m.j.Queued(ctx); err != nil || n != len(bodies) {
		t.Fatalf("%d queued (%v), want %d", n, err, len(bodies))
	}
	for i := range bodies {
		if it, _ := m.j.Item(ctx, fmt.Sprintf("m-%d", i)); it.State != journal.Submitted {
			t.Fatalf("m-%d is %s before any Applier ran", i, it.State)
		}
	}

	next := NewReceiver(m.j, m.provs, ReceiverOptions{})
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	m.rc = next
	// Sooner than the Applier's retry: the next receiver drains what it
	// finds queued when it starts.
	eventually(t, retryEvery/2, "the next receiver to apply the queue", func() bool {
		n, err := m.j.Queued(ctx)
		return err == nil && n == 0
	})
	for _, b := range bodies { // the providers deliver again
		if code, _ := m.post(b, m.sign(b)); code != http.StatusOK {
			t.Fatalf("redelivery answered %d", code)
		}
	}
	if err := next.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		id := fmt.Sprintf("m-%d", i)
		n := m.succeeded(id)
		if it, _ := m.j.Item(ctx, id); it.State != journal.Succeeded || n != 1 {
			t.Errorf("%s: %s after %d transitions to succeeded, want succeeded after 1", id, it.State, n)
		}
		if ev := m.event(b); !ev.Applied {
			t.Errorf("%s: event not marked applied", id)
		}
	}
}

// TestApplierOnItsOwn: without Drain, the receiver's Applier applies what
// was acknowledged once deliveries pause, and, while they keep coming
// (deliveries back to back for longer than applyMaxLag), applies
// during the storm rather than only after it.
func TestApplierOnItsOwn(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	applied := func(id string) bool {
		it, err := m.j.Item(ctx, id)
		return err == nil && it.State == journal.Succeeded
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		eventually(t, 10*time.Second, "applied: "+what, ok)
	}
	m.add("q-0", journal.Submitted)
	body := m.notification("q-0", "91000", "SUCCESS", "PROCESSED")
	if code, _ := m.post(body, m.sign(body)); code != http.StatusOK {
		t.Fatalf("answered %d", code)
	}
	wait("one delivery", func() bool { return applied("q-0") })

	// A storm: the first payout's event must be applied while the later
	// ones are still being delivered.
	const storm = 3 * applyMaxLag
	m.add("q-1", journal.Submitted)
	start, appliedDuring := time.Now(), false
	for i := 1; time.Since(start) < storm; i++ {
		id := fmt.Sprintf("q-%d", i)
		if i > 1 {
			m.add(id, journal.Submitted)
		}
		body := m.notification(id, fmt.Sprint(91000+i), "SUCCESS", "PROCESSED")
		if code, _ := m.post(body, m.sign(body)); code != http.StatusOK {
			t.Fatalf("delivery %d answered %d", i, code)
		}
		appliedDuring = appliedDuring || applied("q-1")
	}
	if !appliedDuring {
		t.Errorf("nothing applied during a storm of %v (max lag %v)", storm, applyMaxLag)
	}
	wait("the storm", func() bool { n, err := m.j.Queued(ctx); return err == nil && n == 0 })
}

// TestDrainStopsWithItsContext: a Drain whose context has ended applies
// nothing more and says why; what is queued stays queued, for the next.
func TestDrainStopsWithItsContext(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	m.rc.Stop() // the receiver's own Applier is gone
	for i := range 3 {
		id := fmt.Sprintf("m-%d", i)
		m.add(id, journal.Submitted)
		b := m.notification(id, fmt.Sprint(91000+i), "SUCCESS", "PROCESSED")
		if code, answer := m.post(b, m.sign(b)); code != http.StatusOK {
			t.Fatalf("answered %d %q", code, answer)
		}
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewApplier(m.j, m.provs, nil).Drain(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain with its context ended: %v, want context.Canceled", err)
	}
	if n, err := m.j.Queued(ctx); err != nil || n != 3 {
		t.Fatalf("%d queued after the stopped Drain (%v), want 3", n, err)
	}
	if err := NewApplier(m.j, m.provs, nil).Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := m.j.Queued(ctx); err != nil || n != 0 {
		t.Fatalf("%d queued after the next Drain (%v), want 0", n, err)
	}
}

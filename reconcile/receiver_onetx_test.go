package reconcile

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/batch/batchtest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
	monnetsandbox "github.com/payrun/payrun/providers/monnet/sandbox"
)

// monnetDirect is a receiver for Monnet over a journal, without a sandbox:
// notifications are signed here and handed to ServeHTTP.
type monnetDirect struct {
	t    *testing.T
	j    *batch.Journal
	rc   *Receiver
	sign func(body string) http.Header
	mid  string
}

func newMonnetDirect(t *testing.T) *monnetDirect {
	t.Helper()
	creds, err := monnetsandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := creds.WriteFiles(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	p, err := monnet.New(cfg, providers.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	j := batchtest.Journal(t, nil)
	m := &monnetDirect{t: t, j: j, mid: creds.MerchantID,
		rc: NewReceiver(j, map[string]providers.Provider{"monnet": p}, ReceiverOptions{})}
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
	return fmt.Sprintf(`{"payout":{"merchantId":"%s","id":"%s","orderId":"%s","amount":"1500","currency":"PEN","name":"Ana Quispe"},`+
		`"output":{"stage":"%s","status":"%s","statusChangeDateTime":"20261121180000","authorizationCode":"1"}}`,
		m.mid, monnetID, orderID, stage, status)
}

func (m *monnetDirect) post(body string, h http.Header) (int, string) {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/monnet", strings.NewReader(body))
	req.Header = h
	req.SetPathValue("provider", "monnet")
	w := httptest.NewRecorder()
	m.rc.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

func (m *monnetDirect) event(body string) batch.Event {
	m.t.Helper()
	ev, ok, err := m.j.Event("monnet", monnet.EventID([]byte(body)))
	if err != nil || !ok {
		m.t.Fatalf("event not stored: %v", err)
	}
	return ev
}

func (m *monnetDirect) fact(body string) batch.EventFact {
	m.t.Helper()
	var out batch.EventFact
	found := false
	_ = m.j.EventFacts(func(f batch.EventFact) {
		if f.EventID == monnet.EventID([]byte(body)) {
			out, found = f, true
		}
	})
	if !found {
		m.t.Fatal("no fact recorded")
	}
	return out
}

// TestReceiverCommonPath: a notification delivered 32 times at once is
// stored once and moves its payout once, with its fact, before any of the
// deliveries is acknowledged.
func TestReceiverCommonPath(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	it := batchtest.ValidItem("m-1", "monnet", 1500)
	it.State = batch.Submitted
	batchtest.Import(t, m.j, "b1", it)
	body := m.notification("m-1", "90001", "SUCCESS", "PROCESSED")
	h := m.sign(body)
	var wg sync.WaitGroup
	codes := make([]int, 32)
	for i := range codes {
		wg.Go(func() {
			codes[i], _ = m.post(body, h)
			// Acknowledged means applied: the journal already says so.
			if got, _ := m.j.Item("m-1"); codes[i] == http.StatusOK && got.State != batch.Succeeded {
				t.Errorf("acknowledged with the payout %s", got.State)
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("delivery %d answered %d", i, c)
		}
	}
	got, _ := m.j.Item("m-1")
	if got.State != batch.Succeeded || got.Refs.ProviderID != "90001" {
		t.Fatalf("item %s refs %+v, want succeeded with Monnet's id", got.State, got.Refs)
	}
	n := 0
	_ = m.j.Transitions("m-1", func(tr batch.Transition) {
		if tr.To == batch.Succeeded {
			n++
		}
	})
	if n != 1 {
		t.Errorf("%d transitions to succeeded, want 1", n)
	}
	if ev := m.event(body); !ev.Applied || ev.Note != "" || !bytes.Equal(ev.Body, []byte(body)) {
		t.Errorf("event applied %v note %q", ev.Applied, ev.Note)
	}
	if f := m.fact(body); !f.Applied || f.Status.Outcome != providers.Succeeded || f.Received.IsZero() {
		t.Errorf("fact %+v", f)
	}
}

// TestReceiverConflictAndUnexpected: on the common path a success for a
// payout the journal has as failed is a status conflict recorded on the
// item (which stays failed), and a notification about a payout payrun
// never sent is kept with its note.
func TestReceiverConflictAndUnexpected(t *testing.T) {
	t.Parallel()
	m := newMonnetDirect(t)
	it := batchtest.ValidItem("m-1", "monnet", 1500)
	it.State = batch.Failed
	batchtest.Import(t, m.j, "b1", it)

	paid := m.notification("m-1", "90001", "SUCCESS", "PROCESSED")
	if code, answer := m.post(paid, m.sign(paid)); code != http.StatusOK {
		t.Fatalf("answered %d %q", code, answer)
	}
	got, _ := m.j.Item("m-1")
	if got.State != batch.Failed || !strings.Contains(got.Conflict, "webhook says succeeded") {
		t.Errorf("item %s conflict %q, want failed with the conflict recorded", got.State, got.Conflict)
	}
	if ev := m.event(paid); ev.Applied || !strings.HasPrefix(ev.Note, NoteConflict) {
		t.Errorf("event applied %v note %q, want a conflict note", ev.Applied, ev.Note)
	}

	ghost := m.notification("ghost-1", "90002", "SUCCESS", "PROCESSED")
	if code, _ := m.post(ghost, m.sign(ghost)); code != http.StatusOK {
		t.Fatalf("unexpected payout answered %d", code)
	}
	if ev := m.event(ghost); ev.Applied || ev.Note != NoteUnexpected {
		t.Errorf("ghost event applied %v note %q", ev.Applied, ev.Note)
	}
	if f := m.fact(ghost); f.Note != NoteUnexpected || f.Status.Refs.PayoutID != "ghost-1" {
		t.Errorf("ghost fact %+v", f)
	}
}

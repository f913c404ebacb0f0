package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
	"github.com/payrun/payrun/providers/sandboxes"
)

// delivery is one webhook request as it reached the receiver.
type delivery struct {
	Provider string
	Header   http.Header
	Body     []byte
	Status   int
	Answer   string
}

// tap sits in front of the receiver: it records every delivery, and can
// refuse some (503, as a receiver that is down) so that the provider
// retries them later.
type tap struct {
	next http.Handler

	mu  sync.Mutex
	got []delivery
	// refuse is called under mu.
	refuse func(provider string, body []byte) bool
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	tp.mu.Lock()
	refused := tp.refuse != nil && tp.refuse(name, body)
	tp.mu.Unlock()
	if refused {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	tp.next.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	tp.mu.Lock()
	tp.got = append(tp.got, delivery{Provider: name, Header: r.Header.Clone(), Body: body, Status: rec.Code, Answer: rec.Body.String()})
	tp.mu.Unlock()
}

func (tp *tap) deliveries(provider string) []delivery {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	var out []delivery
	for _, d := range tp.got {
		if provider == "" || d.Provider == provider {
			out = append(out, d)
		}
	}
	return out
}

// harness is a journal, the real sandboxes on loopback, real clients, and
// the receiver under test served by httptest, with the sandboxes' webhooks
// pointed at it.
type harness struct {
	t     *testing.T
	land  *sandboxes.Landscape
	j     journal.Journal
	provs map[string]providers.Provider
	recv  *Receiver
	tap   *tap
	srv   *httptest.Server
	base  string // the receiver's /webhooks/ URL
}

func setup(t *testing.T, only ...string) *harness {
	t.Helper()
	return setupWith(t, ReceiverOptions{MaxBody: 64 << 10}, only...)
}

// setupWith is setup with the receiver's options.
func setupWith(t *testing.T, o ReceiverOptions, only ...string) *harness {
	t.Helper()
	h := &harness{t: t, j: testjournal.Open(t, nil), provs: map[string]providers.Provider{}}
	l, err := sandboxes.Start(sandboxes.Options{Dir: t.TempDir(), Only: only, Seed: 7})
	if err != nil {
		t.Fatalf("start sandboxes: %v", err)
	}
	h.land = l
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	for _, reg := range all.Registrations() {
		cfg, ok := l.Configs[reg.Name]
		if !ok {
			continue
		}
		p, err := reg.New(cfg, providers.Deps{HTTP: hc, Now: l.Kit(reg.Name).Clock.Now})
		if err != nil {
			l.Close()
			t.Fatalf("client %s: %v", reg.Name, err)
		}
		h.provs[reg.Name] = p
	}
	h.recv = NewReceiver(h.j, h.provs, o)
	if err := h.recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.tap = &tap{next: h.recv.Handler()}
	h.srv = httptest.NewServer(h.tap)
	h.base = h.srv.URL + "/webhooks/"
	l.SetWebhookBase(h.base)
	t.Cleanup(func() {
		l.Close()
		h.srv.Close()
		h.recv.Stop()
		tr.CloseIdleConnections()
	})
	return h
}

// dispatch imports items as a batch and sends them with the real
// dispatcher.
func (h *harness) dispatch(id string, items ...journal.Item) {
	h.t.Helper()
	journaltest.Import(h.t, h.j, id, items...)
	d := dispatch.NewDispatcher(h.j, h.provs, dispatch.DispatchOptions{RequestTimeout: 5 * time.Second, ResendAfter: time.Millisecond})
	if _, err := d.Run(context.Background(), []string{id}, nil); err != nil {
		h.t.Fatalf("dispatch %s: %v", id, err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		<-tick.C
	}
}

func (h *harness) item(id string) journal.Item {
	h.t.Helper()
	it, err := h.j.Item(ctx, id)
	if err != nil {
		h.t.Fatalf("item %s: %v", id, err)
	}
	return it
}

func (h *harness) waitState(id string, want journal.State) {
	h.t.Helper()
	eventually(h.t, 15*time.Second, id+" to be "+string(want), func() bool { return h.item(id).State == want })
}

func (h *harness) events() []journal.Event {
	var out []journal.Event
	if err := h.j.ListEvents(ctx, func(ev journal.Event) bool { out = append(out, ev); return true }); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// snapshot is the journal's items, transitions and events as JSON, to
// prove that a refused request changed nothing: taken once the receiver
// has applied everything it acknowledged.
func (h *harness) snapshot() string {
	h.t.Helper()
	if err := h.recv.Drain(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	var parts []string
	err := h.j.AllItems(ctx, func(it journal.Item) bool {
		b, _ := json.Marshal(it)
		parts = append(parts, string(b))
		return true
	})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, ev := range h.events() {
		b, _ := json.Marshal(ev)
		parts = append(parts, string(b))
	}
	_ = h.j.Transitions(ctx, "", func(tr journal.Transition) bool {
		b, _ := json.Marshal(tr)
		parts = append(parts, string(b))
		return true
	})
	_ = h.j.EventFacts(ctx, func(f journal.EventFact) bool {
		b, _ := json.Marshal(f)
		parts = append(parts, string(b))
		return true
	})
	sort.Strings(parts)
	return strings.Join(parts, "\n")
}

// post sends a request to the receiver and returns the status and body.
func (h *harness) post(provider string, header http.Header, body io.Reader) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+provider, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// transitionsTo counts a payout's transitions into a state.
func (h *harness) transitionsTo(id string, to journal.State) int {
	n := 0
	_ = h.j.Transitions(ctx, id, func(tr journal.Transition) bool {
		if tr.To == to && tr.From != to {
			n++
		}
		return true
	})
	return n
}

// settle waits until every sandbox has delivered what it scheduled and
// every stored event has been applied or noted.
func (h *harness) settle() {
	h.t.Helper()
	eventually(h.t, 15*time.Second, "webhooks to settle", func() bool {
		for _, n := range h.land.Names() {
			if !h.land.Kit(n).Notifier.Idle() {
				return false
			}
		}
		for _, ev := range h.events() {
			if !ev.Applied && ev.Note == "" {
				return false
			}
		}
		return true
	})
}

// firstDiff returns the first line that differs between two snapshots.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "before: " + x + "\nafter:  " + y
		}
	}
	return ""
}

package providertest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// RunTwoPhase is the conformance extension for two-phase providers
// (providers.Confirmer: Bank 131, Smart Glocal). It
// checks, against the sandbox's ledger rather than the client's word:
//
//   - ready_to_confirm: a submitted payout reaches AwaitingConfirmation both
//     by webhook and by status query, with its amount, and stays unpaid
//     however long nobody confirms it;
//   - confirm_pays_once: Confirm moves the money exactly once, also when it is
//     repeated;
//   - cancel_moves_nothing: Cancel ends the payout with no money moved, and a
//     later Confirm cannot revive it;
//   - duplicate_refused: the same payout submitted again (same idempotency
//     key) is refused with ErrDuplicate and no second session pays.
//
// The factory is the one Run uses. RunTwoPhase sets the kit's
// ProcessingDelay to a few milliseconds so that the suite runs quickly.
func RunTwoPhase(t *testing.T, f Factory) {
	t.Run("ready_to_confirm", func(t *testing.T) {
		tp := newTwoPhase(t, f)
		p := tp.h.NewPayout("tp-ready-1")
		st := tp.submit(p)
		ev := tp.waitEvent(p.ID, providers.AwaitingConfirmation)
		if !sameMoney(ev.Status.Amount, p) {
			t.Errorf("ready_to_confirm webhook amount %+v, want %+v", ev.Status.Amount, p.Amount)
		}
		got := tp.waitStatus(st.Refs, providers.AwaitingConfirmation)
		if !sameMoney(got.Amount, p) {
			t.Errorf("status amount %+v, want %+v", got.Amount, p.Amount)
		}
		if got.Refs.SessionID == "" && got.Refs.ProviderID == "" {
			t.Errorf("awaiting status carries no provider refs: %+v", got.Refs)
		}
		tp.h.Kit.Clock.Advance(2 * time.Hour)
		if got := tp.lookup(st.Refs); got.Outcome != providers.AwaitingConfirmation {
			t.Errorf("unconfirmed payout after 2h: %s, want still %s", got.Outcome, providers.AwaitingConfirmation)
		}
		tp.checkPaid(p.ID, 0)
		if n := len(tp.entries(p.ID)); n != 1 {
			t.Errorf("ledger has %d entries for %s, want 1", n, p.ID)
		}
	})

	t.Run("confirm_pays_once", func(t *testing.T) {
		tp := newTwoPhase(t, f)
		p := tp.h.NewPayout("tp-confirm-1")
		st := tp.submit(p)
		ready := tp.waitStatus(st.Refs, providers.AwaitingConfirmation)
		tp.checkPaid(p.ID, 0)
		if _, err := tp.c.Confirm(tp.ctx, ready.Refs); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		tp.waitStatus(ready.Refs, providers.Succeeded)
		tp.waitEvent(p.ID, providers.Succeeded)
		tp.checkPaid(p.ID, 1)
		again, err := tp.c.Confirm(tp.ctx, ready.Refs)
		if err != nil {
			t.Fatalf("repeated confirm (must be idempotent): %v", err)
		}
		if again.Outcome != providers.Succeeded {
			t.Errorf("repeated confirm answered %s, want %s", again.Outcome, providers.Succeeded)
		}
		tp.h.Kit.Clock.Advance(time.Hour)
		tp.checkPaid(p.ID, 1)
	})

	t.Run("cancel_moves_nothing", func(t *testing.T) {
		tp := newTwoPhase(t, f)
		p := tp.h.NewPayout("tp-cancel-1")
		st := tp.submit(p)
		ready := tp.waitStatus(st.Refs, providers.AwaitingConfirmation)
		if _, err := tp.c.Cancel(tp.ctx, ready.Refs, "conformance: cancel"); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		tp.waitStatus(ready.Refs, providers.Cancelled)
		if st, err := tp.c.Confirm(tp.ctx, ready.Refs); err == nil && st.Outcome != providers.Cancelled {
			t.Errorf("confirm after cancel answered %s without error", st.Outcome)
		}
		tp.h.Kit.Clock.Advance(time.Hour)
		if got := tp.lookup(ready.Refs); got.Outcome != providers.Cancelled {
			t.Errorf("after cancel and a late confirm: %s, want %s", got.Outcome, providers.Cancelled)
		}
		tp.checkPaid(p.ID, 0)
		for _, e := range tp.entries(p.ID) {
			if e.State == "paid" || e.Executions != 0 {
				t.Errorf("cancelled payout moved money: %+v", e)
			}
		}
	})

	t.Run("duplicate_refused", func(t *testing.T) {
		tp := newTwoPhase(t, f)
		p := tp.h.NewPayout("tp-dup-1")
		st := tp.submit(p)
		dup, err := tp.h.Provider.Submit(tp.ctx, p)
		if !errors.Is(err, providers.ErrDuplicate) {
			t.Fatalf("second submit of %s: err %v, want ErrDuplicate", p.ID, err)
		}
		ready := tp.waitStatus(st.Refs, providers.AwaitingConfirmation)
		if dup.Refs.SessionID != "" && dup.Refs.SessionID != st.Refs.SessionID {
			// The refused request must not have created a payable session.
			if s, err := tp.c.Confirm(tp.ctx, dup.Refs); err == nil && s.Outcome != providers.Cancelled {
				t.Errorf("the duplicate's session %s accepted a confirm: %s", dup.Refs.SessionID, s.Outcome)
			}
		}
		if _, err := tp.c.Confirm(tp.ctx, ready.Refs); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		tp.waitStatus(ready.Refs, providers.Succeeded)
		tp.h.Kit.Clock.Advance(time.Hour)
		tp.checkPaid(p.ID, 1)
		if n := len(tp.entries(p.ID)); n != 1 {
			t.Errorf("ledger has %d entries for %s after a refused duplicate, want 1", n, p.ID)
		}
	})
}

type twoPhase struct {
	t    *testing.T
	ctx  context.Context
	h    Harness
	c    providers.Confirmer
	sink *twoPhaseSink
}

func newTwoPhase(t *testing.T, f Factory) *twoPhase {
	t.Helper()
	sink := &twoPhaseSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	h := f(t, srv.URL+"/webhook")
	if !providers.TwoPhase(h.Provider) {
		t.Fatalf("%s: RunTwoPhase needs a two-phase provider", h.Provider.Name())
	}
	c, ok := h.Provider.(providers.Confirmer)
	if !ok {
		t.Fatalf("%s: RunTwoPhase needs a providers.Confirmer", h.Provider.Name())
	}
	sink.set(h.Provider)
	h.Kit.SetFaults(sandboxkit.Faults{ProcessingDelay: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &twoPhase{t: t, ctx: ctx, h: h, c: c, sink: sink}
}

func (tp *twoPhase) submit(p providers.Payout) providers.Status {
	tp.t.Helper()
	st, err := tp.h.Provider.Submit(tp.ctx, p)
	if err != nil {
		tp.t.Fatalf("submit %s: %v", p.ID, err)
	}
	if st.Outcome.Final() {
		tp.t.Fatalf("submit %s: final outcome %s before any confirmation", p.ID, st.Outcome)
	}
	if st.Refs.PayoutID == "" {
		st.Refs.PayoutID = p.ID
	}
	return st
}

func (tp *twoPhase) lookup(refs providers.Refs) providers.Status {
	tp.t.Helper()
	st, err := tp.h.Provider.Lookup(tp.ctx, refs)
	if err != nil {
		tp.t.Fatalf("lookup %+v: %v", refs, err)
	}
	return st
}

// waitStatus polls Lookup until the outcome is want, with a deadline.
func (tp *twoPhase) waitStatus(refs providers.Refs, want providers.Outcome) providers.Status {
	tp.t.Helper()
	var last providers.Status
	twoPhaseEventually(tp.t, "status "+string(want)+" for "+refs.PayoutID, func() bool {
		st, err := tp.h.Provider.Lookup(tp.ctx, refs)
		if err != nil {
			tp.t.Fatalf("lookup %+v: %v", refs, err)
		}
		last = st
		return st.Outcome == want
	}, func() string { return "last: " + string(last.Outcome) + " " + last.RawStatus })
	return last
}

// waitEvent waits for a verified webhook event about payoutID with outcome want.
func (tp *twoPhase) waitEvent(payoutID string, want providers.Outcome) providers.Event {
	tp.t.Helper()
	var found providers.Event
	twoPhaseEventually(tp.t, "webhook "+string(want)+" for "+payoutID, func() bool {
		for _, e := range tp.sink.all() {
			if e.Status.Refs.PayoutID == payoutID && e.Status.Outcome == want {
				found = e
				return true
			}
		}
		return false
	}, func() string { return "webhook errors: " + strings.Join(tp.sink.errs(), "; ") })
	return found
}

func (tp *twoPhase) entries(ref string) []sandboxkit.Entry {
	var out []sandboxkit.Entry
	for _, e := range tp.h.Kit.Ledger.Entries() {
		if e.Reference == ref {
			out = append(out, e)
		}
	}
	return out
}

func (tp *twoPhase) checkPaid(ref string, want int) {
	tp.t.Helper()
	if got := tp.h.Kit.Ledger.PaidByReference()[ref]; got != want {
		tp.t.Errorf("ledger: %s paid %d times, want %d (entries %+v)", ref, got, want, tp.entries(ref))
	}
}

func sameMoney(got money.Money, p providers.Payout) bool {
	return got.Minor == p.Amount.Minor && strings.EqualFold(got.Currency, p.Amount.Currency)
}

// twoPhaseEventually polls cond until it holds or 10 s pass.
func twoPhaseEventually(t *testing.T, what string, cond func() bool, detail func() string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s (%s)", what, detail())
		case <-tick.C:
		}
	}
}

// twoPhaseSink receives the sandbox's webhooks and keeps the verified events.
type twoPhaseSink struct {
	mu       sync.Mutex
	provider providers.Provider
	events   []providers.Event
	failures []string
}

func (s *twoPhaseSink) set(p providers.Provider) {
	s.mu.Lock()
	s.provider = p
	s.mu.Unlock()
}

func (s *twoPhaseSink) all() []providers.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]providers.Event(nil), s.events...)
}

func (s *twoPhaseSink) errs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failures...)
}

func (s *twoPhaseSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	p := s.provider
	s.mu.Unlock()
	if err != nil || p == nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	res, err := p.ParseWebhook(providers.WebhookRequest{Header: r.Header.Clone(), Body: body, Received: time.Now()})
	s.mu.Lock()
	if err != nil {
		s.failures = append(s.failures, err.Error())
	} else {
		s.events = append(s.events, res.Events...)
	}
	s.mu.Unlock()
	if err != nil {
		http.Error(w, "refused", http.StatusUnauthorized)
		return
	}
	res.Ack.Write(w)
}

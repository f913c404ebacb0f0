package monnet_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/reconcile"
)

// TestLostPaymentLinkAnswer: the answer to a payment link's creation (the
// only place its URL ever appears) is dropped. The row stays in doubt while
// that link is alive, whatever its notifications say, and no second link
// is made; once Monnet reports it expired, the row gets a new link, and
// ends with exactly one live link whose URL it holds; paying it pays the
// row once.
func TestLostPaymentLinkAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var e *env
	// The journal keeps the sandbox's time, which the test moves on.
	j := testjournal.Open(t, func() time.Time { return e.sb.Kit().Clock.Now() })
	provs := map[string]providers.Provider{}
	recv := reconcile.NewReceiver(j, provs, reconcile.ReceiverOptions{})
	hooks := httptest.NewServer(recv.Handler())
	t.Cleanup(hooks.Close)
	e = newEnv(t, hooks.URL+"/webhooks/monnet")
	provs["monnet"] = e.client
	if err := recv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(recv.Stop)
	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{ResendAfter: time.Nanosecond, BackoffBase: time.Millisecond})

	const id = "LINK-1"
	it := journaltest.Item(id, "monnet", providers.PaymentLink, 0, "PEN")
	it.Payout = payoutFor(providers.PaymentLink)(id)
	journaltest.Import(t, j, "B1", it)
	item := func() journal.Item {
		t.Helper()
		it, err := j.Item(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	live := func() []string {
		var out []string
		for _, en := range e.sb.Kit().Ledger.Entries() {
			if strings.HasPrefix(en.Reference, id) && (en.State == "created" || en.State == "pending") {
				out = append(out, en.Reference)
			}
		}
		return out
	}

	// The link is created, its answer lost.
	e.sb.Kit().SetFaults(sandboxkit.Faults{DropResponseEvery: 1})
	if _, err := d.Run(ctx, []string{"B1"}, nil); err != nil {
		t.Fatal(err)
	}
	e.sb.Kit().SetFaults(sandboxkit.Faults{})
	if got := item(); got.State != journal.InDoubt || got.Last.URL != "" {
		t.Fatalf("after the lost answer: %s %q, want in_doubt without a URL", got.State, got.Last.URL)
	}
	if l := live(); len(l) != 1 || l[0] != id {
		t.Fatalf("live links %v, want [%s]", l, id)
	}

	// While it lives, resolving finds it, and neither adopts it (its URL
	// is unknown) nor makes another.
	for range 2 {
		if err := d.ResolveInDoubt(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := item(); got.State != journal.InDoubt {
		t.Fatalf("while the lost link lives: %s, want in_doubt", got.State)
	}
	if l := live(); len(l) != 1 {
		t.Fatalf("live links %v while the first one lives, want one", l)
	}
	// The row says why it waits, is asked about again later, and a
	// command following the batch does not wait for it.
	waiting := item()
	if !strings.Contains(waiting.Reason, "URL never reached payrun") || !waiting.NextPoll.After(j.Now().Add(time.Minute)) {
		t.Fatalf("the waiting row: reason %q, next poll %s (now %s)", waiting.Reason, waiting.NextPoll, j.Now())
	}
	if n, err := reconcile.NeedingPayrun(ctx, j, provs, []string{"B1"}); err != nil || n != 0 {
		t.Fatalf("rows needing payrun while the lost link lives: %d, %v; want 0", n, err)
	}

	// It expires; Monnet notifies it. The notification is about a link the
	// row never showed: it does not end the row.
	e.sb.Kit().Clock.Advance(31 * time.Minute)
	waitFor(t, "the expiry notification to be acknowledged", func() bool {
		for _, dl := range e.sb.Kit().Notifier.Deliveries() {
			if dl.Accepted && strings.Contains(string(dl.Body), `"payinMerchantOperationNumber":"`+id+`"`) &&
				strings.Contains(string(dl.Body), `"payinStateID":"3"`) {
				return true
			}
		}
		return false
	})
	if err := recv.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := item(); got.State != journal.InDoubt {
		t.Fatalf("after the lost link's expiry notification: %s (%s), want in_doubt", got.State, got.Reason)
	}

	// Resolving now proves the link dead and makes the next one.
	if err := d.ResolveInDoubt(ctx); err != nil {
		t.Fatal(err)
	}
	got := item()
	if got.State != journal.AwaitingBeneficiary || !strings.HasSuffix(got.Last.URL, "/_sandbox/payin/"+id+".2") ||
		got.Refs.SessionID != "payin:"+id+".2" {
		t.Fatalf("after the expiry: %s url %q refs %+v, want awaiting_beneficiary with the URL of %s.2", got.State, got.Last.URL, got.Refs, id)
	}
	if l := live(); len(l) != 1 || l[0] != id+".2" {
		t.Fatalf("live links %v, want exactly [%s.2]", l, id)
	}
	// Polling the row asks about its own link.
	st, err := e.client.Lookup(ctx, got.LookupRefs())
	if err != nil || st.Outcome != providers.AwaitingBeneficiary || st.Refs.SessionID != got.Refs.SessionID {
		t.Fatalf("lookup of the row's link: %+v, %v", st, err)
	}

	// The payer pays the link shown; the row is paid once.
	post(t, e.srv.Client(), got.Last.URL+"/pay", "application/json", nil)
	waitFor(t, "the payment notification", func() bool {
		_ = recv.Drain(ctx)
		return item().State == journal.Succeeded
	})
	if paid := e.sb.Kit().Ledger.PaidByReference(); paid[id] != 0 || paid[id+".2"] != 1 {
		t.Fatalf("paid %v, want %s.2 once and %s never", paid, id, id)
	}
}

// TestPaymentLinkRepeatedWhileItsLinkLives: a row sent again while its
// link waits for the payer (its URL unknown to whoever sends again) is in
// doubt, never a second link; a link a payer acted on is the row's status.
func TestPaymentLinkRepeatedWhileItsLinkLives(t *testing.T) {
	e, _ := setup(t)
	p := payoutFor(providers.PaymentLink)("LINK-2")
	st, err := e.client.Submit(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Submit(ctx(t), p); !providers.IsInDoubt(err) {
		t.Fatalf("repeat of a live link: %v, want in doubt", err)
	}
	if n := len(e.sb.Kit().Ledger.Entries()); n != 1 {
		t.Fatalf("%d links, want 1", n)
	}
	e.beneficiary(t, st)
	again, err := e.client.Submit(ctx(t), p)
	if err != nil || again.Outcome != providers.Succeeded || again.Refs.SessionID != "" {
		t.Fatalf("repeat of a paid link: %+v, %v; want its success, for the row", again, err)
	}
	if n := len(e.sb.Kit().Ledger.Entries()); n != 1 {
		t.Fatalf("%d links, want 1", n)
	}
}

// waitFor polls cond until it holds or five seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

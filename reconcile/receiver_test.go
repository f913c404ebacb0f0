package reconcile

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/providers/teemopay"
)

// TestReceiverRefuses sends forged, tampered, replayed, oversized and
// misaddressed requests after real deliveries have been applied: each is
// refused with its status, and the journal does not change at all.
func TestReceiverRefuses(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet", "teemopay", "bank131")
	h.dispatch("b1",
		journaltest.ValidItem("m-1", "monnet", 1500),
		journaltest.ValidItem("t-1", "teemopay", 2500),
		journaltest.ValidItem("k-1", "bank131", 3500))
	for _, id := range []string{"m-1", "t-1", "k-1"} {
		h.waitState(id, journal.Succeeded)
	}
	h.settle()
	mon := h.tap.deliveries("monnet")[0]
	teemo := h.tap.deliveries("teemopay")[0]
	k131 := h.tap.deliveries("bank131")[0]
	if teemo.Answer != teemopay.AckBody || teemo.Status != http.StatusOK {
		t.Fatalf("TeemoPay got %d %q, want 200 %q", teemo.Status, teemo.Answer, teemopay.AckBody)
	}
	if mon.Status != http.StatusOK || k131.Status != http.StatusOK {
		t.Fatalf("Monnet got %d, Bank 131 got %d, want 200", mon.Status, k131.Status)
	}
	before := h.snapshot()

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var monBody struct {
		Payout struct {
			MerchantID string `json:"merchantId"`
		} `json:"payout"`
	}
	if err := json.Unmarshal(mon.Body, &monBody); err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(mon.Body, []byte(`"amount":"1500"`), []byte(`"amount":"9500"`), 1)
	if bytes.Equal(tampered, mon.Body) {
		t.Fatalf("Monnet body has no amount 1500: %s", mon.Body)
	}
	wrongKeySig, err := monnet.SignNotification(other, monBody.Payout.MerchantID, tampered)
	if err != nil {
		t.Fatal(err)
	}
	nonce, _ := teemopay.NewNonce()
	teemoWrongKey, err := teemopay.SignBody(other, teemo.Body, nonce)
	if err != nil {
		t.Fatal(err)
	}
	teemoWrongHeader := teemo.Header.Clone()
	teemoWrongHeader.Set(teemopay.HeaderNonce, nonce)
	teemoWrongHeader.Set(teemopay.HeaderTimestamp, strconv.FormatInt(time.Now().UnixMilli(), 10))

	with := func(hd http.Header, k, v string) http.Header {
		c := hd.Clone()
		c.Set(k, v)
		return c
	}
	big := bytes.Repeat([]byte("x"), 64<<10+1)
	cases := []struct {
		name, provider string
		header         http.Header
		body           io.Reader
		status         int
		answer         string
	}{
		{"monnet forged signature", "monnet", with(mon.Header, "verification", "Zm9yZ2Vk"), bytes.NewReader(mon.Body), 401, "verification"},
		{"monnet tampered body", "monnet", mon.Header, bytes.NewReader(tampered), 401, "verification"},
		{"monnet wrong key", "monnet", with(mon.Header, "verification", wrongKeySig), bytes.NewReader(tampered), 401, "verification"},
		{"bank131 forged signature", "bank131", with(k131.Header, "X-PARTNER-SIGN", "Zm9yZ2Vk"), bytes.NewReader(k131.Body), 401, "verification"},
		{"bank131 tampered body", "bank131", k131.Header, bytes.NewReader(bytes.Replace(k131.Body, []byte("3500"), []byte("3600"), 1)), 401, "verification"},
		{"teemopay wrong key", "teemopay", teemoWrongHeader, bytes.NewReader(teemoWrongKey), 401, "verification"},
		// A request sent again verbatim (a provider's retry, or an
		// attacker's replay) is acknowledged and changes nothing.
		{"teemopay replayed nonce", "teemopay", teemo.Header, bytes.NewReader(teemo.Body), 200, "SUCCESS"},
		{"oversized body", "monnet", mon.Header, bytes.NewReader(big), 413, "too large"},
		{"oversized body without length", "monnet", mon.Header, io.MultiReader(bytes.NewReader(big)), 413, "too large"},
		{"unknown provider", "paypal", mon.Header, bytes.NewReader(mon.Body), 404, "unknown provider"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, answer := h.post(c.provider, c.header, c.body)
			if status != c.status || !strings.Contains(answer, c.answer) {
				t.Errorf("got %d %q, want %d %q", status, answer, c.status, c.answer)
			}
			if after := h.snapshot(); after != before {
				t.Errorf("the journal changed:\n%s", firstDiff(before, after))
			}
		})
	}
}

// TestDuplicateDelivery: every webhook delivered twice, and one delivered
// again by hand, is applied once and acknowledged each time.
func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet", "teemopay", "bank131")
	for _, n := range []string{"monnet", "teemopay", "bank131"} {
		h.land.Kit(n).SetFaults(sandboxkit.Faults{WebhookDuplicateRate: 1})
	}
	h.dispatch("b1",
		journaltest.ValidItem("m-1", "monnet", 1500),
		journaltest.ValidItem("t-1", "teemopay", 2500),
		journaltest.ValidItem("k-1", "bank131", 3500))
	for _, id := range []string{"m-1", "t-1", "k-1"} {
		h.waitState(id, journal.Succeeded)
	}
	h.settle()
	// Monnet: 1 notification x2; TeemoPay: 1 callback x2; Bank 131:
	// ready_to_confirm and payment_finished, x2 each.
	for n, want := range map[string]int{"monnet": 2, "teemopay": 2, "bank131": 4} {
		got := h.tap.deliveries(n)
		if len(got) != want {
			t.Errorf("%s: %d deliveries, want %d", n, len(got), want)
		}
		for _, d := range got {
			if d.Status != http.StatusOK {
				t.Errorf("%s delivery answered %d %q", n, d.Status, d.Answer)
			}
		}
	}
	mon := h.tap.deliveries("monnet")[0]
	before := h.snapshot()
	if status, _ := h.post("monnet", mon.Header, bytes.NewReader(mon.Body)); status != http.StatusOK {
		t.Fatalf("a repeated delivery got %d, want 200 (acknowledged)", status)
	}
	if after := h.snapshot(); after != before {
		t.Errorf("a repeated delivery changed the journal:\n%s", firstDiff(before, after))
	}
	for _, id := range []string{"m-1", "t-1", "k-1"} {
		if n := h.transitionsTo(id, journal.Succeeded); n != 1 {
			t.Errorf("%s moved to succeeded %d times, want 1", id, n)
		}
	}
	if n := len(h.events()); n != 4 {
		t.Errorf("%d events stored, want 4 (one per fact)", n)
	}
	for _, n := range []string{"monnet", "teemopay", "bank131"} {
		for ref, paid := range h.land.Kit(n).Ledger.PaidByReference() {
			if paid != 1 {
				t.Errorf("%s paid %s %d times", n, ref, paid)
			}
		}
	}
}

// TestOutOfOrder: a Bank 131 ready_to_confirm whose first delivery fails
// arrives again after the payout succeeded; the payout does not regress
// and is not confirmed twice.
func TestOutOfOrder(t *testing.T) {
	t.Parallel()
	h := setup(t, "bank131")
	var refused, release bool
	h.tap.mu.Lock()
	h.tap.refuse = func(provider string, body []byte) bool {
		if !release && bytes.Contains(body, []byte(`"ready_to_confirm"`)) {
			refused = true
			return true
		}
		return false
	}
	h.tap.mu.Unlock()
	h.dispatch("b1", journaltest.ValidItem("k-1", "bank131", 3500))
	eventually(t, 10*time.Second, "ready_to_confirm to be refused", func() bool {
		h.tap.mu.Lock()
		defer h.tap.mu.Unlock()
		return refused
	})
	// Without the webhook, the poller finds the session waiting and
	// applies the confirm rule.
	pl := NewPoller(h.j, h.provs, PollOptions{After: -1, Interval: time.Millisecond})
	eventually(t, 15*time.Second, "the payout to succeed", func() bool {
		if _, err := pl.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		return h.item("k-1").State == journal.Succeeded
	})
	eventually(t, 10*time.Second, "payment_finished to be applied", func() bool {
		for _, ev := range h.events() {
			if ev.Type == "payment_finished" && ev.Applied {
				return true
			}
		}
		return false
	})
	h.tap.mu.Lock()
	release = true
	h.tap.mu.Unlock()
	h.land.Kit("bank131").Clock.Advance(time.Hour) // the provider's next retry is due now
	eventually(t, 10*time.Second, "the late ready_to_confirm", func() bool {
		for _, ev := range h.events() {
			if ev.Type == "ready_to_confirm" && (ev.Applied || ev.Note != "") {
				return true
			}
		}
		return false
	})
	kit := h.land.Kit("bank131")
	it := h.item("k-1")
	if it.State != journal.Succeeded {
		t.Fatalf("a late ready_to_confirm moved the payout to %s", it.State)
	}
	var late journal.Event
	for _, ev := range h.events() {
		if ev.Type == "ready_to_confirm" {
			late = ev
		}
	}
	if late.Applied || !strings.HasPrefix(late.Note, NoteOutOfOrder) {
		t.Errorf("late event applied=%v note=%q, want kept, not applied, noted out of order", late.Applied, late.Note)
	}
	if n := h.transitionsTo("k-1", journal.Confirming); n != 1 {
		t.Errorf("confirmed %d times, want 1", n)
	}
	for ref, paid := range kit.Ledger.PaidByReference() {
		if paid != 1 {
			t.Errorf("paid %s %d times", ref, paid)
		}
	}
}

// TestReversalAfterSuccess: each provider's return of a paid payout moves
// it from succeeded to reversed, and the matcher says so.
func TestReversalAfterSuccess(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet", "teemopay", "bank131")
	for _, n := range []string{"monnet", "teemopay", "bank131"} {
		h.land.Kit(n).SetFaults(sandboxkit.Faults{Rules: []sandboxkit.Rule{{RefContains: "rev", Outcome: "reverse"}}})
	}
	h.dispatch("b1",
		journaltest.ValidItem("m-rev", "monnet", 1500),
		journaltest.ValidItem("t-rev", "teemopay", 2500),
		journaltest.ValidItem("k-rev", "bank131", 3500),
		journaltest.ValidItem("m-ok", "monnet", 1700))
	for _, id := range []string{"m-rev", "t-rev", "k-rev"} {
		h.waitState(id, journal.Reversed)
		// The success may be applied first, or arrive after the reversal
		// (notifications race): never more than once.
		if n := h.transitionsTo(id, journal.Succeeded); n > 1 {
			t.Errorf("%s: %d transitions to succeeded before the reversal, want at most 1", id, n)
			_ = h.j.Transitions(ctx, id, func(tr journal.Transition) bool {
				t.Logf("  %s %s -> %s by %s: %s", tr.At.Format("15:04:05.000"), tr.From, tr.To, tr.Actor, tr.Reason)
				return true
			})
		}
	}
	h.waitState("m-ok", journal.Succeeded)
	res, err := Match(ctx, h.j, Scope{BatchID: "b1"}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Lines {
		want := ReversedAfterSuccess
		if l.PayoutID == "m-ok" {
			want = Matched
		}
		if l.Category != want {
			t.Errorf("%s: %s (%s), want %s", l.PayoutID, l.Category, l.Reason, want)
		}
	}
	if !res.Balanced() {
		t.Errorf("tie-out does not balance: %+v", res.TieOut)
	}
}

// TestMonnetDuplicateOrderNotice: resubmitting an orderId makes Monnet
// refuse it with 2005 and send a REJECTED/2005 notification carrying the
// original's orderId under a new id; it never touches the original.
func TestMonnetDuplicateOrderNotice(t *testing.T) {
	t.Parallel()
	h := setup(t, "monnet")
	it := journaltest.ValidItem("m-1", "monnet", 1500)
	h.dispatch("b1", it)
	h.waitState("m-1", journal.Succeeded)
	orig := h.item("m-1")
	if _, err := h.provs["monnet"].Submit(context.Background(), it.Payout); !errors.Is(err, providers.ErrDuplicate) {
		t.Fatalf("resubmit: %v, want ErrDuplicate", err)
	}
	var notice journal.Event
	eventually(t, 10*time.Second, "the 2005 notification", func() bool {
		for _, ev := range h.events() {
			if ev.Note == NoteDuplicateNotice {
				notice = ev
				return true
			}
		}
		return false
	})
	if notice.PayoutID != "m-1" || notice.Applied {
		t.Errorf("notice payout %q applied %v, want m-1 kept unapplied", notice.PayoutID, notice.Applied)
	}
	after := h.item("m-1")
	if after.State != journal.Succeeded || after.Refs != orig.Refs || after.Last.RawStatus != orig.Last.RawStatus {
		t.Errorf("the 2005 notice changed the original: %+v -> %+v", orig, after)
	}
	res, err := Match(ctx, h.j, Scope{BatchID: "b1"}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Lines) != 1 || res.Lines[0].Category != Matched {
		t.Errorf("lines %+v, want one matched", res.Lines)
	}
}

// TestUnexpectedPayout: a notification about a payout payrun never sent is
// kept, acknowledged, and reported as unexpected outside the tie-out.
func TestUnexpectedPayout(t *testing.T) {
	t.Parallel()
	h := setup(t, "teemopay")
	h.dispatch("b1", journaltest.ValidItem("t-1", "teemopay", 2500))
	ghost := journaltest.ValidItem("ghost-1", "teemopay", 4200)
	if _, err := h.provs["teemopay"].Submit(context.Background(), ghost.Payout); err != nil {
		t.Fatalf("submit outside payrun: %v", err)
	}
	h.waitState("t-1", journal.Succeeded)
	eventually(t, 10*time.Second, "the unexpected callback", func() bool {
		for _, ev := range h.events() {
			if ev.Note == NoteUnexpected && ev.PayoutID == "ghost-1" {
				return true
			}
		}
		return false
	})
	for _, d := range h.tap.deliveries("teemopay") {
		if d.Status != http.StatusOK || d.Answer != teemopay.AckBody {
			t.Errorf("delivery answered %d %q, want 200 SUCCESS", d.Status, d.Answer)
		}
	}
	if _, err := h.j.Item(ctx, "ghost-1"); !errors.Is(err, journal.ErrNotFound) {
		t.Errorf("the unexpected payout became an item: %v", err)
	}
	res, err := Match(ctx, h.j, Scope{}, time.Now(), MatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var unexpected []Line
	for _, l := range res.Lines {
		if l.Category == UnexpectedAtProvider {
			unexpected = append(unexpected, l)
		}
	}
	if len(unexpected) != 1 || unexpected[0].PayoutID != "ghost-1" || unexpected[0].Row != 0 || unexpected[0].Amount != 4200 {
		t.Fatalf("unexpected lines %+v, want ghost-1, row 0, 4200", unexpected)
	}
	if !res.Balanced() || len(res.TieOut) != 1 || res.TieOut[0].InputCount != 1 {
		t.Errorf("tie-out %+v: want one group of one input row, balanced", res.TieOut)
	}
}

// TestReadyToConfirmHandedOn: with a settler that returns at once (the
// dispatcher's SettleLater), a ready_to_confirm is applied in the
// Applier's transaction and its confirm rule started after it commits:
// the payout is confirmed once and paid, the event marked applied.
func TestReadyToConfirmHandedOn(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	var wg sync.WaitGroup
	var h *harness
	settle := func(ctx context.Context, p providers.Provider, st providers.Status, actor string) error {
		mu.Lock()
		calls = append(calls, actor+" "+st.Refs.PayoutID)
		mu.Unlock()
		wg.Go(func() {
			if err := dispatch.Settle(context.WithoutCancel(ctx), h.j, p, st, actor); err != nil {
				t.Errorf("settle: %v", err)
			}
		})
		return nil
	}
	h = setupWith(t, ReceiverOptions{MaxBody: 64 << 10, Settle: settle}, "bank131")
	t.Cleanup(wg.Wait)
	h.dispatch("b1", journaltest.ValidItem("k-1", "bank131", 3500))
	h.waitState("k-1", journal.Succeeded)
	mu.Lock()
	got := append([]string(nil), calls...)
	mu.Unlock()
	if len(got) == 0 || got[0] != "webhook k-1" {
		t.Fatalf("settler calls %q, want the webhook's for k-1", got)
	}
	eventually(t, 10*time.Second, "ready_to_confirm applied", func() bool {
		for _, ev := range h.events() {
			if ev.Type == "ready_to_confirm" && ev.Applied {
				return true
			}
		}
		return false
	})
	if n := h.transitionsTo("k-1", journal.Confirming); n != 1 {
		t.Errorf("confirmed %d times, want 1", n)
	}
}

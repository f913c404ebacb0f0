package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
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

// landscape starts every sandbox and builds real clients for them.
func landscape(t *testing.T, delay time.Duration) (*sandboxes.Landscape, map[string]providers.Provider) {
	t.Helper()
	l, err := sandboxes.Start(sandboxes.Options{Dir: t.TempDir(), ProcessingDelay: delay, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	provs := map[string]providers.Provider{}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	for _, name := range l.Names() {
		reg, err := providers.Lookup(all.Registrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := reg.New(l.Configs[name], providers.Deps{HTTP: &http.Client{Timeout: 5 * time.Second, Transport: tr}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		provs[name] = p
	}
	return l, provs
}

func items(n int) []journal.Item {
	names := []string{"monnet", "teemopay", "bank131", "smartglocal"}
	out := make([]journal.Item, 0, n)
	for i := 0; i < n; i++ {
		prov := names[i%len(names)]
		out = append(out, journaltest.ValidItem(fmt.Sprintf("PO-%s-%03d", prov[:2], i), prov, int64(1000+i)))
	}
	return out
}

func TestDispatchPaysEveryRowOnce(t *testing.T) {
	l, provs := landscape(t, 20*time.Millisecond)
	j := testjournal.Open(t, nil)
	its := items(40)
	id := journaltest.Import(t, j, "B1", its...)
	d := dispatch.NewDispatcher(j, provs, dispatch.DispatchOptions{})
	sum, err := d.Run(context.Background(), []string{id}, nil)
	if err != nil {
		t.Fatalf("run: %v (summary %+v)", err, sum)
	}
	if sum.Sent < len(its) {
		t.Fatalf("sent %d of %d: %+v", sum.Sent, len(its), sum)
	}
	deadline := time.Now().Add(15 * time.Second)
	for pollOnce(t, j, provs) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("items still open after 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitLedgers(t, l, its)
}

// waitLedgers waits until every item is paid at its provider, and checks
// that nothing was paid twice.
func waitLedgers(t *testing.T, l *sandboxes.Landscape, its []journal.Item) {
	t.Helper()
	want := map[string]bool{}
	for _, it := range its {
		want[it.PayoutID] = true
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		paid := map[string]int{}
		for _, name := range l.Names() {
			for ref, n := range l.Kit(name).Ledger.PaidByReference() {
				paid[ref] += n
			}
		}
		for ref, n := range paid {
			if n > 1 {
				t.Fatalf("payout %s paid %d times", ref, n)
			}
			if !want[ref] {
				t.Fatalf("unexpected payout %s paid", ref)
			}
		}
		if len(paid) == len(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("paid %d of %d payouts", len(paid), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pollOnce asks the providers about every open item, as the reconcile
// poller does, and confirms what waits for confirmation.
func pollOnce(t *testing.T, j journal.Journal, provs map[string]providers.Provider) (open int) {
	t.Helper()
	var its []journal.Item
	_ = j.OpenItems(ctx, func(it journal.Item) bool { its = append(its, it); return true })
	for _, it := range its {
		p := provs[it.Provider]
		st, err := p.Lookup(context.Background(), it.Refs)
		if err != nil {
			open++
			continue
		}
		if st.Outcome == providers.AwaitingConfirmation {
			if err := dispatch.Settle(context.Background(), j, p, st, "test"); err != nil {
				t.Fatalf("settle %s: %v", it.PayoutID, err)
			}
		} else if _, err := journal.ApplyStatus(ctx, j, it.PayoutID, "test", st); err != nil {
			t.Fatalf("apply %s: %v", it.PayoutID, err)
		}
		if now, _ := j.Item(ctx, it.PayoutID); !now.State.Final() {
			open++
		}
	}
	return open
}

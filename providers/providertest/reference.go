package providertest

import (
	"errors"
	"testing"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// RunLookupByReference is the conformance extension for providers that look
// payouts up by merchant reference (Capabilities.LookupByReference:
// TeemoPay, Monnet Payin). It checks what in-doubt resolution relies on,
// against the sandbox's ledger:
//
//   - NeverCreated: Lookup with only Refs.PayoutID answers ErrNotFound for a
//     reference never sent, and that error is neither retryable nor in doubt;
//   - RefusedNeverCreated: a submit refused before processing (a 5xx
//     burst, ErrUnavailable) leaves nothing behind, and Lookup proves it;
//   - InDoubtResolved: after a dropped response (in doubt), Lookup with only
//     the reference finds the payout with the provider's id, and later its
//     final state, with exactly one ledger entry and one payment.
//
// The factory is the one Run uses.
func RunLookupByReference(t *testing.T, f Factory) {
	t.Run("NeverCreated", func(t *testing.T) {
		h, _ := setup(t, f)
		skipUnlessByReference(t, h)
		_, err := h.Provider.Lookup(ctxFor(t), providers.Refs{PayoutID: "ref-never-1"})
		if !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("lookup of an unknown reference: err = %v, want ErrNotFound", err)
		}
		if providers.IsRetryable(err) || providers.IsInDoubt(err) {
			t.Errorf("not found classified retryable or in doubt: %v", err)
		}
	})

	t.Run("RefusedNeverCreated", func(t *testing.T) {
		h, _ := setup(t, f)
		skipUnlessByReference(t, h)
		h.Kit.SetFaults(sandboxkit.Faults{Burst5xx: 1})
		ctx := ctxFor(t)
		_, err := h.Provider.Submit(ctx, h.NewPayout("ref-5xx-1"))
		if !errors.Is(err, providers.ErrUnavailable) {
			t.Fatalf("submit during a 5xx burst: err = %v, want ErrUnavailable", err)
		}
		h.Kit.SetFaults(sandboxkit.Faults{})
		if _, err := h.Provider.Lookup(ctx, providers.Refs{PayoutID: "ref-5xx-1"}); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("lookup after a refused submit: err = %v, want ErrNotFound", err)
		}
		if n, _ := ledgerCount(h, "ref-5xx-1"); n != 0 {
			t.Errorf("refused submit left %d ledger entries", n)
		}
	})

	t.Run("InDoubtResolved", func(t *testing.T) {
		h, sink := setup(t, f)
		skipUnlessByReference(t, h)
		h.Kit.SetFaults(sandboxkit.Faults{DropResponseEvery: 1})
		ctx := ctxFor(t)
		p := h.NewPayout("ref-doubt-1")
		if _, err := h.Provider.Submit(ctx, p); !providers.IsInDoubt(err) {
			t.Fatalf("dropped response: err = %v, want in doubt", err)
		}
		h.Kit.SetFaults(sandboxkit.Faults{})
		st, err := h.Provider.Lookup(ctx, providers.Refs{PayoutID: p.ID, Method: p.Method})
		if err != nil {
			t.Fatalf("lookup by reference after in doubt: %v", err)
		}
		if st.Refs.PayoutID != p.ID || st.Refs.ProviderID == "" {
			t.Errorf("lookup refs %+v, want the payout id and the provider's id", st.Refs)
		}
		ev := sink.waitEvents(t, h.Provider, 1, finalFor(p.ID))[0].event
		final, err := h.Provider.Lookup(ctx, providers.Refs{PayoutID: p.ID, Method: p.Method})
		if err != nil {
			t.Fatalf("lookup after the final webhook: %v", err)
		}
		if final.Outcome != ev.Status.Outcome || final.Refs.ProviderID != st.Refs.ProviderID {
			t.Errorf("lookup %s/%s, webhook %s/%s: want the same outcome and provider id",
				final.Outcome, final.Refs.ProviderID, ev.Status.Outcome, ev.Status.Refs.ProviderID)
		}
		if n, paid := ledgerCount(h, p.ID); n != 1 || paid > 1 {
			t.Errorf("ledger: %d entries, paid %d times; want 1 entry, paid at most once", n, paid)
		}
	})
}

func skipUnlessByReference(t *testing.T, h Harness) {
	t.Helper()
	if !h.Provider.Capabilities().LookupByReference {
		t.Skip("provider does not look payouts up by merchant reference")
	}
}

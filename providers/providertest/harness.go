package providertest

import (
	"context"
	"testing"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxkit"
)

// Harness is one provider client wired to its sandbox.
type Harness struct {
	// Provider is the real client, pointed at the sandbox's URL.
	Provider providers.Provider
	// Kit is the sandbox's shared machinery (ledger, faults, clock, notifier).
	Kit *sandboxkit.Kit
	// NewPayout returns a payout that the sandbox will accept and pay, for
	// the product under test, with the given merchant reference.
	NewPayout func(id string) providers.Payout
	// Beneficiary, for products that wait for the beneficiary (card push,
	// payment link), plays the beneficiary: completes the payout behind
	// status.URL. Nil for other products.
	Beneficiary func(t *testing.T, st providers.Status)
	// Tamper returns a copy of a genuine webhook changed so that its
	// signature no longer matches (nil: the suite flips a byte in a digit of
	// the body).
	Tamper func(providers.WebhookRequest) providers.WebhookRequest
	// Forge returns a webhook signed with a key that is not the provider's.
	// Required.
	Forge func(t *testing.T, genuine providers.WebhookRequest) providers.WebhookRequest
	// BadClient is the same client configured with a wrong secret or key,
	// so that the suite can check the sandbox refuses a badly signed
	// request (as ErrAuth). Nil skips that check.
	BadClient providers.Provider
	// NoDuplicateCheck skips the duplicate-submission test for products
	// whose repeat is not a plain duplicate (Monnet payment links: a
	// repeat of a link whose URL is unknown is in doubt).
	NoDuplicateCheck bool
}

// Factory builds a fresh harness whose sandbox sends webhooks to
// callbackURL. It registers its own cleanup with t.
type Factory func(t *testing.T, callbackURL string) Harness

// confirmIfNeeded confirms a two-phase payout that waits for it, as the
// dispatcher would after matching it to its row.
func confirmIfNeeded(ctx context.Context, t *testing.T, h Harness, st providers.Status) providers.Status {
	t.Helper()
	if st.Outcome != providers.AwaitingConfirmation {
		return st
	}
	c, ok := h.Provider.(providers.Confirmer)
	if !ok {
		t.Fatalf("%s reported awaiting_confirmation but is not a providers.Confirmer", h.Provider.Name())
	}
	got, err := c.Confirm(ctx, st.Refs)
	if err != nil {
		t.Fatalf("confirm %+v: %v", st.Refs, err)
	}
	return got
}

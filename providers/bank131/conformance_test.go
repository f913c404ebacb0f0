package bank131_test

import (
	"context"
	"testing"
	"time"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	"github.com/payrun/payrun/providers/bank131/sandbox"
	"github.com/payrun/payrun/providers/providertest"
)

// factory wires the real client to a fresh sandbox instance of the given
// name, over loopback HTTP.
func factory(name string, driver bool) providertest.Factory {
	return func(t *testing.T, callbackURL string) providertest.Harness {
		creds := credentials(t, name)
		sb := sandbox.New(sandbox.Options{Name: name, WebhookURL: callbackURL, Seed: 11, ProcessingDelay: 10 * time.Millisecond, Credentials: creds})
		srv := newServer(t, sb)
		cfg, err := creds.WriteFiles(t.TempDir(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		client := newClient(t, name, cfg)
		bad := cfg
		bad.PrivateKey = "file:testdata/merchant_key.pem" // a key the sandbox does not know
		var p providers.Provider = client
		if driver {
			p = awaitReady{client}
		}
		return providertest.Harness{
			Provider:  p,
			Kit:       sb.Kit(),
			NewPayout: func(id string) providers.Payout { return payout(id, currency(name)) },
			Forge: func(t *testing.T, w providers.WebhookRequest) providers.WebhookRequest {
				w.Header.Set("X-PARTNER-SIGN", signWith(t, "testdata/merchant_key.pem", w.Body))
				return w
			},
			BadClient: newClient(t, name, bad),
		}
	}
}

// awaitReady is the real client plus the step the dispatcher takes between
// Submit and Confirm: ready_to_confirm arrives after Submit returns, so it
// polls session/status until the session waits for confirmation. The
// generic suite confirms only a payout whose Submit answered
// AwaitingConfirmation; this adapter lets it drive a two-phase provider
// whose readiness is asynchronous, without changing the suite. Everything
// else, Confirm included, is the client itself.
type awaitReady struct{ *bank131.Client }

func (a awaitReady) Submit(ctx context.Context, p providers.Payout) (providers.Status, error) {
	st, err := a.Client.Submit(ctx, p)
	if err != nil {
		return st, err
	}
	tick := time.NewTicker(3 * time.Millisecond)
	defer tick.Stop()
	for st.Outcome == providers.Processing {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
		next, err := a.Client.Lookup(ctx, st.Refs)
		if err != nil {
			return st, err
		}
		st = next
	}
	return st, nil
}

func TestConformance(t *testing.T) {
	for _, name := range names {
		t.Run(name, func(t *testing.T) { providertest.Run(t, factory(name, true)) })
	}
}

func TestConformanceTwoPhase(t *testing.T) {
	for _, name := range names {
		t.Run(name, func(t *testing.T) { providertest.RunTwoPhase(t, factory(name, false)) })
	}
}

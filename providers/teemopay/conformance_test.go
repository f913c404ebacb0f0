package teemopay_test

import (
	"encoding/json"
	"testing"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/providertest"
	"github.com/payrun/payrun/providers/teemopay"
	"github.com/payrun/payrun/providers/teemopay/sandbox"
)

// harness wires the real client to a fresh sandbox whose callbacks go to
// callbackURL, both as the merchant default and as each payout's callbackUrl.
func harness(t *testing.T, callbackURL string) providertest.Harness {
	sb, srv, cfg := startSandbox(t, sandbox.Options{WebhookURL: callbackURL})
	cfg.CallbackURL = callbackURL
	other, err := sandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	bad, err := other.WriteFiles(t.TempDir(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	bad.MerchantID = cfg.MerchantID // right app_code, wrong key
	return providertest.Harness{
		Provider:  newClient(t, cfg, sb.Kit().Clock.Now),
		BadClient: newClient(t, bad, sb.Kit().Clock.Now),
		Kit:       sb.Kit(),
		NewPayout: payout,
		Forge: func(t *testing.T, genuine providers.WebhookRequest) providers.WebhookRequest {
			// The genuine fields and nonce, signed by a key that is not the platform's.
			var fields map[string]any
			if err := json.Unmarshal(genuine.Body, &fields); err != nil {
				t.Fatal(err)
			}
			delete(fields, "sign")
			body, _ := json.Marshal(fields)
			signed, err := teemopay.SignBody(other.PlatformKey, body, genuine.Header.Get("nonce"))
			if err != nil {
				t.Fatal(err)
			}
			genuine.Body = signed
			return genuine
		},
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, harness)
}

func TestConformanceLookupByReference(t *testing.T) {
	providertest.RunLookupByReference(t, harness)
}

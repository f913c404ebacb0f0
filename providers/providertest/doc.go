// Package providertest is the conformance suite every provider client must
// pass against its sandbox, over HTTP on loopback: signatures accepted and
// tampered ones refused, every request paced (providers.Pace), payouts
// reaching their final state by webhook and by status query, duplicates
// handled as the provider does, 429 surfacing as rate limited with its
// wait, a dropped response surfacing as in doubt, forged webhooks refused,
// duplicated webhooks yielding the same event. RunTwoPhase adds the
// two-phase checks (providers.Confirmer) and RunLookupByReference those of
// a lookup by merchant reference, each against the sandbox's ledger.
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, func(t *testing.T, callbackURL string) providertest.Harness {
//			sb := sandbox.New(...)          // the provider's sandbox, webhooks to callbackURL
//			srv := httptest.NewServer(sb)
//			return providertest.Harness{Provider: client, Kit: sb.Kit(), NewPayout: ..., Forge: ...}
//		})
//	}
//
// It imports the providers' contract, money and sandboxkit, never a client
// or a sandbox; only tests import it. internal/layering holds it to both.
package providertest

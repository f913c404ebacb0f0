// Package providers is the contract between payrun and the payment
// providers that move the money: the Provider interface every client
// implements, the optional abilities some of them have (Confirmer, with
// its Cancel; Balancer, LinkLifetimer, LookupLimiter), the error taxonomy
// that decides what may be retried, and the Registration each provider
// declares (its rules on a payout file, its client's and its sandbox's
// constructors); providers/all lists them.
//
// Each provider lives in its own subpackage (monnet, teemopay, bank131) with
// a sandbox server beside it (monnet/sandbox, ...) that speaks the same wire
// protocol as the real host, so that tests and the demo exercise the real
// client. The conformance suite in providertest runs against every one.
//
// The package imports nothing of payrun's but the leaf money and
// sandboxkit (a Sandbox hands out its *sandboxkit.Kit), so that every
// package above those two may depend on it.
//
//	reg, _ := providers.Lookup(all.Registrations(), "teemopay")
//	p, err := reg.New(cfg, providers.Deps{HTTP: client, Now: clock.Now})
//	st, err := p.Submit(ctx, payout)
//	if providers.IsInDoubt(err) { /* resolve before sending again */ }
package providers

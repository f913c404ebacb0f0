// Package sandboxkit is the machinery every provider sandbox shares: a
// clock that tests can move forward, a ledger of money actually moved, the
// fault knobs of PROVIDERS.md section 6 (429s, latency, 5xx bursts, dropped
// responses, webhook drops, duplicates, delays and reordering, reversals,
// insufficient balance, outcome rules), and a notifier that delivers signed
// webhooks with retries.
//
// A sandbox (monnet/sandbox, teemopay/sandbox, bank131/sandbox) builds a Kit,
// wraps its API handler with Kit.Wrap (which applies the transport faults
// to every path outside /_sandbox/, answering 429 and 5xx in the shape the
// sandbox gives it) and mounts Kit.AdminHandler under /_sandbox/, never on
// a path the real provider serves.
//
// It imports nothing of payrun's (internal/layering): the provider contract
// (providers.Sandbox hands out a *Kit) and every sandbox import it.
//
//	kit := sandboxkit.New(sandboxkit.Options{Name: "monnet"})
//	mux.Handle("/_sandbox/", kit.AdminHandler())
//	srv := httptest.NewServer(kit.Wrap(mux, nil, nil)) // nil: a bare 429 and 503
//	kit.SetFaults(sandboxkit.Faults{DropResponseEvery: 3})
package sandboxkit

// Package sandboxkit is the machinery every provider sandbox shares: a
// clock that tests can move forward, a ledger of money actually moved, the
// fault knobs of PROVIDERS.md section 6 (429s, latency, 5xx bursts, dropped
// responses, webhook drops, duplicates, delays and reordering, reversals,
// insufficient balance, outcome rules), and a notifier that delivers signed
// webhooks with retries.
//
// A sandbox (monnet/sandbox, teemopay/sandbox, bank131/sandbox) builds a Kit,
// wraps its API handler with Kit.Wrap (which applies the transport faults
// to real API paths only) and mounts Kit.AdminHandler under /_sandbox/,
// never on a path the real provider serves.
//
//	kit := sandboxkit.New(sandboxkit.Options{Name: "monnet"})
//	mux.Handle("/_sandbox/", kit.AdminHandler())
//	srv := httptest.NewServer(kit.Wrap(mux))
//	kit.SetFaults(sandboxkit.Faults{DropResponseEvery: 3})
package sandboxkit

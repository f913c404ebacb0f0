// Package sandbox is the stand-in for Bank 131's and Smart Glocal's
// payment-session API (PROVIDERS.md sections 4 and 6): one implementation,
// run as two instances that differ by Options.Name.
//
// It speaks the real protocol on /api/v1/ (and /api/v2/): X-PARTNER-PROJECT
// and X-PARTNER-SIGN (RSA-SHA256 over the body) checked on every request,
// errors as {"status":"error","error":{"code","description"}}, ps_/po_
// identifiers, X-PARTNER-IDEMPOTENCY-KEY refused on reuse with
// idempotency_key_already_exists (only the error: no session), and the
// two-phase flow: after session/start/payout the session reaches
// ready_to_confirm (webhook, status next_action confirm, payment pending)
// and waits for session/confirm or session/cancel; an unconfirmed session
// never moves money. Webhooks are signed with the provider key and retried
// on non-2xx at growing intervals; the smartglocal instance gives up 30
// minutes (sandbox time) after the first attempt.
//
// Methods: token (a public token for the tokenization widget, with
// "tokenize_widget": {"access": true}; it expires after
// Options.WidgetTokenLifetime), session/init/payout (create and start in
// one call), session/create, session/start/payout, session/confirm,
// session/cancel, session/status, token/info (with "type": "card", the
// card's details answered under "info", as in Bank 131's PHP SDK). The
// widget itself, which the documents describe but do not publish, has a
// stand-in under /widget/ (widget.go); Options.StrictTokens refuses card
// hashes it never issued. Member
// names are read case-sensitively. The smartglocal instance takes metadata
// only as the object Smart Glocal's documents show; bank131 takes the
// string its documents show (and an object).
//
// Error codes: invalid_project (401), invalid_signature (403),
// invalid_request, validation_error, invalid_amount, invalid_currency,
// invalid_card, invalid_session_status, insufficient_funds,
// idempotency_key_already_exists (400), session_not_found (404),
// too_many_requests (429, Retry-After), service_unavailable (503).
//
// The ledger (sandboxkit.Ledger) holds one entry per session, keyed by the
// session id: created at session/create (when it carries an amount, so
// that a create whose answer was lost is still on the books), pending at
// session/start/payout, then paid, failed, cancelled or reversed.
//
// Sandbox-only endpoints, under /_sandbox/: the kit's ledger, faults and
// advance (sandboxkit.Kit.AdminHandler), plus
//
//	POST /_sandbox/tokens {"number":"4242424242424242"} -> {"token","last4","brand"}
//	GET  /_sandbox/sessions                              -> the sessions and their payments
//
// Fault knobs (sandboxkit.Faults): the transport faults of Kit.Wrap answer
// in the session API's shape; webhook drop/duplicate/delay/reorder;
// InsufficientBalance refuses session/start/payout with insufficient_funds;
// ReverseAfterSuccessRate (or a Rule "reverse") refunds a paid payout
// later: payment_refunded webhook on bank131, a silent manual refund on
// smartglocal; Rules "fail" (after confirm, with the rule's code), "timeout"
// (start/payout processed, response dropped) and "error" (session stuck in
// status error).
//
// It is written from the providers' documents and imports nothing of the
// client (package bank131): only providers (for Config, which
// Credentials.WriteFiles returns) and sandboxkit
// (providers/sandbox_imports_test.go).
//
//	sb := sandbox.New(sandbox.Options{Name: "smartglocal", WebhookURL: hookURL, Credentials: creds})
//	defer sb.Close()
//	srv := httptest.NewServer(sb)
//	cfg, _ := creds.WriteFiles(t.TempDir(), srv.URL)
//	client, _ := bank131.NewNamed("smartglocal", cfg, providers.Deps{})
package sandbox

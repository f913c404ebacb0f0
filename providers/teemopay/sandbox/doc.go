// Package sandbox is TeemoPay's stand-in for tests and the demo
// (PROVIDERS.md section 6): an http.Handler that speaks TeemoPay's payout
// API closely enough that payrun's client cannot tell it from the real host.
//
// It serves POST /api/pay/payout/create/v1 and /api/pay/payout/query/v1 with
// TeemoPay's checks (app_code, country PE, ±30 s timestamp on the sandbox
// clock, 32-character nonces never reused within 24 h, SHA1withRSA sign by
// the merchant's key) and validation (envelope code 400), TF… tradeNos, a
// repeated merchantOrderNo refused with envelope code 409, insufficient
// balance as 425, payouts that settle after ProcessingDelay of sandbox time,
// and callbacks signed with the platform key, retried until the receiver
// answers the plain text SUCCESS, each retry repeating the first attempt's
// signature, nonce and timestamp, as a sender that retries a failed request
// does. Account numbers are checked per bank (BCP 13 or 14 digits,
// Interbank 13, BBVA 18, Scotiabank 10: never a 20-digit CCI).
//
// It is written from TeemoPay's documents and imports nothing of payrun's
// client: its wire types (wire.go) and its signing (sign.go) are its own,
// and it reads member names case-sensitively, so that the client's
// misreadings are refused rather than mirrored.
//
// Sandbox-only endpoints, never on a real API path:
//
//	GET  /_sandbox/ledger, GET|POST /_sandbox/faults, POST /_sandbox/advance?d=   (sandboxkit)
//	GET  /_sandbox/orders                           every order as the query reports it
//	POST /_sandbox/callback?merchantOrderNo=...      send the order's callback again
//
// Fault rules (sandboxkit.Rule) use Outcome "fail" (status 3 after
// processing, Code 1000, 1001, 1002 or 9999, default 9999; "expire", which
// TeemoPay has no state for, fails the same way), "reject"
// (status 3 in the create answer), "reverse" (success, then status 4) and
// "timeout" (processed, answer dropped).
//
//	sb := sandbox.New(sandbox.Options{WebhookURL: receiver.URL})
//	defer sb.Close()
//	srv := httptest.NewServer(sb)
//	cfg, _ := sb.Credentials().WriteFiles(t.TempDir(), srv.URL)
//	client, _ := teemopay.New(cfg, providers.Deps{Now: sb.Kit().Clock.Now})
//
// Timestamps (request window, callback headers, completeTime) are sandbox
// time: a test that moves the clock forward gives the client and its
// webhook receiver the same clock (Deps.Now, WebhookRequest.Received).
package sandbox

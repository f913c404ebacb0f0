// Package sandbox is Monnet's stand-in server: an http.Handler that speaks
// the wire protocol of Monnet's payout API, card push endpoint and Payin V3
// closely enough that the real client (package monnet) cannot tell it from
// cert.api.payout.monnet.io. It is written from Monnet's documents and
// imports nothing of the client: its wire types (wire.go) and its signing
// (auth.go, checked against the HMAC page's worked examples) are its own,
// so that the client's misreadings are refused rather than mirrored.
//
// It checks HMAC signatures (answering 401 with Monnet's code 1001), reads
// bodies case-sensitively and refuses attributes Monnet does not document
// (1035), validates them with Monnet's Peru rules and codes, requires every
// Payin V3 field and, for card methods, the card fields,
// refuses a repeated orderId with 2005 and sends the REJECTED/2005
// notification Monnet sends for the duplicate, moves payouts from
// IN_PROGRESS to SUCCESS or REJECTED over sandbox time, signs notifications
// with RSA (SHA256withRSA over merchantId + body) and retries them, and
// keeps a ledger of money moved.
//
// API paths (as the real hosts):
//
//	POST /api/v1/{merchantId}/payouts
//	GET  /api/v1/{merchantId}/payouts/{id}
//	GET  /api/v1/{merchantId}/balance
//	POST /api-payout-plus-real-time/{merchantId}
//	POST /api-payin/v3/online-payments
//	POST /ms-experience-payin/merchant/{merchantId}/operations
//
// Sandbox-only paths, all under /_sandbox/ (plus sandboxkit's ledger,
// faults and advance):
//
//	GET  /_sandbox/cardpush/{token}           the iframe (a plain form)
//	POST /_sandbox/cardpush/{token}/complete  the beneficiary submits a card: {"pan":"4...","expiry":"2030-12"}
//	GET  /_sandbox/payin/{op}                 the payment link page
//	POST /_sandbox/payin/{op}/pay             the payer pays
//	POST /_sandbox/balance?currency=PEN&minor=100000  set the merchant's balance
//
// Fault knobs of its own (sandboxkit.Faults): DuplicateAnsweredOK answers a
// resent orderId with a 2xx REJECTED/2005 body instead of the documented
// 400 (also Options.DuplicateAnsweredOK, always on); UnsignedNotifications
// sends Payin notifications with an empty payinVerification, as Monnet's
// samples show them; a Rule with Outcome "abandon" makes a card push or
// payment link one the beneficiary never acts on, whose expiry is never
// notified (a card push then never completes and no webhook ever comes;
// a link's status query still shows it expired). Without that rule an
// expired iframe is notified REJECTED with error code
// mps-payout-finished-timeout, which is the sandbox's guess.
//
// Wiring in a test:
//
//	creds, _ := sandbox.NewCredentials()
//	sb := sandbox.New(sandbox.Options{Credentials: creds, WebhookURL: sink.URL})
//	srv := httptest.NewServer(sb)
//	cfg, _ := creds.WriteFiles(t.TempDir(), srv.URL)
//	client, _ := monnet.New(cfg, providers.Deps{HTTP: srv.Client()})
package sandbox

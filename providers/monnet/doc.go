// Package monnet is payrun's client for Monnet Payments, Peru: three
// products behind one provider name.
//
//   - Payouts to bank accounts and wallets (methods bank_transfer, wallet):
//     POST /api/v1/{merchantId}/payouts, status by Monnet's numeric payout Id.
//   - Card push payouts (method card_push): POST
//     /api-payout-plus-real-time/{merchantId} returns an iframe in which the
//     beneficiary enters a VISA card; the outcome arrives by notification.
//   - Payin V3 payment links (method payment_link): a link the payer opens;
//     status by our operation number (= payout ID).
//
// Requests to the payout APIs are signed with HMAC-SHA256 (sign.go);
// timestamp and signature travel as query parameters. Payout notifications
// carry an RSA signature in the `verification` header; Payin notifications
// carry a SHA-512 payinVerification in the body. ParseWebhook serves both
// from one endpoint and tells them apart by shape.
//
// Lookup picks the product from Refs.Method: payment_link looks up by
// Refs.PayoutID (the Payin API queries by operation number, so a link can be
// found by reference alone); every other method needs Refs.ProviderID,
// Monnet's numeric payout Id, and answers ErrUnsupported without it.
// Capabilities.LookupByReference is false because it describes the
// provider as a whole, and the payouts API has no lookup by orderId.
//
// A create answer is believed only when it is clearly a new payout or a
// clear refusal; a body saying REJECTED with 2005, whatever the HTTP
// status, is ErrDuplicate; anything else is in doubt (payout.go).
// Payin notifications without a payinVerification (as in Monnet's own
// samples) come back Unverified, to be confirmed by a status query.
//
// Configuration (providers.Config): BaseURL is the payout host
// (https://cert.api.payout.monnet.io), MerchantID, APIKey and APISecret
// (references), ProviderPublicKey (Monnet's notifier certificate or public
// key, PEM, or a reference to it). Extra: payin_base_url (the Payin API's
// host, https://cert.monnetpayments.com; setting it enables payment
// links), payin_status_url (defaults to payin_base_url), payin_merchant_id,
// payin_key (reference), payin_ok_url and payin_error_url (https),
// payin_method (required: Cash, BankTransfer, BankTransfer_Businesses,
// Wallet, QR or VA; the card methods TCTD, TC and TD are refused, since
// Monnet requires the payer's card in each of their requests),
// payin_expiration_minutes (default 30, Cash 120), card_timeout_url,
// card_expiration_minutes.
//
// The registration builds the sandbox beside this package (sandbox.go), so
// this package imports it, never the other way round: it imports
// providers, money and monnet/sandbox; nothing of batch, the journal or
// anything above them.
//
//	cfg, _ := creds.WriteFiles(t.TempDir(), srv.URL) // monnet/sandbox credentials
//	c, err := monnet.New(cfg, providers.Deps{HTTP: srv.Client()})
//	st, err := c.Submit(ctx, payout)
package monnet

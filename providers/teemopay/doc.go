// Package teemopay is payrun's client of TeemoPay (TTpay), which pays Peru
// bank accounts and Yape wallets in soles (PROVIDERS.md section 3, excerpt
// 003).
//
// Every request is a POST of a JSON body with the headers app_code,
// country (PE), nonce (32 characters, never reused) and timestamp (ms); the
// body's sign field is base64 SHA1withRSA, by our private key, over the
// body's other fields sorted as k=v&... plus "&nonce=<nonce>" (sign.go).
// Callbacks are signed the same way with the platform's key and are
// acknowledged with the plain text SUCCESS. Their timestamp is not held to
// the ±30 s window TeemoPay applies to our requests: a callback retried
// with its first attempt's headers is still TeemoPay's; a replay is refused
// by its nonce, which the receiver keeps (WebhookResult.ReplayKey).
//
// Payouts are created by merchantOrderNo (payrun's payout id) and queried by
// it, so an "Order not found" answer proves a payout in doubt was never
// created: that, not a resend, is how payrun resolves doubt with TeemoPay.
// Amounts go out as decimal strings of soles, bank codes are mapped from
// Peru's SBS codes (banks.go), account numbers are checked against the
// lengths of their bank (a CCI is never sent as the account), and business
// errors arrive as envelope codes
// mapped to payrun's error taxonomy (errors.go).
//
// The sandbox package beside this one stands in for TeemoPay's host. The
// registration builds it (sandbox.go), so this package imports it, never
// the other way round: it imports providers, money and that sandbox;
// nothing of batch, the journal or anything above them.
//
//	c, err := teemopay.New(cfg, providers.Deps{HTTP: http.DefaultClient})
//	st, err := c.Submit(ctx, payout)   // Processing, tradeNo in st.Refs.ProviderID
//	st, err = c.Lookup(ctx, st.Refs)   // by merchantOrderNo
package teemopay

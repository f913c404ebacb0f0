// Package bank131 is the client of the payment-session API shared by
// Bank 131 and Smart Glocal (PROVIDERS.md section 4): one implementation,
// two registrations that differ only in host, keys and name.
//
// A payout is a session: session/create (idempotency key = payout ID, or
// ID#n for a later Attempt), session/start/payout with the widget's card
// token, then the provider prepares the payout and sends ready_to_confirm;
// nothing moves until payrun sends session/confirm (or session/cancel).
// Every request is signed: X-PARTNER-SIGN is base64 RSA-SHA256 PKCS#1 v1.5
// over the exact body bytes; webhooks carry the same header signed with
// the provider's key.
//
// Calls per payout: Smart Glocal starts it with one call,
// session/init/payout; Bank 131 with two, session/create then
// session/start/payout, as its widget scenario documents (InitPayout;
// extra.init_payout overrides either). A card_token row without a token is
// a card collection (collect.go): Submit only asks for the tokenization
// widget's public token and the payout waits for its beneficiary.
//
// Submit may return a non-zero Status alongside an error: when the session
// was created and its start failed (in particular in doubt), the Status
// carries Refs.SessionID, which callers journal so that the session is
// later confirmed or cancelled, never forgotten.
//
//	reg := bank131.SmartGlocalRegistration()
//	p, err := reg.New(providers.Config{
//		BaseURL:           bank131.SmartGlocalDemoURL,
//		MerchantID:        "my_project",
//		PrivateKey:        "file:/etc/payrun/sg_private.pem",
//		ProviderPublicKey: "file:/etc/payrun/sg_public.pem",
//	}, providers.Deps{})
//	st, err := p.Submit(ctx, payout)          // Processing, st.Refs.SessionID = "ps_..."
//	// ... ready_to_confirm (webhook or Lookup): check amount and recipient
//	st, err = p.(providers.Confirmer).Confirm(ctx, st.Refs)
//
// The sandbox in bank131/sandbox serves both providers' protocol for tests
// and the demo. The registrations build it (sandbox.go), so this package
// imports it, never the other way round: it imports providers, money and
// bank131/sandbox; nothing of batch, the journal or anything above them.
package bank131

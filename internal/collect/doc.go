// Package collect is the beneficiary's side of payouts that wait for their
// beneficiary: the card collection page of Bank 131 and Smart Glocal
// (a card_token row without a token), the links of every waiting payout
// (that page's, Monnet's card push iframes, payment links) for reports and
// the status page, and the emails that deliver them.
//
// A collection's link is {public_url}/collect/{payout_id}?e=..&s=..,
// signed with the daemon's link key (Signer, LoadKey), valid until the
// payout's link expires (Lifetimes). The page (Page) shows the provider's
// tokenization widget; the card's hashes it returns are checked with the
// provider and handed to the dispatcher (a Sender: Dispatcher.Collected,
// then SendNow), which pays them as any card_token payout. Mailer emails
// each waiting link once, and once more shortly before it expires, through
// a reports.Mailer and the journal's mail queue, which keeps each message
// once however often the pass runs.
//
//	signer, _ := collect.NewSigner(cfg.Serve.PublicURL, key)
//	page := collect.NewPage(collect.PageOptions{Journal: j, Providers: provs, Sender: dispatcher, Signer: signer})
//	mux.Handle(collect.PathPrefix, page)
//
// It sits above dispatch and reports and below internal/app and
// internal/daemon: it imports dispatch, reports, journal and the providers'
// contract; nothing of internal/config, internal/app, internal/daemon or
// cmd.
package collect

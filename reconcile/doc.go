// Package reconcile is where the truth about every payout is established:
// the webhook receiver (verify, persist, acknowledge), the status poller
// (ask the provider about what is still open) and the matcher, which places
// every input row in exactly one Category, totals them per currency and
// provider, and proves the tie-out (input total, as ingest recorded it =
// sum of categories, from the rows placed).
//
// How it fits: providers verify and parse; package journal keeps the items
// and checks every change against the state graph (journal.ApplyTo); this
// package decides what a provider fact means for an item (ordering rules,
// the two-phase confirm rule through dispatch.Settle, status conflicts) and
// what an accountant sees.
//
//   - Receiver serves POST /webhooks/{provider}: 404 for an unknown
//     provider, 413 beyond MaxBody, 401 when the provider's verification
//     fails (nothing changes), the raw event made durable in the journal
//     before the acknowledgement (a request sent again verbatim changes
//     nothing); the answer is exactly the provider's Ack.
//
//   - Applier applies the queued events in order, once each, many to a
//     transaction (the Receiver runs one between Start and Stop);
//     Receiver.Drain waits for it.
//
//   - Poller.RunOnce asks about items not final once they are due (After
//     their last update, then a doubling Interval up to Max), through the
//     dispatcher's rate limits (PollOptions.Wait for a query, Urgent for
//     a confirm sent again), and hands in-doubt items to the dispatcher's
//     resolver. Poller.Sweep asks at once about every item waiting for a
//     result or a confirmation, or in doubt (a process's start-up); Follow
//     polls batches until none of their payouts needs payrun, or a wait has
//     passed.
//
//   - Match reads the journal for a Scope (a batch, a day, open items) and
//     returns a Result that the reports package renders; MatchLines hands
//     the lines over one at a time instead of keeping them.
//
// It imports journal, dispatch and the providers' contract; nothing of
// reports, internal/config, internal/app, internal/daemon or cmd.
//
// In outline (the scheduler, not the poller, decides when a pass runs):
//
//	recv := reconcile.NewReceiver(j, provs, reconcile.ReceiverOptions{MaxBody: 256 << 10, Log: log, Settle: disp.SettleLater})
//	if err := recv.Start(ctx); err != nil { // starts its Applier
//		return err
//	}
//	defer recv.Stop()
//	mux.Handle(reconcile.WebhookPattern, recv)
//	poller := reconcile.NewPoller(j, provs, reconcile.PollOptions{Wait: disp.Wait, Urgent: disp.WaitUrgent, ResolveInDoubt: disp.ResolveInDoubt, Settle: disp.Settle})
//	stats, err := poller.RunOnce(ctx)
//	res, err := reconcile.Match(ctx, j, reconcile.Scope{Date: "2026-11-21", Open: true}, time.Now(), reconcile.MatchOptions{Location: lima})
//	if !res.Balanced() { /* a row was lost or counted twice: a bug */ }
package reconcile

// Package app is what payrun runs from its configuration, shared by the
// one-shot commands and the daemon: the journal opened where the
// configuration says, the provider clients, dispatcher, poller and mailer
// built from it, and the operations composed of them (the pre-flight gate
// with its approvals folder, sending, following, the report run).
//
// It decides no policy of its own: the rules are in the domain packages
// (journal, dispatch, reconcile, reports); here they are given their
// configuration. It imports the domain packages, internal/collect and
// internal/config, and nothing of internal/daemon or cmd.
//
//	a, err := app.New(cfg, j, log)
//	if err != nil {
//		return err
//	}
//	gate, err := a.Gate(ctx, batchID)   // pre-flight message; held or not
//	sum, err := a.Dispatcher.Run(ctx, []string{batchID}, nil)
//	open, err := a.Follow(ctx, []string{batchID}, 10*time.Minute)
package app

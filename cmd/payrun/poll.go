package main

import (
	"context"
	"time"

	"github.com/payrun/payrun/reconcile"
)

// newPoller builds the status poller sharing the dispatcher's rate limits
// and in-doubt resolution. interactive polls sooner (a person is waiting).
func (rt *app) newPoller(interactive bool) *reconcile.Poller {
	o := reconcile.PollOptions{
		After:          rt.cfg.Reconcile.PollAfter,
		Interval:       rt.cfg.Reconcile.PollInterval,
		Max:            rt.cfg.Reconcile.PollMax,
		Wait:           rt.disp.Wait,
		ResolveInDoubt: rt.disp.ResolveInDoubt,
		Log:            rt.log,
	}
	if interactive {
		o.After, o.Interval, o.Max = -1, 300*time.Millisecond, 5*time.Second
	}
	return reconcile.NewPoller(rt.j, rt.provs, o)
}

// poller returns one polling pass for follow.
func (rt *app) poller() func(context.Context) error {
	p := rt.newPoller(true)
	return func(ctx context.Context) error {
		_, err := p.RunOnce(ctx)
		return err
	}
}

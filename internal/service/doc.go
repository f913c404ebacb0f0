// Package service is the one lifecycle every long-running part of payrun
// shares (the webhook receiver and its applier, the folder intake, the
// scheduler, the HTTP server, the daemon that orders them): a constructor
// that starts nothing, Start(ctx) that starts the work and returns once it
// runs, and Stop that ends it, waits for its goroutines and may be called
// more than once. Cancelling Start's context stops the work too; Stop
// still waits for it.
//
// It imports nothing of payrun's.
package service
